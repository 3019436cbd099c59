-------------------------------- MODULE Task --------------------------------
(***************************************************************************)
(* The task machine (core/task_fsm.c, "task"): the container's init        *)
(* process as containerd sees it.  The rows are generated from the C       *)
(* (`kiln-fsm tla task`, tla/gen/TaskRows.tla) and interpreted with the    *)
(* engine's rules from that module: Select picks the first row whose       *)
(* from/event match and whose guard holds (task_guard_exited reads         *)
(* `exited`), Target keeps the state for "SAME", no row is a rejection,    *)
(* and a failed action keeps the state and posts FAIL at the tail of the   *)
(* run queue.  This module says what each action does (the sets below),   *)
(* the world, and the properties.                                          *)
(*                                                                         *)
(* This is the machine alone, in an open world: containerd, the agent, the *)
(* VM, CNI and the hooks may send any event between drains.  TaskVM.tla   *)
(* closes the world with the VM machine and the messages between the two. *)
(***************************************************************************)
EXTENDS Naturals, Sequences, TaskRows

(* What the actions do, in the model's terms (core/task.c).                *)
Publishing == {"task_act_stopped", "task_act_vm_died"}   \* TaskExit
Records == {"task_act_record_exit", "task_act_exited", "task_act_exited_midway",
            "task_act_start_failed", "task_act_net_failed_start",
            "task_act_vm_died"}                    \* exited_ns set
StopsVM == {"task_act_create_failed", "task_act_net_failed_create",
            "task_act_delete"}                     \* task_stop_vm
Boots == {"task_act_boot"}                         \* vm_start
KillsVM == {"task_act_deleted"}                    \* vm_kill if not stopped
AsksPause == {"task_act_pause", "task_act_resume"} \* t->pending kept
AnswersPause == {"task_act_paused", "task_act_resumed", "task_act_pause_failed",
                 "task_act_exited_midway", "task_act_vm_died"}
Quiet == {"task_act_create", "task_act_create_hooks", "task_act_wire",
          "task_act_agent_create", "task_act_created", "task_act_start",
          "task_act_kill", "task_act_started", "task_act_kill_finished",
          "task_act_poststop"}
(* Fallible: create (rootfs, spec, stdio), start/pause/resume (channel    *)
(* closed), kill (bad signal, channel closed), kill_finished (always:     *)
(* NOT_FOUND).                                                             *)
Fallible == {"task_act_create", "task_act_start", "task_act_kill",
             "task_act_pause", "task_act_resume", "task_act_kill_finished"}
AlwaysFails == {"task_act_kill_finished"}

ASSUME Actions = Publishing \union Records \union StopsVM \union Boots
                 \union KillsVM \union AsksPause \union AnswersPause \union Quiet
ASSUME Fallible \subseteq Actions /\ AlwaysFails \subseteq Fallible
ASSUME Guards = {"task_guard_exited"}

(* fsm_check's WaitingStatesTimeout and the late answers of the agent:    *)
(* constant formulas over the generated rows, so assumptions, not         *)
(* invariants.  Since task v3 the FSM_ANY AGENT_PAUSED/AGENT_RESUMED/     *)
(* AGENT_FAILED rows take every late answer (a Pause answered after the   *)
(* task timed out or exited): no (state, answer) is rejected.             *)
ASSUME WaitingStatesTimeout
LateAgentAnswersHandled ==
  \A s \in States, e \in {"AGENT_PAUSED", "AGENT_RESUMED", "AGENT_FAILED"} :
    HasRow(s, e)
ASSUME LateAgentAnswersHandled

Live == {"CREATING", "CREATED", "STARTING", "RUNNING", "PAUSING", "PAUSED",
         "RESUMING", "EXITING"}

VARIABLES
  taskState,      \* fsm.state
  exited,         \* t->exited_ns != 0 (read by task_guard_exited)
  exitPublished,  \* how many TaskExit events were published
  queue,          \* events posted to this machine, not yet dispatched
  vmReqs,         \* requests this machine made of its VM (vm_start/stop/kill)
  vmStopped,      \* vm_is_stopped(t->vm), as the world decides it
  pauseCall       \* t->pending holds containerd's Pause or Resume, unanswered

vars == <<taskState, exited, exitPublished, queue, vmReqs, vmStopped, pauseCall>>

TypeOK ==
  /\ taskState \in States
  /\ exited \in BOOLEAN
  /\ exitPublished \in Nat
  /\ queue \in Seq(Events)
  /\ vmReqs \subseteq {"SPAWN", "STOP", "KILL"}
  /\ vmStopped \in BOOLEAN
  /\ pauseCall \in BOOLEAN

Init ==
  /\ taskState = Initial
  /\ exited = FALSE
  /\ exitPublished = 0
  /\ queue = << >>
  /\ vmReqs = {}
  /\ vmStopped = FALSE
  /\ pauseCall = FALSE

----------------------------------------------------------------------------
(* The engine over the generated rows.                                     *)
GS == IF exited THEN {"task_guard_exited"} ELSE {}
One(b) == IF b THEN 1 ELSE 0
AfterFail(e) == IF PostsFail(e) THEN << FailEvent >> ELSE << >>

(* task_stop_vm(): the VM is stopped already (VM_STOPPED to ourselves),    *)
(* or is asked to stop (vm_stop).                                          *)
Posts(a) ==
  IF a \in StopsVM /\ vmStopped THEN << "VM_STOPPED" >> ELSE << >>
ReqsAfter(a) ==
  vmReqs \union (IF a \in Boots THEN {"SPAWN"} ELSE {})
         \union (IF a \in StopsVM /\ ~vmStopped THEN {"STOP"} ELSE {})
         \union (IF a \in KillsVM /\ ~vmStopped THEN {"KILL"} ELSE {})
PauseAfter(a) ==
  IF a \in AsksPause THEN TRUE
  ELSE IF a \in AnswersPause THEN FALSE ELSE pauseCall

Fire ==
  /\ queue # << >>
  /\ CanSelect(taskState, Head(queue), GS)
  /\ LET i == Select(taskState, Head(queue), GS)
         a == Rows[i].act
     IN /\ a \notin AlwaysFails
        /\ taskState' = Target(i, taskState)
        /\ exited' = (exited \/ a \in Records)
        /\ exitPublished' = exitPublished + One(a \in Publishing)
        /\ vmReqs' = ReqsAfter(a)
        /\ pauseCall' = PauseAfter(a)
        /\ queue' = Tail(queue) \o Posts(a)
  /\ UNCHANGED vmStopped

(* A failed action: the state and everything else hold, FAIL is posted    *)
(* (a failed Pause or Resume is answered by its handler at once).         *)
FireFails ==
  /\ queue # << >>
  /\ CanSelect(taskState, Head(queue), GS)
  /\ Rows[Select(taskState, Head(queue), GS)].act \in Fallible
  /\ queue' = Tail(queue) \o AfterFail(Head(queue))
  /\ UNCHANGED <<taskState, exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Reject ==
  /\ queue # << >>
  /\ ~CanSelect(taskState, Head(queue), GS)
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<taskState, exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Dispatch == Fire \/ FireFails \/ Reject

----------------------------------------------------------------------------
(* The open world.  External events arrive between drains (queue empty):  *)
(* they are reactor callbacks.  The timer is armed exactly in the waiting *)
(* states and fires between drains too.  FAIL only ever comes from a      *)
(* failed action.                                                          *)
Env_Event ==
  /\ queue = << >>
  /\ \E e \in Events \ {FailEvent, TimeoutEvent} : queue' = << e >>
  /\ UNCHANGED <<taskState, exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Env_Timer ==
  /\ taskState \in Waiting
  /\ queue = << >>
  /\ queue' = << TimeoutEvent >>
  /\ UNCHANGED <<taskState, exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Env_VMStops ==
  /\ "SPAWN" \in vmReqs
  /\ ~vmStopped
  /\ vmStopped' = TRUE
  /\ UNCHANGED <<taskState, exited, exitPublished, queue, vmReqs, pauseCall>>

Next == Dispatch \/ Env_Event \/ Env_Timer \/ Env_VMStops

(* The loop runs; an armed timer that keeps getting a turn between drains *)
(* fires (strong fairness: it is enabled only between drains).            *)
Spec == Init /\ [][Next]_vars /\ WF_vars(Dispatch) /\ SF_vars(Env_Timer)

----------------------------------------------------------------------------
(* Properties (the same names are checked by kiln-fsmcheck on the table). *)

(* TaskExit is published at most once.                                     *)
ExitPublishedOnce == exitPublished <= 1

(* Only rows whose action publishes can count; nothing is published before *)
(* the process is known to have ended.                                     *)
PublishedOnlyWhenStopped ==
  (exitPublished > 0) => (taskState \in {"STOPPED", "DELETING", "DELETED"})

(* containerd's Pause/Resume is answered by every row that leaves PAUSING *)
(* or RESUMING (paused, pause_failed, exited_midway, vm_died).             *)
PauseAnswered == pauseCall => (taskState \in {"PAUSING", "RESUMING"})

TerminalIsFinal == [][(taskState \in Terminal) => taskState' = taskState]_vars

(* Every waiting state is eventually left (strong fairness of the timer). *)
EveryWaitingStateLeft == \A s \in Waiting : (taskState = s) ~> (taskState # s)
=============================================================================
