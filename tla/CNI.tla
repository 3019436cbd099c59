--------------------------------- MODULE CNI ---------------------------------
(***************************************************************************)
(* The CNI attachment machine (cni/cni_fsm.c, "cni"): ADD chain, rollback  *)
(* of a failed ADD, CHECK, DEL, idempotent DEL.  The table is generated    *)
(* from the C by `kiln-fsm tla cni` into tla/gen/CNIRows.tla; this module  *)
(* interprets it with the engine's rules from that module (Select: the     *)
(* first matching row whose guard holds; Target: "SAME" keeps the state)   *)
(* and adds the environment and the properties.                            *)
(*                                                                         *)
(* Guards: cni_guard_has_config reads hasConfig (a conflist given or found *)
(* in the cache, fixed when the attachment is made); cni_guard_more says   *)
(* whether plugins of the chain are left, a free choice at each dispatch.  *)
(* Fallible actions (begin_add/check/del, add_done, del_done) may fail:    *)
(* the state stays and FAIL is posted.  cached is the cache entry;         *)
(* started counts operations a row accepted (failed ones too: the FAIL row *)
(* answers them), notified the on_done calls.                              *)
(***************************************************************************)
EXTENDS Naturals, Sequences, CNIRows

Begins == {"cni_act_begin_add", "cni_act_begin_check", "cni_act_begin_del",
           "cni_act_nothing_to_delete"}      \* an operation is accepted
Answers == {"cni_act_add_done", "cni_act_rolled_back", "cni_act_check_done",
            "cni_act_check_failed", "cni_act_del_done", "cni_act_del_failed",
            "cni_act_nothing_to_delete", "cni_act_report"}  \* on_done
Caches == {"cni_act_add_done"}                  \* the cache entry written
Uncaches == {"cni_act_rolled_back", "cni_act_del_done"}  \* ... removed
Quiet == {"cni_act_next", "cni_act_rollback"}
Fallible == {"cni_act_begin_add", "cni_act_begin_check", "cni_act_begin_del",
             "cni_act_add_done", "cni_act_del_done"}

ASSUME Actions = Begins \union Answers \union Quiet
ASSUME Fallible \subseteq Actions
ASSUME Guards = {"cni_guard_has_config", "cni_guard_more"}
ASSUME WaitingStatesTimeout

Caller == {"ADD", "CHECK", "DEL"}

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
  /\ cniState = Initial
  /\ hasConfig \in BOOLEAN
  /\ cached = FALSE
  /\ started = 0 /\ notified = 0
  /\ queue = << >>

----------------------------------------------------------------------------
(* The guards that may hold at a dispatch: has_config as read, more free.  *)
GSChoices ==
  { (IF hasConfig THEN {"cni_guard_has_config"} ELSE {}) \union m :
      m \in {{}, {"cni_guard_more"}} }

One(b) == IF b THEN 1 ELSE 0
AfterFail(e) == IF PostsFail(e) THEN << FailEvent >> ELSE << >>

Fire ==
  /\ queue # << >>
  /\ \E gs \in GSChoices :
       /\ CanSelect(cniState, Head(queue), gs)
       /\ LET i == Select(cniState, Head(queue), gs)
              a == Rows[i].act
          IN /\ cniState' = Target(i, cniState)
             /\ started' = started + One(a \in Begins)
             /\ notified' = notified + One(a \in Answers)
             /\ cached' = IF a \in Caches THEN TRUE
                          ELSE IF a \in Uncaches THEN FALSE ELSE cached
             /\ queue' = Tail(queue)
  /\ UNCHANGED hasConfig

(* A failed operation was still accepted: its FAIL row answers it.        *)
FireFails ==
  /\ queue # << >>
  /\ \E gs \in GSChoices :
       /\ CanSelect(cniState, Head(queue), gs)
       /\ LET a == Rows[Select(cniState, Head(queue), gs)].act
          IN /\ a \in Fallible
             /\ started' = started + One(a \in Begins)
  /\ queue' = Tail(queue) \o AfterFail(Head(queue))
  /\ UNCHANGED <<cniState, hasConfig, cached, notified>>

Reject ==
  /\ queue # << >>
  /\ \E gs \in GSChoices : ~CanSelect(cniState, Head(queue), gs)
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<cniState, hasConfig, cached, started, notified>>

Dispatch == Fire \/ FireFails \/ Reject

(* The caller asks between operations; a plugin ends while one runs; the  *)
(* deadline fires only in a waiting state, between drains.                *)
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
  /\ queue' = << TimeoutEvent >>
  /\ UNCHANGED <<cniState, hasConfig, cached, started, notified>>

Next == Dispatch \/ World \/ Timer

Spec == Init /\ [][Next]_vars /\ WF_vars(Dispatch) /\ SF_vars(Timer)

----------------------------------------------------------------------------
(* WaitingStatesTimeout (CNIRows) is an ASSUME above: a constant formula. *)

(* Nothing left half-done: no cache entry once rolled back or detached.   *)
NoCacheAfterRollback == (cniState \in {"ROLLING_BACK", "DETACHED"}) => ~cached
(* Each accepted operation tells its owner at most once.                  *)
AnswerPerOperation == notified <= started
DetachedIsFinal == [][(cniState = "DETACHED") => (cniState' = "DETACHED")]_vars
EveryWaitingStateLeft == \A s \in Waiting : (cniState = s) ~> (cniState # s)
===============================================================================
