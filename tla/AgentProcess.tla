----------------------------- MODULE AgentProcess -----------------------------
(***************************************************************************)
(* The agent's machines (guest/agent_process_fsm.c "agent_process" and     *)
(* guest/agent_container_fsm.c "agent_container"): one container, its init *)
(* process and one exec.  Both tables are generated from the C            *)
(* (tla/gen/AgentProcessRows.tla, AgentContainerRows.tla) and used as      *)
(* named instances, Pr and Ct (both define States, Rows, ...), interpreted *)
(* with the engine's rules from those modules: Select picks the first row  *)
(* whose guard holds (proc_guard_is_exec: p is the exec; proc_guard_exited *)
(* reads exited[p]); a failed action keeps the state and posts FAIL at the *)
(* tail of the run queue.  This module adds what the actions do, the world *)
(* and the properties.  MC_AgentProcess.tla bounds it for TLC.             *)
(*                                                                         *)
(* Coupling (posted events, one fsm_env): the init process tells the       *)
(* container INIT_CREATED (proc_act_created) and INIT_STOPPED              *)
(* (proc_never_ran, proc_act_finish).  The host's RPCs, crun helpers, the  *)
(* process exit, its pipes' EOF and the timers are the open world.         *)
(***************************************************************************)
EXTENDS Naturals, Sequences

Pr == INSTANCE AgentProcessRows
Ct == INSTANCE AgentContainerRows

Procs == {"init", "exec"}
IsInit(p) == p = "init"

(* What the actions do (guest/agent_process.c, guest/agent_container.c).  *)
HelperStarts == {"proc_act_spawn_create", "proc_act_spawn_start",
                 "proc_act_spawn_exec"}            \* a crun helper runs
NeverRan == {"proc_act_stopped", "proc_act_create_failed",
             "proc_act_start_failed"}             \* exit 255, INIT_STOPPED
HelperEnds == {"proc_act_created", "proc_act_started"}   \* drain if exited
Records == {"proc_act_record_exit", "proc_act_exited"}
Finishes == {"proc_act_finish"}     \* Waits, exit event, INIT_STOPPED
PFallible == HelperStarts \union {"proc_act_write_exec"}
ASSUME Pr!Actions = HelperStarts \union NeverRan \union HelperEnds \union Records
                    \union Finishes \union {"proc_act_write_exec"}
ASSUME Pr!Guards = {"proc_guard_is_exec", "proc_guard_exited"}

(* ctr_act_freeze_failed thaws and fails if the thaw fails (v3): then the *)
(* caller is still answered, the poll stopped, and FAIL takes PAUSING to  *)
(* PAUSED.                                                                 *)
Answers == {"ctr_act_frozen", "ctr_act_freeze_failed", "ctr_act_stopped_pausing"}
CFallible == {"ctr_act_prepare", "ctr_act_remove", "ctr_act_freeze",
              "ctr_act_thaw", "ctr_act_freeze_failed"}
ASSUME Ct!Actions = Answers \union CFallible
                    \union {"ctr_act_cleanup", "ctr_act_active"}
ASSUME Ct!Guards = {}

(* fsm_check's rule over both generated tables (a constant formula).      *)
WaitingStatesTimeout == Pr!WaitingStatesTimeout /\ Ct!WaitingStatesTimeout
ASSUME WaitingStatesTimeout

Targets == Procs \union {"ctr"}
M(to, ev) == [to |-> to, ev |-> ev]
Msgs == {M(p, e) : p \in Procs, e \in Pr!Events} \union {M("ctr", e) : e \in Ct!Events}

VARIABLES
  procState,     \* [Procs -> Pr!States]
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
  /\ procState \in [Procs -> Pr!States]
  /\ exited \in [Procs -> BOOLEAN]
  /\ ioDone \in [Procs -> BOOLEAN]
  /\ helper \in [Procs -> BOOLEAN]
  /\ exitReported \in [Procs -> Nat]
  /\ ctrState \in Ct!States
  /\ ctrHelper \in BOOLEAN
  /\ freeze \in BOOLEAN
  /\ freezePoll \in BOOLEAN
  /\ pauseCall \in BOOLEAN
  /\ queue \in Seq(Msgs)

Init ==
  /\ procState = [p \in Procs |-> Pr!Initial]
  /\ exited = [p \in Procs |-> FALSE]
  /\ ioDone = [p \in Procs |-> FALSE]
  /\ helper = [p \in Procs |-> FALSE]
  /\ exitReported = [p \in Procs |-> 0]
  /\ ctrState = Ct!Initial
  /\ ctrHelper = FALSE
  /\ freeze = FALSE
  /\ freezePoll = FALSE
  /\ pauseCall = FALSE
  /\ queue = << >>

----------------------------------------------------------------------------
(* The engine over the two generated tables.                               *)
PGS(p) == (IF IsInit(p) THEN {} ELSE {"proc_guard_is_exec"})
          \union (IF exited[p] THEN {"proc_guard_exited"} ELSE {})
ToCtr(p, e) == IF IsInit(p) THEN << M("ctr", e) >> ELSE << >>
(* proc_begin_drain: IO_DONE again if the pipes are already at EOF.        *)
Drain(p) == IF ioDone[p] THEN << M(p, "IO_DONE") >> ELSE << >>
PAfterFail(p, e) == IF Pr!PostsFail(e) THEN << M(p, Pr!FailEvent) >> ELSE << >>
CAfterFail(e) == IF Ct!PostsFail(e) THEN << M("ctr", Ct!FailEvent) >> ELSE << >>

PPosts(p, a) ==
  CASE a \in NeverRan -> ToCtr(p, "INIT_STOPPED")
    [] a = "proc_act_created" ->
         ToCtr(p, "INIT_CREATED") \o (IF exited[p] THEN Drain(p) ELSE << >>)
    [] a = "proc_act_started" -> (IF exited[p] THEN Drain(p) ELSE << >>)
    [] a = "proc_act_exited" -> Drain(p)
    [] a \in Finishes -> ToCtr(p, "INIT_STOPPED")
    [] OTHER -> << >>

ProcFire(p) ==
  /\ queue # << >>
  /\ Head(queue).to = p
  /\ Pr!CanSelect(procState[p], Head(queue).ev, PGS(p))
  /\ LET i == Pr!Select(procState[p], Head(queue).ev, PGS(p))
         a == Pr!Rows[i].act
     IN /\ procState' = [procState EXCEPT ![p] = Pr!Target(i, procState[p])]
        /\ exited' = [exited EXCEPT ![p] = (@ \/ a \in NeverRan \union Records)]
        /\ helper' = [helper EXCEPT ![p] =
                        IF a \in HelperStarts THEN TRUE
                        ELSE IF a \in NeverRan \union HelperEnds THEN FALSE
                        ELSE @]
        /\ exitReported' = [exitReported EXCEPT ![p] =
                              @ + (IF a \in Finishes THEN 1 ELSE 0)]
        /\ queue' = Tail(queue) \o PPosts(p, a)
  /\ UNCHANGED <<ioDone, ctrState, ctrHelper, fvars>>

ProcFireFails(p) ==
  /\ queue # << >>
  /\ Head(queue).to = p
  /\ Pr!CanSelect(procState[p], Head(queue).ev, PGS(p))
  /\ Pr!Rows[Pr!Select(procState[p], Head(queue).ev, PGS(p))].act \in PFallible
  /\ queue' = Tail(queue) \o PAfterFail(p, Head(queue).ev)
  /\ UNCHANGED <<procState, pvars, ctrState, ctrHelper, fvars>>

ProcReject(p) ==
  /\ queue # << >>
  /\ Head(queue).to = p
  /\ ~Pr!CanSelect(procState[p], Head(queue).ev, PGS(p))
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<procState, pvars, ctrState, ctrHelper, fvars>>

CGS == {}

CtrFire ==
  /\ queue # << >>
  /\ Head(queue).to = "ctr"
  /\ Ct!CanSelect(ctrState, Head(queue).ev, CGS)
  /\ LET i == Ct!Select(ctrState, Head(queue).ev, CGS)
         a == Ct!Rows[i].act
     IN /\ ctrState' = Ct!Target(i, ctrState)
        /\ ctrHelper' = IF a = "ctr_act_remove" THEN TRUE
                        ELSE IF a = "ctr_act_cleanup" THEN FALSE ELSE ctrHelper
        \* ctr_act_freeze writes "1", arms the poll and keeps the caller;
        \* the thaws write "0"; ctr_answer stops the poll, answers.
        /\ freeze' = IF a = "ctr_act_freeze" THEN TRUE
                     ELSE IF a \in {"ctr_act_thaw", "ctr_act_freeze_failed"}
                          THEN FALSE ELSE freeze
        /\ freezePoll' = IF a = "ctr_act_freeze" THEN TRUE
                         ELSE IF a \in Answers THEN FALSE ELSE freezePoll
        /\ pauseCall' = IF a = "ctr_act_freeze" THEN TRUE
                        ELSE IF a \in Answers THEN FALSE ELSE pauseCall
        /\ queue' = Tail(queue)
  /\ UNCHANGED <<procState, pvars>>

(* A failed action changes nothing but ctr_act_freeze_failed's answer.    *)
CtrFireFails ==
  /\ queue # << >>
  /\ Head(queue).to = "ctr"
  /\ Ct!CanSelect(ctrState, Head(queue).ev, CGS)
  /\ LET a == Ct!Rows[Ct!Select(ctrState, Head(queue).ev, CGS)].act
     IN /\ a \in CFallible
        /\ freezePoll' = (freezePoll /\ a # "ctr_act_freeze_failed")
        /\ pauseCall' = (pauseCall /\ a # "ctr_act_freeze_failed")
  /\ queue' = Tail(queue) \o CAfterFail(Head(queue).ev)
  /\ UNCHANGED <<procState, pvars, ctrState, ctrHelper, freeze>>

CtrReject ==
  /\ queue # << >>
  /\ Head(queue).to = "ctr"
  /\ ~Ct!CanSelect(ctrState, Head(queue).ev, CGS)
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<procState, pvars, ctrState, ctrHelper, fvars>>

Dispatch ==
  \/ CtrFire \/ CtrFireFails \/ CtrReject
  \/ \E p \in Procs : ProcFire(p) \/ ProcFireFails(p) \/ ProcReject(p)

----------------------------------------------------------------------------
(* The open world.  The host's RPCs come between drains, in the order the  *)
(* handlers allow (CreateContainer prepares, then creates init; ExecProcess *)
(* needs an ACTIVE container).  Helpers ending, exits, EOFs, the freezer's *)
(* poll and the timers are reactor callbacks too: between drains.          *)
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
  /\ queue = << >>
  /\ helper[p]
  /\ helper' = [helper EXCEPT ![p] = FALSE]
  /\ \E e \in {"HELPER_OK", "HELPER_FAILED"} : queue' = << M(p, e) >>
  /\ UNCHANGED <<procState, exited, ioDone, exitReported, ctrState, ctrHelper, fvars>>

ProcessExits(p) ==                         \* PID 1 reaped it (once)
  /\ procState[p] \in IF IsInit(p) THEN {"CREATING", "CREATED", "STARTING", "RUNNING"}
                                   ELSE {"STARTING", "RUNNING"}   \* crun exec -d ran
  /\ ~exited[p]
  /\ queue = << >>
  /\ queue' = << M(p, "EXITED") >>
  /\ UNCHANGED <<procState, pvars, ctrState, ctrHelper, fvars>>

PipesEOF(p) ==                             \* the output pipes reached EOF
  /\ procState[p] # "NEW"
  /\ ~ioDone[p]
  /\ queue = << >>
  /\ ioDone' = [ioDone EXCEPT ![p] = TRUE]
  /\ queue' = << M(p, "IO_DONE") >>
  /\ UNCHANGED <<procState, exited, helper, exitReported, ctrState, ctrHelper, fvars>>

CtrHelperDone ==
  /\ ctrHelper
  /\ queue = << >>
  /\ ctrHelper' = FALSE
  /\ \E e \in {"HELPER_OK", "HELPER_FAILED"} : queue' = << M("ctr", e) >>
  /\ UNCHANGED <<procState, pvars, ctrState, fvars>>

ProcTimer(p) ==
  /\ procState[p] \in Pr!Waiting
  /\ queue = << >>
  /\ queue' = << M(p, Pr!TimeoutEvent) >>
  /\ UNCHANGED <<procState, pvars, ctrState, ctrHelper, fvars>>

(* The freezer reports the cgroup frozen (cgroup.events "frozen 1"); the *)
(* poll sees it and posts FROZEN, and stops.                              *)
CtrFrozen ==
  /\ freezePoll
  /\ freeze
  /\ queue = << >>
  /\ freezePoll' = FALSE
  /\ queue' = << M("ctr", "FROZEN") >>
  /\ UNCHANGED <<procState, pvars, ctrState, ctrHelper, freeze, pauseCall>>

CtrTimer ==
  /\ ctrState \in Ct!Waiting
  /\ queue = << >>
  /\ queue' = << M("ctr", Ct!TimeoutEvent) >>
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
  /\ \A p \in Procs : SF_vars(ProcTimer(p))
  /\ SF_vars(CtrTimer)

----------------------------------------------------------------------------
(* The exit event of a process is queued for the host at most once, and   *)
(* only after the process exited.                                          *)
ExitReportedOnce == \A p \in Procs : exitReported[p] <= 1
ExitReportedAfterExit == \A p \in Procs : (exitReported[p] > 0) => exited[p]

(* The container follows its init process.                                 *)
CtrActiveMeansInitCreated ==
  (ctrState = "ACTIVE") => (procState["init"] \notin {"NEW", "CREATING"})
CtrStoppedMeansInitStopped ==
  (ctrState = "STOPPED") => (procState["init"] = "STOPPED")

(* The host's PauseContainer is answered whenever PAUSING is left.        *)
CtrPauseAnswered == pauseCall => (ctrState = "PAUSING")

(* The freezer follows the machine: a PAUSED container is frozen, an      *)
(* ACTIVE one is not.  (agent_container v2 broke CtrActiveMeansThawed:     *)
(* ctr_act_freeze_failed ignored a failed thaw and still went to ACTIVE;   *)
(* v3 fails the action and Ctr_PAUSING_FAIL records PAUSED.)               *)
CtrPausedMeansFrozen == (ctrState = "PAUSED") => freeze
CtrActiveMeansThawed == (ctrState = "ACTIVE") => ~freeze

EveryWaitingStateLeft ==
  /\ \A p \in Procs, s \in Pr!Waiting : (procState[p] = s) ~> (procState[p] # s)
  /\ \A s \in Ct!Waiting : (ctrState = s) ~> (ctrState # s)
===============================================================================
