-------------------------------- MODULE TaskVM --------------------------------
(***************************************************************************)
(* The task machine (core/task_fsm.c) and the VM machine (core/vm_fsm.c)   *)
(* of one container, composed, with the coupling of core/task.c and        *)
(* core/vm.c written as explicit messages:                                 *)
(*                                                                         *)
(*   task -> vm   task_do_create: vm_start      = SPAWN posted to the vm   *)
(*                task_stop_vm:   vm_stop       = stop_requested, STOP     *)
(*                                (VM stopped already: VM_STOPPED posted   *)
(*                                 to the task itself)                     *)
(*                task_do_deleted: vm_kill      = stop_requested, SIGKILL, *)
(*                                                STOP                     *)
(*   vm -> task   vm_do_ready:   deferred on_ready   -> VM_READY           *)
(*                vm_do_stopped: deferred on_stopped -> VM_DIED if         *)
(*                               ~stop_requested else VM_STOPPED           *)
(*                                                                         *)
(* Run-to-completion: both machines share one fsm_env, so `queue` is the   *)
(* env's FIFO of posted events (records [to, ev]).  Deferred callbacks     *)
(* (reactor_defer) are a second FIFO, `deferred`, that runs on a later     *)
(* loop turn: delivering one appends to `queue` (it runs after the drain   *)
(* in progress, if any).  External news (containerd, QEMU, the agent,      *)
(* timers) arrive between drains.                                          *)
(*                                                                         *)
(* Action names are those of Task.tla and VM.tla (one per row, named      *)
(* <Machine>_<FROM>_<EVENT>[_<guard>]); the row bodies differ only in      *)
(* that their effects on the other machine are real here.                  *)
(***************************************************************************)
EXTENDS Naturals, Sequences

(* task: core/task_fsm.c fsm_def.version 4; vm: core/vm_fsm.c version 1. *)
TaskStates == {"NEW", "CREATING", "CREATED", "STARTING", "RUNNING", "PAUSING",
               "PAUSED", "RESUMING", "EXITING", "STOPPED", "DELETING", "DELETED"}
TaskEvents == {"CREATE", "VM_READY", "AGENT_CREATED", "AGENT_FAILED", "START",
               "AGENT_STARTED", "KILL", "PAUSE", "AGENT_PAUSED", "RESUME",
               "AGENT_RESUMED", "EXITED", "IO_DRAINED", "VM_DIED", "DELETE",
               "VM_STOPPED", "TIMEOUT", "FAIL"}
TaskWaiting == {"CREATING", "STARTING", "PAUSING", "RESUMING", "EXITING", "DELETING"}

VMStates == {"NEW", "SPAWNING", "BOOTING", "READY", "STOPPING", "STOPPED"}
VMEvents == {"SPAWN", "QMP_READY", "AGENT_READY", "STOP", "AGENT_LOST",
             "QEMU_EXITED", "TIMEOUT", "FAIL"}
VMWaiting == {"SPAWNING", "BOOTING", "STOPPING"}

(* The waiting states of each machine and the states that have a TIMEOUT  *)
(* row (a row from that state or from FSM_ANY), copied from the tables;   *)
(* kiln-fsmcheck checks the same thing on the compiled tables.            *)
WaitingOf == [task |-> TaskWaiting, vm |-> VMWaiting]
TimeoutRowsOf ==
  [task |-> {"CREATING", "STARTING", "PAUSING", "RESUMING", "EXITING", "DELETING"},
   \* vm: STOPPING and STOPPED explicitly, every other state via FSM_ANY
   vm   |-> VMStates]

Qemu == {"none", "running", "killed", "gone"}
Calls == {"create", "wait", "start", "pause", "resume"}   \* agent calls in flight
Deferreds == {"vm_ready", "vm_stopped", "agent_lost"}

M(to, ev) == [to |-> to, ev |-> ev]
Msgs == {M("task", e) : e \in TaskEvents} \union {M("vm", e) : e \in VMEvents}

(* Which (state, event) pairs have a row; the rest are rejected.  Events *)
(* with an FSM_ANY row have one in every state (task: the late agent      *)
(* answers and FAIL; NEW FAIL is NEW's own row).                          *)
TaskHasRow(s, e) ==
  \/ e \in {"AGENT_PAUSED", "AGENT_RESUMED", "AGENT_FAILED", "FAIL"}
  \/ <<s, e>> \in {
       <<"NEW", "CREATE">>,
       <<"CREATING", "VM_READY">>, <<"CREATING", "AGENT_CREATED">>,
       <<"CREATING", "AGENT_FAILED">>, <<"CREATING", "VM_DIED">>,
       <<"CREATING", "TIMEOUT">>,
       <<"CREATED", "START">>, <<"CREATED", "KILL">>, <<"CREATED", "EXITED">>,
       <<"CREATED", "DELETE">>, <<"CREATED", "VM_DIED">>,
       <<"STARTING", "AGENT_STARTED">>, <<"STARTING", "AGENT_FAILED">>,
       <<"STARTING", "TIMEOUT">>, <<"STARTING", "EXITED">>,
       <<"STARTING", "KILL">>, <<"STARTING", "VM_DIED">>,
       <<"RUNNING", "KILL">>, <<"RUNNING", "EXITED">>, <<"RUNNING", "VM_DIED">>,
       <<"RUNNING", "PAUSE">>,
       <<"PAUSING", "AGENT_PAUSED">>, <<"PAUSING", "AGENT_FAILED">>,
       <<"PAUSING", "TIMEOUT">>, <<"PAUSING", "EXITED">>, <<"PAUSING", "KILL">>,
       <<"PAUSING", "VM_DIED">>,
       <<"PAUSED", "RESUME">>, <<"PAUSED", "KILL">>, <<"PAUSED", "EXITED">>,
       <<"PAUSED", "VM_DIED">>,
       <<"RESUMING", "AGENT_RESUMED">>, <<"RESUMING", "AGENT_FAILED">>,
       <<"RESUMING", "TIMEOUT">>, <<"RESUMING", "EXITED">>,
       <<"RESUMING", "KILL">>, <<"RESUMING", "VM_DIED">>,
       <<"EXITING", "IO_DRAINED">>, <<"EXITING", "TIMEOUT">>,
       <<"EXITING", "KILL">>, <<"EXITING", "VM_DIED">>,
       <<"EXITING", "AGENT_PAUSED">>, <<"EXITING", "AGENT_RESUMED">>,
       <<"EXITING", "AGENT_FAILED">>,
       <<"STOPPED", "KILL">>, <<"STOPPED", "DELETE">>, <<"STOPPED", "VM_DIED">>,
       <<"STOPPED", "EXITED">>,
       <<"DELETING", "VM_STOPPED">>, <<"DELETING", "TIMEOUT">>,
       <<"DELETING", "VM_DIED">>, <<"DELETING", "EXITED">>,
       <<"DELETING", "AGENT_FAILED">>, <<"DELETING", "AGENT_CREATED">>,
       <<"DELETING", "VM_READY">>, <<"DELETING", "DELETE">>,
       <<"DELETED", "VM_DIED">>, <<"DELETED", "VM_STOPPED">>, <<"DELETED", "VM_READY">>}

VMHasRow(s, e) ==
  \/ e \in {"QEMU_EXITED", "TIMEOUT", "STOP", "AGENT_LOST", "FAIL"}
  \/ <<s, e>> \in {
       <<"NEW", "SPAWN">>,
       <<"SPAWNING", "QMP_READY">>, <<"SPAWNING", "AGENT_READY">>,
       <<"BOOTING", "AGENT_READY">>,
       <<"STOPPING", "QMP_READY">>, <<"STOPPING", "AGENT_READY">>,
       <<"STOPPED", "QMP_READY">>, <<"STOPPED", "AGENT_READY">>}

VARIABLES
  taskState, exited, exitPublished, drainPending,   \* the task
  pauseCall,         \* t->pending holds containerd's Pause/Resume, unanswered
  vmState, qemu, qmpUp, agentUp, stopRequested,     \* the vm
  chanUp, calls,                                    \* the agent connection
  queue, deferred                                   \* fsm_env and reactor

tvars == <<taskState, exited, exitPublished, drainPending, pauseCall>>
vvars == <<vmState, qemu, qmpUp, agentUp, stopRequested>>
vars == <<tvars, vvars, chanUp, calls, queue, deferred>>

TypeOK ==
  /\ taskState \in TaskStates
  /\ exited \in BOOLEAN
  /\ exitPublished \in Nat
  /\ drainPending \in BOOLEAN
  /\ pauseCall \in BOOLEAN
  /\ vmState \in VMStates
  /\ qemu \in Qemu
  /\ qmpUp \in BOOLEAN
  /\ agentUp \in BOOLEAN
  /\ stopRequested \in BOOLEAN
  /\ chanUp \in BOOLEAN
  /\ calls \subseteq Calls
  /\ queue \in Seq(Msgs)
  /\ deferred \in Seq(Deferreds)

Init ==
  /\ taskState = "NEW"
  /\ exited = FALSE
  /\ exitPublished = 0
  /\ drainPending = FALSE
  /\ pauseCall = FALSE
  /\ vmState = "NEW"
  /\ qemu = "none"
  /\ qmpUp = FALSE
  /\ agentUp = FALSE
  /\ stopRequested = FALSE
  /\ chanUp = FALSE
  /\ calls = {}
  /\ queue = << >>
  /\ deferred = << >>

----------------------------------------------------------------------------
(* Helpers.                                                                *)
TRecv(e) == queue # << >> /\ Head(queue) = M("task", e)
VRecv(e) == queue # << >> /\ Head(queue) = M("vm", e)
TGo(s, posted) == taskState' = s /\ queue' = Tail(queue) \o posted
TSame(posted) == TGo(taskState, posted)
TFail == TSame(<< M("task", "FAIL") >>)
VGo(s, posted) == vmState' = s /\ queue' = Tail(queue) \o posted
VSame(posted) == VGo(vmState, posted)
Pending(m) == \E i \in DOMAIN queue : queue[i] = m

KillQemu == qemu' = IF qemu = "running" THEN "killed" ELSE qemu

(* task_stop_vm(): VM_STOPPED to ourselves, or vm_stop().                  *)
StopVM(s) ==
  IF vmState = "STOPPED"
  THEN TGo(s, << M("task", "VM_STOPPED") >>) /\ UNCHANGED stopRequested
  ELSE TGo(s, << M("vm", "STOP") >>) /\ stopRequested' = TRUE

(* task_do_deleted(): a VM not yet stopped is killed (vm_kill()).          *)
Deleted ==
  IF vmState = "STOPPED"
  THEN /\ TGo("DELETED", << >>)
       /\ UNCHANGED <<qemu, stopRequested>>
  ELSE /\ TGo("DELETED", << M("vm", "STOP") >>)
       /\ stopRequested' = TRUE
       /\ KillQemu

----------------------------------------------------------------------------
(* The task rows, in table order (see Task.tla).                           *)

Task_NEW_CREATE ==
  /\ TRecv("CREATE")
  /\ taskState = "NEW"
  /\ \/ TGo("CREATING", << M("vm", "SPAWN") >>)   \* vm_new + vm_start
     \/ TFail                                     \* no VM was made
  /\ UNCHANGED <<exited, exitPublished, drainPending, pauseCall, vvars, chanUp, calls, deferred>>

Task_NEW_FAIL ==
  /\ TRecv("FAIL")
  /\ taskState = "NEW"
  /\ TGo("DELETED", << >>)
  /\ UNCHANGED <<exited, exitPublished, drainPending, pauseCall, vvars, chanUp, calls, deferred>>

Task_CREATING_VM_READY ==                  \* task_act_agent_create
  /\ TRecv("VM_READY")
  /\ taskState = "CREATING"
  /\ IF chanUp
     THEN TSame(<< >>) /\ calls' = calls \union {"create", "wait"}
     ELSE TSame(<< M("task", "AGENT_FAILED") >>) /\ UNCHANGED calls
  /\ UNCHANGED <<exited, exitPublished, drainPending, pauseCall, vvars, chanUp, deferred>>

Task_CREATING_AGENT_CREATED ==
  /\ TRecv("AGENT_CREATED")
  /\ taskState = "CREATING"
  /\ TGo("CREATED", << >>)
  /\ UNCHANGED <<exited, exitPublished, drainPending, pauseCall, vvars, chanUp, calls, deferred>>

CreateFailed(e) ==                         \* task_act_create_failed
  /\ TRecv(e)
  /\ taskState = "CREATING"
  /\ StopVM("DELETING")
  /\ UNCHANGED <<exited, exitPublished, drainPending, pauseCall, vmState, qemu, qmpUp, agentUp,
                 chanUp, calls, deferred>>

Task_CREATING_AGENT_FAILED == CreateFailed("AGENT_FAILED")
Task_CREATING_VM_DIED      == CreateFailed("VM_DIED")
Task_CREATING_TIMEOUT      == CreateFailed("TIMEOUT")

Task_CREATED_START ==                      \* task_act_start
  /\ TRecv("START")
  /\ taskState = "CREATED"
  /\ IF chanUp
     THEN TGo("STARTING", << >>) /\ calls' = calls \union {"start"}
     ELSE TFail /\ UNCHANGED calls
  /\ UNCHANGED <<exited, exitPublished, drainPending, pauseCall, vvars, chanUp, deferred>>

Kill(s) ==                                 \* task_act_kill
  /\ TRecv("KILL")
  /\ taskState = s
  /\ \/ chanUp /\ TSame(<< >>)             \* SignalProcess sent
     \/ TFail                              \* bad signal, or no channel
  /\ UNCHANGED <<exited, exitPublished, drainPending, pauseCall, vvars, chanUp, calls, deferred>>

Task_CREATED_KILL == Kill("CREATED")

Exited(s) ==                               \* task_act_exited
  /\ TRecv("EXITED")
  /\ taskState = s
  /\ TGo("EXITING", << >>)
  /\ exited' = TRUE
  /\ drainPending' = TRUE
  /\ UNCHANGED <<exitPublished, pauseCall, vvars, chanUp, calls, deferred>>

Task_CREATED_EXITED == Exited("CREATED")

Delete(s) ==                               \* task_act_delete
  /\ TRecv("DELETE")
  /\ taskState = s
  /\ StopVM("DELETING")
  /\ UNCHANGED <<exited, exitPublished, drainPending, pauseCall, vmState, qemu, qmpUp, agentUp,
                 chanUp, calls, deferred>>

Task_CREATED_DELETE == Delete("CREATED")

Task_STARTING_AGENT_STARTED_exited ==
  /\ TRecv("AGENT_STARTED")
  /\ taskState = "STARTING"
  /\ exited
  /\ TGo("EXITING", << >>)
  /\ drainPending' = TRUE                  \* task_do_reply_started drains
  /\ UNCHANGED <<exited, exitPublished, pauseCall, vvars, chanUp, calls, deferred>>

Task_STARTING_AGENT_STARTED ==
  /\ TRecv("AGENT_STARTED")
  /\ taskState = "STARTING"
  /\ ~exited
  /\ TGo("RUNNING", << >>)
  /\ UNCHANGED <<exited, exitPublished, drainPending, pauseCall, vvars, chanUp, calls, deferred>>

StartFailed(e) ==                          \* task_act_start_failed: 255
  /\ TRecv(e)
  /\ taskState = "STARTING"
  /\ TGo("STOPPED", << >>)
  /\ exited' = TRUE
  /\ UNCHANGED <<exitPublished, drainPending, pauseCall, vvars, chanUp, calls, deferred>>

Task_STARTING_AGENT_FAILED == StartFailed("AGENT_FAILED")
Task_STARTING_TIMEOUT      == StartFailed("TIMEOUT")

Task_STARTING_EXITED ==                    \* task_act_record_exit
  /\ TRecv("EXITED")
  /\ taskState = "STARTING"
  /\ TSame(<< >>)
  /\ exited' = TRUE
  /\ UNCHANGED <<exitPublished, drainPending, pauseCall, vvars, chanUp, calls, deferred>>

Task_STARTING_KILL  == Kill("STARTING")
Task_RUNNING_KILL   == Kill("RUNNING")
Task_RUNNING_EXITED == Exited("RUNNING")

(* task_act_pause / task_act_resume: PauseContainer / ResumeContainer to  *)
(* the agent (answered AGENT_PAUSED / AGENT_RESUMED / AGENT_FAILED), the  *)
(* timer armed; no channel: the action fails, containerd is answered.     *)
PauseCall(s, e, to, c) ==
  /\ TRecv(e)
  /\ taskState = s
  /\ IF chanUp
     THEN TGo(to, << >>) /\ calls' = calls \union {c} /\ pauseCall' = TRUE
     ELSE TFail /\ UNCHANGED <<calls, pauseCall>>
  /\ UNCHANGED <<exited, exitPublished, drainPending, vvars, chanUp, deferred>>

Task_RUNNING_PAUSE == PauseCall("RUNNING", "PAUSE", "PAUSING", "pause")

(* task_act_paused / task_act_resumed / task_act_pause_failed: the call   *)
(* in t->pending is answered, the timer stopped.                           *)
PauseAnswer(s, e, to) ==
  /\ TRecv(e)
  /\ taskState = s
  /\ TGo(to, << >>)
  /\ pauseCall' = FALSE
  /\ UNCHANGED <<exited, exitPublished, drainPending, vvars, chanUp, calls, deferred>>

Task_PAUSING_AGENT_PAUSED == PauseAnswer("PAUSING", "AGENT_PAUSED", "PAUSED")
Task_PAUSING_AGENT_FAILED == PauseAnswer("PAUSING", "AGENT_FAILED", "RUNNING")
Task_PAUSING_TIMEOUT      == PauseAnswer("PAUSING", "TIMEOUT", "RUNNING")

ExitedMidway(s) ==                         \* task_act_exited_midway
  /\ TRecv("EXITED")
  /\ taskState = s
  /\ TGo("EXITING", << >>)
  /\ exited' = TRUE
  /\ drainPending' = TRUE
  /\ pauseCall' = FALSE
  /\ UNCHANGED <<exitPublished, vvars, chanUp, calls, deferred>>

Task_PAUSING_EXITED == ExitedMidway("PAUSING")
Task_PAUSING_KILL   == Kill("PAUSING")

Task_PAUSED_RESUME == PauseCall("PAUSED", "RESUME", "RESUMING", "resume")
Task_PAUSED_KILL   == Kill("PAUSED")
Task_PAUSED_EXITED == Exited("PAUSED")

Task_RESUMING_AGENT_RESUMED == PauseAnswer("RESUMING", "AGENT_RESUMED", "RUNNING")
Task_RESUMING_AGENT_FAILED  == PauseAnswer("RESUMING", "AGENT_FAILED", "PAUSED")
Task_RESUMING_TIMEOUT       == PauseAnswer("RESUMING", "TIMEOUT", "PAUSED")
Task_RESUMING_EXITED        == ExitedMidway("RESUMING")
Task_RESUMING_KILL          == Kill("RESUMING")

Publish(e) ==                              \* task_act_stopped: TaskExit
  /\ TRecv(e)
  /\ taskState = "EXITING"
  /\ TGo("STOPPED", << >>)
  /\ exitPublished' = exitPublished + 1
  /\ UNCHANGED <<exited, drainPending, pauseCall, vvars, chanUp, calls, deferred>>

Task_EXITING_IO_DRAINED == Publish("IO_DRAINED")
Task_EXITING_TIMEOUT    == Publish("TIMEOUT")

KillFinished(s) ==                         \* task_act_kill_finished: NOT_FOUND
  /\ TRecv("KILL")
  /\ taskState = s
  /\ TFail
  /\ UNCHANGED <<exited, exitPublished, drainPending, pauseCall, vvars, chanUp, calls, deferred>>

Task_EXITING_KILL   == KillFinished("EXITING")
Task_STOPPED_KILL   == KillFinished("STOPPED")
Task_STOPPED_DELETE == Delete("STOPPED")

Ignore(s, e) ==                            \* a row with no action, FSM_SAME
  /\ TRecv(e)
  /\ taskState = s
  /\ TSame(<< >>)
  /\ UNCHANGED <<exited, exitPublished, drainPending, pauseCall, vvars, chanUp, calls, deferred>>

Task_EXITING_AGENT_PAUSED  == Ignore("EXITING", "AGENT_PAUSED")
Task_EXITING_AGENT_RESUMED == Ignore("EXITING", "AGENT_RESUMED")
Task_EXITING_AGENT_FAILED  == Ignore("EXITING", "AGENT_FAILED")
Task_STOPPED_VM_DIED == Ignore("STOPPED", "VM_DIED")
Task_STOPPED_EXITED  == Ignore("STOPPED", "EXITED")

TaskDeleted(e) ==                          \* task_act_deleted
  /\ TRecv(e)
  /\ taskState = "DELETING"
  /\ Deleted
  /\ UNCHANGED <<exited, exitPublished, drainPending, pauseCall, vmState, qmpUp, agentUp,
                 chanUp, calls, deferred>>

Task_DELETING_VM_STOPPED    == TaskDeleted("VM_STOPPED")
Task_DELETING_TIMEOUT       == TaskDeleted("TIMEOUT")
Task_DELETING_VM_DIED       == Ignore("DELETING", "VM_DIED")
Task_DELETING_EXITED        == Ignore("DELETING", "EXITED")
Task_DELETING_AGENT_FAILED  == Ignore("DELETING", "AGENT_FAILED")
Task_DELETING_AGENT_CREATED == Ignore("DELETING", "AGENT_CREATED")
Task_DELETING_VM_READY      == Ignore("DELETING", "VM_READY")
Task_DELETING_DELETE        == Ignore("DELETING", "DELETE")  \* v4: held till the VM is gone
Task_DELETED_VM_DIED        == Ignore("DELETED", "VM_DIED")
Task_DELETED_VM_STOPPED     == Ignore("DELETED", "VM_STOPPED")
Task_DELETED_VM_READY       == Ignore("DELETED", "VM_READY")

VMDied(s) ==                               \* task_act_vm_died: 137, TaskExit
  /\ TRecv("VM_DIED")                      \* and t->pending answered
  /\ taskState = s
  /\ TGo("STOPPED", << >>)
  /\ exited' = TRUE
  /\ exitPublished' = exitPublished + 1
  /\ pauseCall' = FALSE
  /\ UNCHANGED <<drainPending, vvars, chanUp, calls, deferred>>

Task_CREATED_VM_DIED  == VMDied("CREATED")
Task_STARTING_VM_DIED == VMDied("STARTING")
Task_RUNNING_VM_DIED  == VMDied("RUNNING")
Task_PAUSING_VM_DIED  == VMDied("PAUSING")
Task_PAUSED_VM_DIED   == VMDied("PAUSED")
Task_RESUMING_VM_DIED == VMDied("RESUMING")
Task_EXITING_VM_DIED  == Publish("VM_DIED")          \* task_act_stopped

(* Agent answers after the task moved on: late news, ignored.  Each       *)
(* FSM_ANY row leaves out the states with an earlier row for its event.   *)
LateAnswer(e, earlier) ==
  /\ TRecv(e)
  /\ taskState \notin earlier
  /\ TSame(<< >>)
  /\ UNCHANGED <<exited, exitPublished, drainPending, pauseCall, vvars, chanUp, calls, deferred>>

Task_ANY_AGENT_PAUSED  == LateAnswer("AGENT_PAUSED", {"PAUSING", "EXITING"})
Task_ANY_AGENT_RESUMED == LateAnswer("AGENT_RESUMED", {"RESUMING", "EXITING"})
Task_ANY_AGENT_FAILED  ==
  LateAnswer("AGENT_FAILED", {"CREATING", "STARTING", "PAUSING", "RESUMING",
                              "EXITING", "DELETING"})

Task_ANY_FAIL ==
  /\ TRecv("FAIL")
  /\ taskState # "NEW"
  /\ TSame(<< >>)
  /\ UNCHANGED <<exited, exitPublished, drainPending, pauseCall, vvars, chanUp, calls, deferred>>

Task_Reject ==
  /\ queue # << >>
  /\ Head(queue).to = "task"
  /\ ~TaskHasRow(taskState, Head(queue).ev)
  /\ TSame(<< >>)
  /\ UNCHANGED <<exited, exitPublished, drainPending, pauseCall, vvars, chanUp, calls, deferred>>

TaskDispatch ==
  \/ Task_NEW_CREATE \/ Task_NEW_FAIL
  \/ Task_CREATING_VM_READY \/ Task_CREATING_AGENT_CREATED
  \/ Task_CREATING_AGENT_FAILED \/ Task_CREATING_VM_DIED \/ Task_CREATING_TIMEOUT
  \/ Task_CREATED_START \/ Task_CREATED_KILL \/ Task_CREATED_EXITED
  \/ Task_CREATED_DELETE
  \/ Task_STARTING_AGENT_STARTED_exited \/ Task_STARTING_AGENT_STARTED
  \/ Task_STARTING_AGENT_FAILED \/ Task_STARTING_TIMEOUT
  \/ Task_STARTING_EXITED \/ Task_STARTING_KILL
  \/ Task_RUNNING_KILL \/ Task_RUNNING_EXITED \/ Task_RUNNING_PAUSE
  \/ Task_PAUSING_AGENT_PAUSED \/ Task_PAUSING_AGENT_FAILED \/ Task_PAUSING_TIMEOUT
  \/ Task_PAUSING_EXITED \/ Task_PAUSING_KILL
  \/ Task_PAUSED_RESUME \/ Task_PAUSED_KILL \/ Task_PAUSED_EXITED
  \/ Task_RESUMING_AGENT_RESUMED \/ Task_RESUMING_AGENT_FAILED
  \/ Task_RESUMING_TIMEOUT \/ Task_RESUMING_EXITED \/ Task_RESUMING_KILL
  \/ Task_EXITING_IO_DRAINED \/ Task_EXITING_TIMEOUT \/ Task_EXITING_KILL
  \/ Task_EXITING_AGENT_PAUSED \/ Task_EXITING_AGENT_RESUMED
  \/ Task_EXITING_AGENT_FAILED
  \/ Task_STOPPED_KILL \/ Task_STOPPED_DELETE \/ Task_STOPPED_VM_DIED
  \/ Task_STOPPED_EXITED
  \/ Task_DELETING_VM_STOPPED \/ Task_DELETING_TIMEOUT \/ Task_DELETING_VM_DIED
  \/ Task_DELETING_EXITED \/ Task_DELETING_AGENT_FAILED
  \/ Task_DELETING_AGENT_CREATED \/ Task_DELETING_VM_READY \/ Task_DELETING_DELETE
  \/ Task_DELETED_VM_DIED \/ Task_DELETED_VM_STOPPED \/ Task_DELETED_VM_READY
  \/ Task_CREATED_VM_DIED \/ Task_STARTING_VM_DIED \/ Task_RUNNING_VM_DIED
  \/ Task_PAUSING_VM_DIED \/ Task_PAUSED_VM_DIED \/ Task_RESUMING_VM_DIED
  \/ Task_EXITING_VM_DIED
  \/ Task_ANY_AGENT_PAUSED \/ Task_ANY_AGENT_RESUMED \/ Task_ANY_AGENT_FAILED
  \/ Task_ANY_FAIL
  \/ Task_Reject

----------------------------------------------------------------------------
(* The vm rows, in table order (see VM.tla).                               *)

VM_NEW_SPAWN ==                            \* vm_act_spawn
  /\ VRecv("SPAWN")
  /\ vmState = "NEW"
  /\ \/ VGo("SPAWNING", << >>) /\ qemu' = "running"
     \/ VSame(<< M("vm", "FAIL") >>) /\ UNCHANGED qemu     \* fork failed
  /\ UNCHANGED <<tvars, qmpUp, agentUp, stopRequested, chanUp, calls, deferred>>

(* vm_act_stopped: QEMU is gone; the channel with it (vsock_free drops the *)
(* calls in flight and the channel's own pending news); on_stopped is      *)
(* deferred.                                                               *)
VStopped(e) ==
  /\ VRecv(e)
  /\ VGo("STOPPED", << >>)
  /\ chanUp' = FALSE
  /\ calls' = {}
  /\ deferred' = Append(SelectSeq(deferred, LAMBDA d : d # "agent_lost"), "vm_stopped")
  /\ UNCHANGED <<tvars, qemu, qmpUp, agentUp, stopRequested>>

VM_NEW_STOP == vmState = "NEW" /\ VStopped("STOP")
VM_NEW_FAIL == vmState = "NEW" /\ VStopped("FAIL")

VReady(e) ==                               \* vm_act_ready: on_ready deferred
  /\ VRecv(e)
  /\ VGo("READY", << >>)
  /\ deferred' = Append(deferred, "vm_ready")
  /\ UNCHANGED <<tvars, qemu, qmpUp, agentUp, stopRequested, chanUp, calls>>

VIgnore(s, e) ==
  /\ VRecv(e)
  /\ vmState = s
  /\ VSame(<< >>)
  /\ UNCHANGED <<tvars, qemu, qmpUp, agentUp, stopRequested, chanUp, calls, deferred>>

VM_SPAWNING_QMP_READY_agent_up == vmState = "SPAWNING" /\ agentUp /\ VReady("QMP_READY")

VM_SPAWNING_QMP_READY ==
  /\ VRecv("QMP_READY")
  /\ vmState = "SPAWNING"
  /\ ~agentUp
  /\ VGo("BOOTING", << >>)
  /\ UNCHANGED <<tvars, qemu, qmpUp, agentUp, stopRequested, chanUp, calls, deferred>>

VM_SPAWNING_AGENT_READY_qmp_up == vmState = "SPAWNING" /\ qmpUp /\ VReady("AGENT_READY")
VM_SPAWNING_AGENT_READY == ~qmpUp /\ VIgnore("SPAWNING", "AGENT_READY")
VM_BOOTING_AGENT_READY == vmState = "BOOTING" /\ VReady("AGENT_READY")

VM_READY_STOP ==                           \* vm_act_powerdown
  /\ VRecv("STOP")
  /\ vmState = "READY"
  /\ VGo("STOPPING", << >>)
  /\ stopRequested' = TRUE
  /\ UNCHANGED <<tvars, qemu, qmpUp, agentUp, chanUp, calls, deferred>>

VKill(e, s) ==                             \* vm_act_kill
  /\ VRecv(e)
  /\ VGo(s, << >>)
  /\ KillQemu
  /\ UNCHANGED <<tvars, qmpUp, agentUp, stopRequested, chanUp, calls, deferred>>

VM_READY_AGENT_LOST     == vmState = "READY" /\ VKill("AGENT_LOST", "STOPPING")
VM_STOPPING_TIMEOUT     == vmState = "STOPPING" /\ VKill("TIMEOUT", "STOPPING")
VM_STOPPING_STOP        == VIgnore("STOPPING", "STOP")
VM_STOPPING_AGENT_LOST  == VIgnore("STOPPING", "AGENT_LOST")
VM_STOPPING_QMP_READY   == VIgnore("STOPPING", "QMP_READY")
VM_STOPPING_AGENT_READY == VIgnore("STOPPING", "AGENT_READY")
VM_STOPPED_QEMU_EXITED  == VIgnore("STOPPED", "QEMU_EXITED")
VM_ANY_QEMU_EXITED      == vmState # "STOPPED" /\ VStopped("QEMU_EXITED")
VM_STOPPED_STOP         == VIgnore("STOPPED", "STOP")
VM_STOPPED_AGENT_LOST   == VIgnore("STOPPED", "AGENT_LOST")
VM_STOPPED_TIMEOUT      == VIgnore("STOPPED", "TIMEOUT")
VM_STOPPED_QMP_READY    == VIgnore("STOPPED", "QMP_READY")
VM_STOPPED_AGENT_READY  == VIgnore("STOPPED", "AGENT_READY")
VM_STOPPED_FAIL         == VIgnore("STOPPED", "FAIL")
VM_ANY_TIMEOUT    == vmState \notin {"STOPPING", "STOPPED"} /\ VKill("TIMEOUT", "STOPPING")
VM_ANY_STOP       == vmState \notin {"NEW", "READY", "STOPPING", "STOPPED"} /\ VKill("STOP", "STOPPING")
VM_ANY_AGENT_LOST == vmState \notin {"READY", "STOPPING", "STOPPED"} /\ VKill("AGENT_LOST", "STOPPING")
VM_ANY_FAIL       == vmState \notin {"NEW", "STOPPED"} /\ VKill("FAIL", "STOPPING")

VM_Reject ==
  /\ queue # << >>
  /\ Head(queue).to = "vm"
  /\ ~VMHasRow(vmState, Head(queue).ev)
  /\ VSame(<< >>)
  /\ UNCHANGED <<tvars, qemu, qmpUp, agentUp, stopRequested, chanUp, calls, deferred>>

VMDispatch ==
  \/ VM_NEW_SPAWN \/ VM_NEW_STOP \/ VM_NEW_FAIL
  \/ VM_SPAWNING_QMP_READY_agent_up \/ VM_SPAWNING_QMP_READY
  \/ VM_SPAWNING_AGENT_READY_qmp_up \/ VM_SPAWNING_AGENT_READY
  \/ VM_BOOTING_AGENT_READY
  \/ VM_READY_STOP \/ VM_READY_AGENT_LOST
  \/ VM_STOPPING_TIMEOUT \/ VM_STOPPING_STOP \/ VM_STOPPING_AGENT_LOST
  \/ VM_STOPPING_QMP_READY \/ VM_STOPPING_AGENT_READY
  \/ VM_STOPPED_QEMU_EXITED \/ VM_ANY_QEMU_EXITED
  \/ VM_STOPPED_STOP \/ VM_STOPPED_AGENT_LOST \/ VM_STOPPED_TIMEOUT
  \/ VM_STOPPED_QMP_READY \/ VM_STOPPED_AGENT_READY \/ VM_STOPPED_FAIL
  \/ VM_ANY_TIMEOUT \/ VM_ANY_STOP \/ VM_ANY_AGENT_LOST \/ VM_ANY_FAIL
  \/ VM_Reject

----------------------------------------------------------------------------
(* Deferred callbacks, in order, each after the drain in progress.         *)
DeliverDeferred ==
  /\ deferred # << >>
  /\ deferred' = Tail(deferred)
  /\ queue' = Append(queue,
       CASE Head(deferred) = "vm_ready"   -> M("task", "VM_READY")
         [] Head(deferred) = "vm_stopped" ->
              M("task", IF stopRequested THEN "VM_STOPPED" ELSE "VM_DIED")
         [] Head(deferred) = "agent_lost" -> M("vm", "AGENT_LOST"))
  /\ UNCHANGED <<tvars, vvars, chanUp, calls>>

(* containerd's requests, between drains.                                  *)
Containerd ==
  /\ queue = << >>
  /\ \E e \in {"CREATE", "START", "KILL", "PAUSE", "RESUME", "DELETE"} :
       queue' = << M("task", e) >>
  /\ UNCHANGED <<tvars, vvars, chanUp, calls, deferred>>

(* QEMU, QMP and the agent.  One-shot news may land behind a drain.        *)
QmpReady ==
  /\ qemu = "running"
  /\ ~qmpUp
  /\ qmpUp' = TRUE
  /\ queue' = Append(queue, M("vm", "QMP_READY"))
  /\ UNCHANGED <<tvars, vmState, qemu, agentUp, stopRequested, chanUp, calls, deferred>>

AgentReady ==                              \* the greeting: conn up
  /\ qemu = "running"
  /\ vmState # "STOPPED"
  /\ ~agentUp
  /\ agentUp' = TRUE
  /\ chanUp' = TRUE
  /\ queue' = Append(queue, M("vm", "AGENT_READY"))
  /\ UNCHANGED <<tvars, vmState, qemu, qmpUp, stopRequested, calls, deferred>>

(* The connection closes: calls in flight fail (the Wait silently), and   *)
(* the VM hears AGENT_LOST on a later turn.                               *)
AgentLost ==
  /\ chanUp
  /\ chanUp' = FALSE
  /\ calls' = {}
  /\ queue' = queue \o (IF calls \cap {"create", "start", "pause", "resume"} # {}
                        THEN << M("task", "AGENT_FAILED") >> ELSE << >>)
  /\ deferred' = Append(deferred, "agent_lost")
  /\ UNCHANGED <<tvars, vvars>>

Replies(c) ==
  CASE c = "create" -> {"AGENT_CREATED", "AGENT_FAILED"}
    [] c = "start"  -> {"AGENT_STARTED", "AGENT_FAILED"}
    [] c = "pause"  -> {"AGENT_PAUSED", "AGENT_FAILED"}
    [] c = "resume" -> {"AGENT_RESUMED", "AGENT_FAILED"}
    [] c = "wait"   -> {"EXITED"}          \* WaitProcess: the exit

AgentReplies ==
  /\ chanUp
  /\ \E c \in calls :
       /\ calls' = calls \ {c}
       /\ \E ev \in Replies(c) : queue' = Append(queue, M("task", ev))
  /\ UNCHANGED <<tvars, vvars, chanUp, deferred>>

IODrained ==
  /\ drainPending
  /\ drainPending' = FALSE
  /\ queue' = Append(queue, M("task", "IO_DRAINED"))
  /\ UNCHANGED <<taskState, exited, exitPublished, pauseCall, vvars, chanUp, calls, deferred>>

HostileGuest ==                            \* vm_abort from a bad stream frame
  /\ queue = << >>
  /\ chanUp
  /\ vmState # "STOPPED"
  /\ KillQemu
  /\ queue' = << M("vm", "FAIL") >>
  /\ UNCHANGED <<tvars, vmState, qmpUp, agentUp, stopRequested, chanUp, calls, deferred>>

QemuCrashes ==
  /\ qemu = "running"
  /\ qemu' = "gone"
  /\ queue' = Append(queue, M("vm", "QEMU_EXITED"))
  /\ UNCHANGED <<tvars, vmState, qmpUp, agentUp, stopRequested, chanUp, calls, deferred>>

KilledQemuExits ==
  /\ qemu = "killed"
  /\ qemu' = "gone"
  /\ queue' = Append(queue, M("vm", "QEMU_EXITED"))
  /\ UNCHANGED <<tvars, vmState, qmpUp, agentUp, stopRequested, chanUp, calls, deferred>>

TaskTimer ==
  /\ taskState \in TaskWaiting
  /\ ~Pending(M("task", "TIMEOUT"))
  /\ queue' = Append(queue, M("task", "TIMEOUT"))
  /\ UNCHANGED <<tvars, vvars, chanUp, calls, deferred>>

VMTimer ==
  /\ vmState \in VMWaiting
  /\ ~Pending(M("vm", "TIMEOUT"))
  /\ queue' = Append(queue, M("vm", "TIMEOUT"))
  /\ UNCHANGED <<tvars, vvars, chanUp, calls, deferred>>

Dispatch == TaskDispatch \/ VMDispatch

Next ==
  \/ Dispatch
  \/ DeliverDeferred
  \/ Containerd
  \/ QmpReady \/ AgentReady \/ AgentLost \/ AgentReplies \/ IODrained
  \/ HostileGuest \/ QemuCrashes \/ KilledQemuExits
  \/ TaskTimer \/ VMTimer

(* The loop runs, timers fire, SIGKILL works.  Nothing else is promised:  *)
(* the guest, QEMU and containerd may stay silent forever.                *)
Spec ==
  /\ Init
  /\ [][Next]_vars
  /\ WF_vars(Dispatch)
  /\ WF_vars(DeliverDeferred)
  /\ WF_vars(TaskTimer)
  /\ WF_vars(VMTimer)
  /\ WF_vars(KilledQemuExits)

----------------------------------------------------------------------------
(* The properties.  kiln-fsmcheck checks the same names on the tables.     *)

(* A TaskExit is published at most once per process.  exitPublished is   *)
(* incremented by every row whose action publishes it (task_act_stopped,  *)
(* task_act_vm_died).                                                     *)
ExitPublishedOnce == exitPublished <= 1

(* News of the VM's end still on its way to the task.                      *)
VMNewsPending ==
  \/ \E i \in DOMAIN deferred : deferred[i] = "vm_stopped"
  \/ Pending(M("task", "VM_DIED"))
  \/ Pending(M("task", "VM_STOPPED"))

(* The VM stops first and the task hears of it a loop turn later (the     *)
(* on_stopped callback is deferred), so "never RUNNING with the VM        *)
(* STOPPED" holds only once that news is delivered.                        *)
NoRunningTaskWithStoppedVM ==
  (vmState = "STOPPED" /\ ~VMNewsPending)
    => taskState \notin {"CREATING", "CREATED", "STARTING", "RUNNING",
                         "PAUSING", "PAUSED", "RESUMING"}

(* Stronger: once the news is in, the task is over.                        *)
NoLiveTaskWithStoppedVM ==
  (vmState = "STOPPED" /\ ~VMNewsPending)
    => taskState \in {"STOPPED", "DELETING", "DELETED"}

(* A deleted task leaves no QEMU running: none was started (the create    *)
(* failed before vm_new), or it has exited, or it was sent SIGKILL (the   *)
(* DELETING timeout) and the VM reaches STOPPED when the exit is reaped   *)
(* (DeleteEventuallyStopsVM).  "VM STOPPED" itself is not an invariant of *)
(* DELETED: the DELETING TIMEOUT row ends the task while the VM is still  *)
(* STOPPING.                                                              *)
DeleteStopsVM ==
  taskState = "DELETED" => /\ qemu # "running"
                           /\ vmState \in {"NEW", "STOPPED"} \/ stopRequested

(* containerd's Pause/Resume (t->pending) is answered whenever the task   *)
(* leaves PAUSING/RESUMING: by the answer rows, task_act_exited_midway or *)
(* task_do_vm_died.                                                        *)
PauseAnswered == pauseCall => taskState \in {"PAUSING", "RESUMING"}

(* Every waiting state of each machine has a TIMEOUT row (static).         *)
WaitingStatesTimeout ==
  \A m \in {"task", "vm"} : WaitingOf[m] \subseteq TimeoutRowsOf[m]

(* Liveness, under weak fairness of the timers, the loop and SIGKILL:     *)
(* every waiting state of either machine is eventually left, so the task  *)
(* ends DELETED or rests in a live, non-waiting state (CREATED, RUNNING,  *)
(* STOPPED) until containerd speaks again.                                *)
EventuallyDeletedOrLive ==
  /\ \A s \in TaskWaiting : (taskState = s) ~> (taskState # s)
  /\ \A s \in VMWaiting : (vmState = s) ~> (vmState # s)

DeleteEventuallyStopsVM ==
  (taskState = "DELETED" /\ vmState # "NEW") ~> (vmState = "STOPPED")

TaskDeletedIsFinal == [][taskState = "DELETED" => taskState' = "DELETED"]_vars
===============================================================================
