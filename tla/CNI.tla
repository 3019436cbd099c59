--------------------------------- MODULE CNI ---------------------------------
(***************************************************************************)
(* The CNI attachment machine (cni/cni_fsm.c, "cni" v1): ADD chain,        *)
(* rollback of a failed ADD, CHECK, DEL, idempotent DEL.  One TLA+ action  *)
(* per table row, named CNI_<FROM>_<EVENT>, a guarded row with its guard's *)
(* name (cni_guard_more: _more, cni_guard_has_config: _has_config) before  *)
(* the unguarded row it pairs with; CNI_Reject: an event with no row.      *)
(* Guards are free choices.  Fallible actions (cni_act_begin_add/check/    *)
(* del, cni_act_add_done, cni_act_del_done) may fail: the state stays and  *)
(* FAIL is posted.  cached is the cache entry; notified counts on_done.    *)
(***************************************************************************)
EXTENDS Naturals, Sequences

States == {"IDLE", "ADDING", "ATTACHED", "CHECKING", "ROLLING_BACK",
           "DELETING", "DETACHED", "FAILED"}
Events == {"ADD", "CHECK", "DEL", "PLUGIN_OK", "PLUGIN_FAILED", "TIMEOUT",
           "FAIL"}
Waiting == {"ADDING", "CHECKING", "ROLLING_BACK", "DELETING"}
Caller == {"ADD", "CHECK", "DEL"}

R(f, e, a, t) == [from |-> f, ev |-> e, act |-> a, to |-> t]
Rows == <<
  R("IDLE", "ADD", "cni_act_begin_add", "ADDING"),
  R("IDLE", "CHECK", "cni_act_begin_check", "CHECKING"),
  R("IDLE", "DEL", "cni_act_begin_del", "DELETING"),
  R("IDLE", "DEL", "cni_act_nothing_to_delete", "DETACHED"),
  R("IDLE", "FAIL", "cni_act_report", "SAME"),
  R("ADDING", "PLUGIN_OK", "cni_act_next", "SAME"),
  R("ADDING", "PLUGIN_OK", "cni_act_add_done", "ATTACHED"),
  R("ADDING", "PLUGIN_FAILED", "cni_act_rollback", "ROLLING_BACK"),
  R("ADDING", "TIMEOUT", "cni_act_rollback", "ROLLING_BACK"),
  R("ADDING", "FAIL", "cni_act_rollback", "ROLLING_BACK"),
  R("ROLLING_BACK", "PLUGIN_OK", "cni_act_next", "SAME"),
  R("ROLLING_BACK", "PLUGIN_OK", "cni_act_rolled_back", "FAILED"),
  R("ROLLING_BACK", "PLUGIN_FAILED", "cni_act_next", "SAME"),
  R("ROLLING_BACK", "PLUGIN_FAILED", "cni_act_rolled_back", "FAILED"),
  R("ROLLING_BACK", "TIMEOUT", "cni_act_next", "SAME"),
  R("ROLLING_BACK", "TIMEOUT", "cni_act_rolled_back", "FAILED"),
  R("ROLLING_BACK", "FAIL", "cni_act_rolled_back", "FAILED"),
  R("ATTACHED", "CHECK", "cni_act_begin_check", "CHECKING"),
  R("ATTACHED", "DEL", "cni_act_begin_del", "DELETING"),
  R("ATTACHED", "FAIL", "cni_act_report", "SAME"),
  R("CHECKING", "PLUGIN_OK", "cni_act_next", "SAME"),
  R("CHECKING", "PLUGIN_OK", "cni_act_check_done", "ATTACHED"),
  R("CHECKING", "PLUGIN_FAILED", "cni_act_check_failed", "ATTACHED"),
  R("CHECKING", "TIMEOUT", "cni_act_check_failed", "ATTACHED"),
  R("CHECKING", "FAIL", "cni_act_check_failed", "ATTACHED"),
  R("DELETING", "PLUGIN_OK", "cni_act_next", "SAME"),
  R("DELETING", "PLUGIN_OK", "cni_act_del_done", "DETACHED"),
  R("DELETING", "PLUGIN_FAILED", "cni_act_del_failed", "FAILED"),
  R("DELETING", "TIMEOUT", "cni_act_del_failed", "FAILED"),
  R("DELETING", "FAIL", "cni_act_del_failed", "FAILED"),
  R("FAILED", "DEL", "cni_act_begin_del", "DELETING"),
  R("FAILED", "FAIL", "cni_act_report", "SAME"),
  R("DETACHED", "DEL", "cni_act_nothing_to_delete", "SAME"),
  R("DETACHED", "FAIL", "", "SAME")
>>
HasRow(s, e) == \E i \in DOMAIN Rows : Rows[i].ev = e /\ Rows[i].from = s

VARIABLES
  cniState,   \* fsm.state
  hasConfig,  \* a conflist given or found in the cache (fixed at new)
  cached,     \* the cache entry exists
  started,    \* operations a row accepted (each ends in one on_done)
  notified,   \* on_done calls
  queue       \* events for this machine, not yet dispatched

vars == <<cniState, hasConfig, cached, started, notified, queue>>

TypeOK ==
  /\ cniState \in States
  /\ hasConfig \in BOOLEAN
  /\ cached \in BOOLEAN
  /\ started \in Nat /\ notified \in Nat
  /\ queue \in Seq(Events)

Init ==
  /\ cniState = "IDLE"
  /\ hasConfig \in BOOLEAN
  /\ cached = FALSE
  /\ started = 0 /\ notified = 0
  /\ queue = << >>

----------------------------------------------------------------------------
Recv(e) == queue # << >> /\ Head(queue) = e
To(s, t) == cniState' = (IF t = "SAME" THEN s ELSE t)

(* A row that cannot fail: st starts an operation, nt tells the owner.    *)
Row(s, e, t, st, nt, c) ==
  /\ Recv(e) /\ cniState = s /\ To(s, t)
  /\ queue' = Tail(queue)
  /\ started' = started + st /\ notified' = notified + nt
  /\ cached' = c
  /\ UNCHANGED hasConfig

(* A fallible row: as Row, or the state stays and FAIL follows.           *)
Fallible(s, e, t, st, nt, c) ==
  \/ Row(s, e, t, st, nt, c)
  \/ /\ Recv(e) /\ cniState = s
     /\ queue' = Append(Tail(queue), "FAIL")
     /\ started' = started + st
     /\ UNCHANGED <<cniState, hasConfig, cached, notified>>

CNI_IDLE_ADD_has_config   == hasConfig /\ Fallible("IDLE", "ADD", "ADDING", 1, 0, cached)
CNI_IDLE_CHECK_has_config == hasConfig /\ Fallible("IDLE", "CHECK", "CHECKING", 1, 0, cached)
CNI_IDLE_DEL_has_config   == hasConfig /\ Fallible("IDLE", "DEL", "DELETING", 1, 0, cached)
CNI_IDLE_DEL              == ~hasConfig /\ Row("IDLE", "DEL", "DETACHED", 1, 1, cached)
CNI_IDLE_FAIL             == Row("IDLE", "FAIL", "SAME", 0, 1, cached)
CNI_ADDING_PLUGIN_OK_more == Row("ADDING", "PLUGIN_OK", "SAME", 0, 0, cached)
CNI_ADDING_PLUGIN_OK      == Fallible("ADDING", "PLUGIN_OK", "ATTACHED", 0, 1, TRUE)
CNI_ADDING_PLUGIN_FAILED  == Row("ADDING", "PLUGIN_FAILED", "ROLLING_BACK", 0, 0, cached)
CNI_ADDING_TIMEOUT        == Row("ADDING", "TIMEOUT", "ROLLING_BACK", 0, 0, cached)
CNI_ADDING_FAIL           == Row("ADDING", "FAIL", "ROLLING_BACK", 0, 0, cached)
CNI_ROLLING_BACK_PLUGIN_OK_more     == Row("ROLLING_BACK", "PLUGIN_OK", "SAME", 0, 0, cached)
CNI_ROLLING_BACK_PLUGIN_OK          == Row("ROLLING_BACK", "PLUGIN_OK", "FAILED", 0, 1, FALSE)
CNI_ROLLING_BACK_PLUGIN_FAILED_more == Row("ROLLING_BACK", "PLUGIN_FAILED", "SAME", 0, 0, cached)
CNI_ROLLING_BACK_PLUGIN_FAILED      == Row("ROLLING_BACK", "PLUGIN_FAILED", "FAILED", 0, 1, FALSE)
CNI_ROLLING_BACK_TIMEOUT_more       == Row("ROLLING_BACK", "TIMEOUT", "SAME", 0, 0, cached)
CNI_ROLLING_BACK_TIMEOUT            == Row("ROLLING_BACK", "TIMEOUT", "FAILED", 0, 1, FALSE)
CNI_ROLLING_BACK_FAIL               == Row("ROLLING_BACK", "FAIL", "FAILED", 0, 1, FALSE)
CNI_ATTACHED_CHECK        == Fallible("ATTACHED", "CHECK", "CHECKING", 1, 0, cached)
CNI_ATTACHED_DEL          == Fallible("ATTACHED", "DEL", "DELETING", 1, 0, cached)
CNI_ATTACHED_FAIL         == Row("ATTACHED", "FAIL", "SAME", 0, 1, cached)
CNI_CHECKING_PLUGIN_OK_more == Row("CHECKING", "PLUGIN_OK", "SAME", 0, 0, cached)
CNI_CHECKING_PLUGIN_OK    == Row("CHECKING", "PLUGIN_OK", "ATTACHED", 0, 1, cached)
CNI_CHECKING_PLUGIN_FAILED == Row("CHECKING", "PLUGIN_FAILED", "ATTACHED", 0, 1, cached)
CNI_CHECKING_TIMEOUT      == Row("CHECKING", "TIMEOUT", "ATTACHED", 0, 1, cached)
CNI_CHECKING_FAIL         == Row("CHECKING", "FAIL", "ATTACHED", 0, 1, cached)
CNI_DELETING_PLUGIN_OK_more == Row("DELETING", "PLUGIN_OK", "SAME", 0, 0, cached)
CNI_DELETING_PLUGIN_OK    == Fallible("DELETING", "PLUGIN_OK", "DETACHED", 0, 1, FALSE)
CNI_DELETING_PLUGIN_FAILED == Row("DELETING", "PLUGIN_FAILED", "FAILED", 0, 1, cached)
CNI_DELETING_TIMEOUT      == Row("DELETING", "TIMEOUT", "FAILED", 0, 1, cached)
CNI_DELETING_FAIL         == Row("DELETING", "FAIL", "FAILED", 0, 1, cached)
CNI_FAILED_DEL            == Fallible("FAILED", "DEL", "DELETING", 1, 0, cached)
CNI_FAILED_FAIL           == Row("FAILED", "FAIL", "SAME", 0, 1, cached)
CNI_DETACHED_DEL          == Row("DETACHED", "DEL", "SAME", 1, 1, cached)
CNI_DETACHED_FAIL         == Row("DETACHED", "FAIL", "SAME", 0, 0, cached)

CNI_Reject ==
  /\ queue # << >>
  /\ ~HasRow(cniState, Head(queue))
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<cniState, hasConfig, cached, started, notified>>

Dispatch ==
  \/ CNI_IDLE_ADD_has_config \/ CNI_IDLE_CHECK_has_config
  \/ CNI_IDLE_DEL_has_config \/ CNI_IDLE_DEL \/ CNI_IDLE_FAIL
  \/ CNI_ADDING_PLUGIN_OK_more \/ CNI_ADDING_PLUGIN_OK
  \/ CNI_ADDING_PLUGIN_FAILED \/ CNI_ADDING_TIMEOUT \/ CNI_ADDING_FAIL
  \/ CNI_ROLLING_BACK_PLUGIN_OK_more \/ CNI_ROLLING_BACK_PLUGIN_OK
  \/ CNI_ROLLING_BACK_PLUGIN_FAILED_more \/ CNI_ROLLING_BACK_PLUGIN_FAILED
  \/ CNI_ROLLING_BACK_TIMEOUT_more \/ CNI_ROLLING_BACK_TIMEOUT
  \/ CNI_ROLLING_BACK_FAIL
  \/ CNI_ATTACHED_CHECK \/ CNI_ATTACHED_DEL \/ CNI_ATTACHED_FAIL
  \/ CNI_CHECKING_PLUGIN_OK_more \/ CNI_CHECKING_PLUGIN_OK
  \/ CNI_CHECKING_PLUGIN_FAILED \/ CNI_CHECKING_TIMEOUT \/ CNI_CHECKING_FAIL
  \/ CNI_DELETING_PLUGIN_OK_more \/ CNI_DELETING_PLUGIN_OK
  \/ CNI_DELETING_PLUGIN_FAILED \/ CNI_DELETING_TIMEOUT \/ CNI_DELETING_FAIL
  \/ CNI_FAILED_DEL \/ CNI_FAILED_FAIL
  \/ CNI_DETACHED_DEL \/ CNI_DETACHED_FAIL
  \/ CNI_Reject

(* The caller asks between operations; a plugin ends while one runs; the  *)
(* deadline fires only in a waiting state.                                *)
World ==
  /\ queue = << >>
  /\ \/ /\ cniState \notin Waiting
        /\ \E e \in Caller : queue' = << e >>
     \/ /\ cniState \in Waiting
        /\ \E e \in {"PLUGIN_OK", "PLUGIN_FAILED"} : queue' = << e >>
  /\ UNCHANGED <<cniState, hasConfig, cached, started, notified>>

Timer ==
  /\ cniState \in Waiting
  /\ queue = << >>
  /\ queue' = << "TIMEOUT" >>
  /\ UNCHANGED <<cniState, hasConfig, cached, started, notified>>

Next == Dispatch \/ World \/ Timer

Spec == Init /\ [][Next]_vars /\ WF_vars(Dispatch) /\ WF_vars(Timer)

----------------------------------------------------------------------------
WaitingStatesTimeout ==
  \A s \in Waiting : \E i \in DOMAIN Rows :
    Rows[i].ev = "TIMEOUT" /\ Rows[i].from = s

(* Nothing left half-done: no cache entry once rolled back or detached.   *)
NoCacheAfterRollback == cniState \in {"ROLLING_BACK", "DETACHED"} => ~cached
(* Each accepted operation tells its owner at most once.                  *)
AnswerPerOperation == notified <= started
DetachedIsFinal == [][cniState = "DETACHED" => cniState' = "DETACHED"]_vars
EveryWaitingStateLeft == \A s \in Waiting : (cniState = s) ~> (cniState # s)
===============================================================================
