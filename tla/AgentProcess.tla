----------------------------- MODULE AgentProcess -----------------------------
(***************************************************************************)
(* The agent's machines (guest/agent_process_fsm.c "agent_process" and     *)
(* guest/agent_container_fsm.c "agent_container"): one container, its init *)
(* process and one exec.  One TLA+ action per table row and process, named *)
(* Proc_<FROM>_<EVENT>[_<guard>](p) and Ctr_<FROM>_<EVENT> (FROM is ANY    *)
(* for an FSM_ANY row; the guard suffix is the C guard minus               *)
(* "proc_guard_").  Proc_Reject / Ctr_Reject: an event with no row.        *)
(*                                                                         *)
(* Coupling (posted events, one fsm_env): the init process tells the       *)
(* container INIT_CREATED (proc_act_created) and INIT_STOPPED              *)
(* (proc_never_ran, proc_act_finish).  The host's RPCs, crun helpers, the  *)
(* process exit, its pipes' EOF and the timers are the open world.         *)
(***************************************************************************)
EXTENDS Naturals, Sequences

Procs == {"init", "exec"}
IsInit(p) == p = "init"

PStates == {"NEW", "CREATING", "CREATED", "STARTING", "RUNNING", "DRAINING", "STOPPED"}
PEvents == {"CREATE", "HELPER_OK", "HELPER_FAILED", "START", "EXITED", "IO_DONE",
            "TIMEOUT", "FAIL"}
PWaiting == {"CREATING", "STARTING", "DRAINING"}

(* agent_container: guest/agent_container_fsm.c fsm_def.version 3 (the    *)
(* cgroup freezer: PAUSING waits for FROZEN, with a TIMEOUT row; v3: a     *)
(* TIMEOUT whose thaw fails goes on to PAUSED through the FAIL row).       *)
CStates == {"NEW", "PREPARED", "ACTIVE", "PAUSING", "PAUSED", "STOPPED",
            "REMOVING", "REMOVED"}
CEvents == {"PREPARE", "INIT_CREATED", "INIT_STOPPED", "EXEC", "PAUSE", "FROZEN",
            "RESUME", "REMOVE", "HELPER_OK", "HELPER_FAILED", "TIMEOUT", "FAIL"}
CWaiting == {"PAUSING", "REMOVING"}

R(f, e, g, a, t) == [from |-> f, ev |-> e, guard |-> g, act |-> a, to |-> t]
ProcRows == <<
  R("NEW", "CREATE", "proc_guard_is_exec", "proc_act_write_exec", "CREATED"),
  R("NEW", "CREATE", "", "proc_act_spawn_create", "CREATING"),
  R("NEW", "FAIL", "", "proc_act_stopped", "STOPPED"),
  R("CREATING", "HELPER_OK", "proc_guard_exited", "proc_act_created", "DRAINING"),
  R("CREATING", "HELPER_OK", "", "proc_act_created", "CREATED"),
  R("CREATING", "HELPER_FAILED", "", "proc_act_create_failed", "STOPPED"),
  R("CREATING", "TIMEOUT", "", "proc_act_create_failed", "STOPPED"),
  R("CREATING", "EXITED", "", "proc_act_record_exit", "SAME"),
  R("CREATING", "IO_DONE", "", "", "SAME"),
  R("CREATED", "START", "proc_guard_is_exec", "proc_act_spawn_exec", "STARTING"),
  R("CREATED", "START", "", "proc_act_spawn_start", "STARTING"),
  R("CREATED", "EXITED", "", "proc_act_exited", "DRAINING"),
  R("CREATED", "IO_DONE", "", "", "SAME"),
  R("STARTING", "HELPER_OK", "proc_guard_exited", "proc_act_started", "DRAINING"),
  R("STARTING", "HELPER_OK", "", "proc_act_started", "RUNNING"),
  R("STARTING", "HELPER_FAILED", "", "proc_act_start_failed", "STOPPED"),
  R("STARTING", "TIMEOUT", "", "proc_act_start_failed", "STOPPED"),
  R("STARTING", "EXITED", "", "proc_act_record_exit", "SAME"),
  R("STARTING", "IO_DONE", "", "", "SAME"),
  R("RUNNING", "EXITED", "", "proc_act_exited", "DRAINING"),
  R("RUNNING", "IO_DONE", "", "", "SAME"),
  R("DRAINING", "IO_DONE", "", "proc_act_finish", "STOPPED"),
  R("DRAINING", "TIMEOUT", "", "proc_act_finish", "STOPPED"),
  R("STOPPED", "EXITED", "", "", "SAME"),
  R("STOPPED", "IO_DONE", "", "", "SAME"),
  R("STOPPED", "HELPER_OK", "", "", "SAME"),
  R("STOPPED", "HELPER_FAILED", "", "", "SAME"),
  R("STOPPED", "TIMEOUT", "", "", "SAME"),
  R("ANY", "FAIL", "", "", "SAME")
>>
CtrRows == <<
  R("NEW", "PREPARE", "", "ctr_act_prepare", "PREPARED"),
  R("NEW", "FAIL", "", "ctr_act_cleanup", "REMOVED"),
  R("PREPARED", "INIT_CREATED", "", "ctr_act_active", "ACTIVE"),
  R("PREPARED", "INIT_STOPPED", "", "", "STOPPED"),
  R("PREPARED", "REMOVE", "", "ctr_act_remove", "REMOVING"),
  R("ACTIVE", "INIT_STOPPED", "", "", "STOPPED"),
  R("ACTIVE", "EXEC", "", "", "SAME"),
  R("ACTIVE", "PAUSE", "", "ctr_act_freeze", "PAUSING"),
  R("PAUSING", "FROZEN", "", "ctr_act_frozen", "PAUSED"),
  R("PAUSING", "TIMEOUT", "", "ctr_act_freeze_failed", "ACTIVE"),
  R("PAUSING", "INIT_STOPPED", "", "ctr_act_stopped_pausing", "STOPPED"),
  R("PAUSING", "FAIL", "", "", "PAUSED"),
  R("PAUSED", "RESUME", "", "ctr_act_thaw", "ACTIVE"),
  R("PAUSED", "INIT_STOPPED", "", "", "STOPPED"),
  R("STOPPED", "REMOVE", "", "ctr_act_remove", "REMOVING"),
  R("REMOVING", "HELPER_OK", "", "ctr_act_cleanup", "REMOVED"),
  R("REMOVING", "HELPER_FAILED", "", "ctr_act_cleanup", "REMOVED"),
  R("REMOVING", "TIMEOUT", "", "ctr_act_cleanup", "REMOVED"),
  R("REMOVING", "INIT_STOPPED", "", "", "SAME"),
  R("ANY", "FAIL", "", "", "SAME")
>>

HasRow(rows, s, e) == \E i \in DOMAIN rows : rows[i].ev = e /\ rows[i].from \in {s, "ANY"}

Targets == Procs \union {"ctr"}
M(to, ev) == [to |-> to, ev |-> ev]
Msgs == {M(p, e) : p \in Procs, e \in PEvents} \union {M("ctr", e) : e \in CEvents}

VARIABLES
  procState,     \* [Procs -> PStates]
  exited,        \* p->exited (read by proc_guard_exited)
  ioDone,        \* p->io_done: the output pipes reached EOF
  helper,        \* a crun helper of the process is running
  exitReported,  \* agent_push_exit_event() calls, per process
  ctrState,      \* the container
  ctrHelper,     \* crun delete is running
  freeze,        \* cgroup.freeze of the container was last written "1"
  freezePoll,    \* c->freeze_poll is armed (it posts FROZEN once frozen)
  pauseCall,     \* c->pending holds the host's PauseContainer, unanswered
  queue          \* the fsm_env run queue

vars == <<procState, exited, ioDone, helper, exitReported, ctrState, ctrHelper,
          freeze, freezePoll, pauseCall, queue>>
fvars == <<freeze, freezePoll, pauseCall>>
pvars == <<exited, ioDone, helper, exitReported>>

TypeOK ==
  /\ procState \in [Procs -> PStates]
  /\ exited \in [Procs -> BOOLEAN]
  /\ ioDone \in [Procs -> BOOLEAN]
  /\ helper \in [Procs -> BOOLEAN]
  /\ exitReported \in [Procs -> Nat]
  /\ ctrState \in CStates
  /\ ctrHelper \in BOOLEAN
  /\ freeze \in BOOLEAN
  /\ freezePoll \in BOOLEAN
  /\ pauseCall \in BOOLEAN
  /\ queue \in Seq(Msgs)

Init ==
  /\ procState = [p \in Procs |-> "NEW"]
  /\ exited = [p \in Procs |-> FALSE]
  /\ ioDone = [p \in Procs |-> FALSE]
  /\ helper = [p \in Procs |-> FALSE]
  /\ exitReported = [p \in Procs |-> 0]
  /\ ctrState = "NEW"
  /\ ctrHelper = FALSE
  /\ freeze = FALSE
  /\ freezePoll = FALSE
  /\ pauseCall = FALSE
  /\ queue = << >>

----------------------------------------------------------------------------
Pending(m) == \E i \in DOMAIN queue : queue[i] = m

PRecv(p, e) == queue # << >> /\ Head(queue) = M(p, e)
CRecv(e) == queue # << >> /\ Head(queue) = M("ctr", e)
PGo(p, s, posted) ==
  /\ procState' = [procState EXCEPT ![p] = s]
  /\ queue' = Tail(queue) \o posted
PSame(p, posted) == PGo(p, procState[p], posted)
CGo(s, posted) == ctrState' = s /\ queue' = Tail(queue) \o posted

ToCtr(p, e) == IF IsInit(p) THEN << M("ctr", e) >> ELSE << >>
(* proc_begin_drain: IO_DONE again if the pipes are already at EOF.        *)
Drain(p) == IF ioDone[p] THEN << M(p, "IO_DONE") >> ELSE << >>

(* proc_never_ran: exit 255 recorded; the container hears INIT_STOPPED.    *)
NeverRan(p, e, s) ==
  /\ PRecv(p, e)
  /\ procState[p] = s
  /\ PGo(p, "STOPPED", ToCtr(p, "INIT_STOPPED"))
  /\ exited' = [exited EXCEPT ![p] = TRUE]
  /\ helper' = [helper EXCEPT ![p] = FALSE]
  /\ UNCHANGED <<ioDone, exitReported, ctrState, ctrHelper, fvars>>

PIgnore(p, s, e) ==
  /\ PRecv(p, e)
  /\ procState[p] = s
  /\ PSame(p, << >>)
  /\ UNCHANGED <<pvars, ctrState, ctrHelper, fvars>>

(* A fallible action that starts a crun helper.                            *)
SpawnHelper(p, e, s, to) ==
  /\ PRecv(p, e)
  /\ procState[p] = s
  /\ \/ PGo(p, to, << >>) /\ helper' = [helper EXCEPT ![p] = TRUE]
     \/ PSame(p, << M(p, "FAIL") >>) /\ UNCHANGED helper
  /\ UNCHANGED <<exited, ioDone, exitReported, ctrState, ctrHelper, fvars>>

----------------------------------------------------------------------------
(* agent_process rows, in table order, for each process p.                 *)

Proc_NEW_CREATE_is_exec(p) ==              \* proc_act_write_exec
  /\ PRecv(p, "CREATE")
  /\ procState[p] = "NEW"
  /\ ~IsInit(p)
  /\ \/ PGo(p, "CREATED", << >>)
     \/ PSame(p, << M(p, "FAIL") >>)
  /\ UNCHANGED <<pvars, ctrState, ctrHelper, fvars>>

Proc_NEW_CREATE(p) == IsInit(p) /\ SpawnHelper(p, "CREATE", "NEW", "CREATING")
Proc_NEW_FAIL(p) == NeverRan(p, "FAIL", "NEW")   \* proc_act_stopped

Created(p, to) ==                          \* proc_act_created
  /\ PRecv(p, "HELPER_OK")
  /\ procState[p] = "CREATING"
  /\ PGo(p, to, ToCtr(p, "INIT_CREATED") \o (IF exited[p] THEN Drain(p) ELSE << >>))
  /\ helper' = [helper EXCEPT ![p] = FALSE]
  /\ UNCHANGED <<exited, ioDone, exitReported, ctrState, ctrHelper, fvars>>

Proc_CREATING_HELPER_OK_exited(p) == exited[p] /\ Created(p, "DRAINING")
Proc_CREATING_HELPER_OK(p) == ~exited[p] /\ Created(p, "CREATED")
Proc_CREATING_HELPER_FAILED(p) == NeverRan(p, "HELPER_FAILED", "CREATING")
Proc_CREATING_TIMEOUT(p) == NeverRan(p, "TIMEOUT", "CREATING")

RecordExit(p, s) ==                        \* proc_act_record_exit
  /\ PRecv(p, "EXITED")
  /\ procState[p] = s
  /\ PSame(p, << >>)
  /\ exited' = [exited EXCEPT ![p] = TRUE]
  /\ UNCHANGED <<ioDone, helper, exitReported, ctrState, ctrHelper, fvars>>

Proc_CREATING_EXITED(p) == RecordExit(p, "CREATING")
Proc_CREATING_IO_DONE(p) == PIgnore(p, "CREATING", "IO_DONE")

Proc_CREATED_START_is_exec(p) == ~IsInit(p) /\ SpawnHelper(p, "START", "CREATED", "STARTING")
Proc_CREATED_START(p) == IsInit(p) /\ SpawnHelper(p, "START", "CREATED", "STARTING")

Exited(p, s) ==                            \* proc_act_exited
  /\ PRecv(p, "EXITED")
  /\ procState[p] = s
  /\ PGo(p, "DRAINING", Drain(p))
  /\ exited' = [exited EXCEPT ![p] = TRUE]
  /\ UNCHANGED <<ioDone, helper, exitReported, ctrState, ctrHelper, fvars>>

Proc_CREATED_EXITED(p) == Exited(p, "CREATED")
Proc_CREATED_IO_DONE(p) == PIgnore(p, "CREATED", "IO_DONE")

Started(p, to) ==                          \* proc_act_started
  /\ PRecv(p, "HELPER_OK")
  /\ procState[p] = "STARTING"
  /\ PGo(p, to, IF exited[p] THEN Drain(p) ELSE << >>)
  /\ helper' = [helper EXCEPT ![p] = FALSE]
  /\ UNCHANGED <<exited, ioDone, exitReported, ctrState, ctrHelper, fvars>>

Proc_STARTING_HELPER_OK_exited(p) == exited[p] /\ Started(p, "DRAINING")
Proc_STARTING_HELPER_OK(p) == ~exited[p] /\ Started(p, "RUNNING")
Proc_STARTING_HELPER_FAILED(p) == NeverRan(p, "HELPER_FAILED", "STARTING")
Proc_STARTING_TIMEOUT(p) == NeverRan(p, "TIMEOUT", "STARTING")
Proc_STARTING_EXITED(p) == RecordExit(p, "STARTING")
Proc_STARTING_IO_DONE(p) == PIgnore(p, "STARTING", "IO_DONE")
Proc_RUNNING_EXITED(p) == Exited(p, "RUNNING")
Proc_RUNNING_IO_DONE(p) == PIgnore(p, "RUNNING", "IO_DONE")

Finish(p, e) ==                            \* proc_act_finish: Waits, exit event
  /\ PRecv(p, e)
  /\ procState[p] = "DRAINING"
  /\ PGo(p, "STOPPED", ToCtr(p, "INIT_STOPPED"))
  /\ exitReported' = [exitReported EXCEPT ![p] = @ + 1]
  /\ UNCHANGED <<exited, ioDone, helper, ctrState, ctrHelper, fvars>>

Proc_DRAINING_IO_DONE(p) == Finish(p, "IO_DONE")
Proc_DRAINING_TIMEOUT(p) == Finish(p, "TIMEOUT")
Proc_STOPPED_EXITED(p) == PIgnore(p, "STOPPED", "EXITED")
Proc_STOPPED_IO_DONE(p) == PIgnore(p, "STOPPED", "IO_DONE")
Proc_STOPPED_HELPER_OK(p) == PIgnore(p, "STOPPED", "HELPER_OK")
Proc_STOPPED_HELPER_FAILED(p) == PIgnore(p, "STOPPED", "HELPER_FAILED")
Proc_STOPPED_TIMEOUT(p) == PIgnore(p, "STOPPED", "TIMEOUT")
Proc_ANY_FAIL(p) == procState[p] # "NEW" /\ PIgnore(p, procState[p], "FAIL")

Proc_Reject(p) ==
  /\ queue # << >>
  /\ Head(queue).to = p
  /\ ~HasRow(ProcRows, procState[p], Head(queue).ev)
  /\ PSame(p, << >>)
  /\ UNCHANGED <<pvars, ctrState, ctrHelper, fvars>>

ProcDispatch(p) ==
  \/ Proc_NEW_CREATE_is_exec(p) \/ Proc_NEW_CREATE(p) \/ Proc_NEW_FAIL(p)
  \/ Proc_CREATING_HELPER_OK_exited(p) \/ Proc_CREATING_HELPER_OK(p)
  \/ Proc_CREATING_HELPER_FAILED(p) \/ Proc_CREATING_TIMEOUT(p)
  \/ Proc_CREATING_EXITED(p) \/ Proc_CREATING_IO_DONE(p)
  \/ Proc_CREATED_START_is_exec(p) \/ Proc_CREATED_START(p)
  \/ Proc_CREATED_EXITED(p) \/ Proc_CREATED_IO_DONE(p)
  \/ Proc_STARTING_HELPER_OK_exited(p) \/ Proc_STARTING_HELPER_OK(p)
  \/ Proc_STARTING_HELPER_FAILED(p) \/ Proc_STARTING_TIMEOUT(p)
  \/ Proc_STARTING_EXITED(p) \/ Proc_STARTING_IO_DONE(p)
  \/ Proc_RUNNING_EXITED(p) \/ Proc_RUNNING_IO_DONE(p)
  \/ Proc_DRAINING_IO_DONE(p) \/ Proc_DRAINING_TIMEOUT(p)
  \/ Proc_STOPPED_EXITED(p) \/ Proc_STOPPED_IO_DONE(p) \/ Proc_STOPPED_HELPER_OK(p)
  \/ Proc_STOPPED_HELPER_FAILED(p) \/ Proc_STOPPED_TIMEOUT(p)
  \/ Proc_ANY_FAIL(p)
  \/ Proc_Reject(p)

----------------------------------------------------------------------------
(* agent_container rows, in table order.                                   *)

CIgnore(s, e, to) ==
  /\ CRecv(e)
  /\ ctrState = s
  /\ CGo(to, << >>)
  /\ UNCHANGED <<procState, pvars, ctrHelper, fvars>>

Ctr_NEW_PREPARE ==                         \* ctr_act_prepare: 9p mount, config
  /\ CRecv("PREPARE")
  /\ ctrState = "NEW"
  /\ \/ CGo("PREPARED", << >>)
     \/ CGo("NEW", << M("ctr", "FAIL") >>)
  /\ UNCHANGED <<procState, pvars, ctrHelper, fvars>>

Cleanup(s, e) ==                           \* ctr_act_cleanup
  /\ CRecv(e)
  /\ ctrState = s
  /\ CGo("REMOVED", << >>)
  /\ ctrHelper' = FALSE
  /\ UNCHANGED <<procState, pvars, fvars>>

Ctr_NEW_FAIL == Cleanup("NEW", "FAIL")
Ctr_PREPARED_INIT_CREATED == CIgnore("PREPARED", "INIT_CREATED", "ACTIVE")   \* ctr_act_active: OOM watch, cannot fail
Ctr_PREPARED_INIT_STOPPED == CIgnore("PREPARED", "INIT_STOPPED", "STOPPED")

Remove(s) ==                               \* ctr_act_remove: kill all, crun delete
  /\ CRecv("REMOVE")
  /\ ctrState = s
  /\ \/ CGo("REMOVING", << >>) /\ ctrHelper' = TRUE
     \/ CGo(s, << M("ctr", "FAIL") >>) /\ UNCHANGED ctrHelper
  /\ UNCHANGED <<procState, pvars, fvars>>

Ctr_PREPARED_REMOVE == Remove("PREPARED")
Ctr_ACTIVE_INIT_STOPPED == CIgnore("ACTIVE", "INIT_STOPPED", "STOPPED")
Ctr_ACTIVE_EXEC == CIgnore("ACTIVE", "EXEC", "ACTIVE")

(* ctr_act_freeze: cgroup.freeze = 1, the poll and the timer armed; it    *)
(* fails (FAIL, state kept, the handler answers) if the write fails.       *)
(* The handler put the call in c->pending first and clears it on failure.  *)
Ctr_ACTIVE_PAUSE ==
  /\ CRecv("PAUSE")
  /\ ctrState = "ACTIVE"
  /\ \/ /\ CGo("PAUSING", << >>)
        /\ freeze' = TRUE /\ freezePoll' = TRUE /\ pauseCall' = TRUE
     \/ CGo("ACTIVE", << M("ctr", "FAIL") >>) /\ UNCHANGED fvars
  /\ UNCHANGED <<procState, pvars, ctrHelper>>

(* ctr_answer(): timer and poll stopped, c->pending answered.              *)
CtrAnswer(s, e, to) ==
  /\ CRecv(e)
  /\ ctrState = s
  /\ CGo(to, << >>)
  /\ freezePoll' = FALSE
  /\ pauseCall' = FALSE
  /\ UNCHANGED <<procState, pvars, ctrHelper, freeze>>

Ctr_PAUSING_FROZEN       == CtrAnswer("PAUSING", "FROZEN", "PAUSED")          \* ctr_act_frozen
(* ctr_act_freeze_failed: cgroup.freeze = 0 written, then ctr_answer (the *)
(* pause failed).  If the thaw write fails, the answer says the container  *)
(* stays paused and the action fails: the state holds and FAIL is posted,  *)
(* which Ctr_PAUSING_FAIL takes to PAUSED.                                 *)
Ctr_PAUSING_TIMEOUT ==
  /\ CRecv("TIMEOUT")
  /\ ctrState = "PAUSING"
  /\ \/ CGo("ACTIVE", << >>) /\ freeze' = FALSE              \* thawed
     \/ CGo("PAUSING", << M("ctr", "FAIL") >>) /\ UNCHANGED freeze \* still "1"
  /\ freezePoll' = FALSE
  /\ pauseCall' = FALSE
  /\ UNCHANGED <<procState, pvars, ctrHelper>>
Ctr_PAUSING_INIT_STOPPED == CtrAnswer("PAUSING", "INIT_STOPPED", "STOPPED")   \* ctr_act_stopped_pausing
Ctr_PAUSING_FAIL == CIgnore("PAUSING", "FAIL", "PAUSED")   \* the thaw failed: frozen

Ctr_PAUSED_RESUME ==                       \* ctr_act_thaw: cgroup.freeze = 0
  /\ CRecv("RESUME")
  /\ ctrState = "PAUSED"
  /\ \/ CGo("ACTIVE", << >>) /\ freeze' = FALSE
     \/ CGo("PAUSED", << M("ctr", "FAIL") >>) /\ UNCHANGED freeze
  /\ UNCHANGED <<procState, pvars, ctrHelper, freezePoll, pauseCall>>

Ctr_PAUSED_INIT_STOPPED == CIgnore("PAUSED", "INIT_STOPPED", "STOPPED")
Ctr_STOPPED_REMOVE == Remove("STOPPED")
Ctr_REMOVING_HELPER_OK == Cleanup("REMOVING", "HELPER_OK")
Ctr_REMOVING_HELPER_FAILED == Cleanup("REMOVING", "HELPER_FAILED")
Ctr_REMOVING_TIMEOUT == Cleanup("REMOVING", "TIMEOUT")
Ctr_REMOVING_INIT_STOPPED == CIgnore("REMOVING", "INIT_STOPPED", "REMOVING")
Ctr_ANY_FAIL == ctrState \notin {"NEW", "PAUSING"} /\ CIgnore(ctrState, "FAIL", ctrState)

Ctr_Reject ==
  /\ queue # << >>
  /\ Head(queue).to = "ctr"
  /\ ~HasRow(CtrRows, ctrState, Head(queue).ev)
  /\ CGo(ctrState, << >>)
  /\ UNCHANGED <<procState, pvars, ctrHelper, fvars>>

CtrDispatch ==
  \/ Ctr_NEW_PREPARE \/ Ctr_NEW_FAIL
  \/ Ctr_PREPARED_INIT_CREATED \/ Ctr_PREPARED_INIT_STOPPED \/ Ctr_PREPARED_REMOVE
  \/ Ctr_ACTIVE_INIT_STOPPED \/ Ctr_ACTIVE_EXEC \/ Ctr_ACTIVE_PAUSE
  \/ Ctr_PAUSING_FROZEN \/ Ctr_PAUSING_TIMEOUT \/ Ctr_PAUSING_INIT_STOPPED
  \/ Ctr_PAUSING_FAIL
  \/ Ctr_PAUSED_RESUME \/ Ctr_PAUSED_INIT_STOPPED
  \/ Ctr_STOPPED_REMOVE
  \/ Ctr_REMOVING_HELPER_OK \/ Ctr_REMOVING_HELPER_FAILED \/ Ctr_REMOVING_TIMEOUT
  \/ Ctr_REMOVING_INIT_STOPPED
  \/ Ctr_ANY_FAIL
  \/ Ctr_Reject

Dispatch == CtrDispatch \/ \E p \in Procs : ProcDispatch(p)

----------------------------------------------------------------------------
(* The open world.  The host's RPCs come between drains, in the order the  *)
(* handlers allow (CreateContainer prepares, then creates init; ExecProcess *)
(* needs an ACTIVE container).                                             *)
Host ==
  /\ queue = << >>
  /\ \/ queue' = << M("ctr", "PREPARE") >>
     \/ queue' = << M("ctr", "REMOVE") >>
     \/ ctrState # "NEW" /\ queue' = << M("init", "CREATE") >>
     \/ queue' = << M("init", "START") >>
     \/ ctrState = "ACTIVE" /\ queue' = << M("ctr", "EXEC"), M("exec", "CREATE") >>
     \/ queue' = << M("exec", "START") >>
     \/ ~pauseCall /\ queue' = << M("ctr", "PAUSE") >>    \* else "busy"
     \/ ~pauseCall /\ queue' = << M("ctr", "RESUME") >>
  /\ UNCHANGED <<procState, pvars, ctrState, ctrHelper, fvars>>

HelperDone(p) ==                           \* crun create/start/exec finished
  /\ helper[p]
  /\ helper' = [helper EXCEPT ![p] = FALSE]
  /\ \E e \in {"HELPER_OK", "HELPER_FAILED"} : queue' = Append(queue, M(p, e))
  /\ UNCHANGED <<procState, exited, ioDone, exitReported, ctrState, ctrHelper, fvars>>

ProcessExits(p) ==                         \* PID 1 reaped it (once)
  /\ procState[p] \in IF IsInit(p) THEN {"CREATING", "CREATED", "STARTING", "RUNNING"}
                                   ELSE {"STARTING", "RUNNING"}   \* crun exec -d ran
  /\ ~exited[p]
  /\ ~Pending(M(p, "EXITED"))
  /\ queue' = Append(queue, M(p, "EXITED"))
  /\ UNCHANGED <<procState, pvars, ctrState, ctrHelper, fvars>>

PipesEOF(p) ==                             \* the output pipes reached EOF
  /\ procState[p] # "NEW"
  /\ ~ioDone[p]
  /\ ioDone' = [ioDone EXCEPT ![p] = TRUE]
  /\ queue' = Append(queue, M(p, "IO_DONE"))
  /\ UNCHANGED <<procState, exited, helper, exitReported, ctrState, ctrHelper, fvars>>

CtrHelperDone ==
  /\ ctrHelper
  /\ ctrHelper' = FALSE
  /\ \E e \in {"HELPER_OK", "HELPER_FAILED"} : queue' = Append(queue, M("ctr", e))
  /\ UNCHANGED <<procState, pvars, ctrState, fvars>>

ProcTimer(p) ==
  /\ procState[p] \in PWaiting
  /\ ~Pending(M(p, "TIMEOUT"))
  /\ queue' = Append(queue, M(p, "TIMEOUT"))
  /\ UNCHANGED <<procState, pvars, ctrState, ctrHelper, fvars>>

(* The freezer reports the cgroup frozen (cgroup.events "frozen 1"); the *)
(* poll sees it and posts FROZEN, and stops.                              *)
CtrFrozen ==
  /\ freezePoll
  /\ freeze
  /\ freezePoll' = FALSE
  /\ queue' = Append(queue, M("ctr", "FROZEN"))
  /\ UNCHANGED <<procState, pvars, ctrState, ctrHelper, freeze, pauseCall>>

CtrTimer ==
  /\ ctrState \in CWaiting
  /\ ~Pending(M("ctr", "TIMEOUT"))
  /\ queue' = Append(queue, M("ctr", "TIMEOUT"))
  /\ UNCHANGED <<procState, pvars, ctrState, ctrHelper, fvars>>

Next ==
  \/ Dispatch
  \/ Host
  \/ \E p \in Procs : HelperDone(p) \/ ProcessExits(p) \/ PipesEOF(p) \/ ProcTimer(p)
  \/ CtrHelperDone \/ CtrTimer \/ CtrFrozen

Spec ==
  /\ Init
  /\ [][Next]_vars
  /\ WF_vars(Dispatch)
  /\ \A p \in Procs : WF_vars(ProcTimer(p))
  /\ WF_vars(CtrTimer)

----------------------------------------------------------------------------
WaitingStatesTimeout ==
  /\ \A s \in PWaiting : \E i \in DOMAIN ProcRows :
       ProcRows[i].ev = "TIMEOUT" /\ ProcRows[i].from \in {s, "ANY"}
  /\ \A s \in CWaiting : \E i \in DOMAIN CtrRows :
       CtrRows[i].ev = "TIMEOUT" /\ CtrRows[i].from \in {s, "ANY"}

(* The exit event of a process is queued for the host at most once, and   *)
(* only after the process exited.                                          *)
ExitReportedOnce == \A p \in Procs : exitReported[p] <= 1
ExitReportedAfterExit == \A p \in Procs : exitReported[p] > 0 => exited[p]

(* The container follows its init process.                                 *)
CtrActiveMeansInitCreated ==
  ctrState = "ACTIVE" => procState["init"] \notin {"NEW", "CREATING"}
CtrStoppedMeansInitStopped ==
  ctrState = "STOPPED" => procState["init"] = "STOPPED"

(* The host's PauseContainer is answered whenever PAUSING is left.        *)
CtrPauseAnswered == pauseCall => ctrState = "PAUSING"

(* The freezer follows the machine: a PAUSED container is frozen, an      *)
(* ACTIVE one is not.  (agent_container v2 broke CtrActiveMeansThawed:     *)
(* ctr_act_freeze_failed ignored a failed thaw and still went to ACTIVE;   *)
(* v3 fails the action and Ctr_PAUSING_FAIL records PAUSED.)               *)
CtrPausedMeansFrozen == ctrState = "PAUSED" => freeze
CtrActiveMeansThawed == ctrState = "ACTIVE" => ~freeze

EveryWaitingStateLeft ==
  /\ \A p \in Procs, s \in PWaiting : (procState[p] = s) ~> (procState[p] # s)
  /\ \A s \in CWaiting : (ctrState = s) ~> (ctrState # s)
===============================================================================
