-------------------------------- MODULE Task --------------------------------
(***************************************************************************)
(* The task machine (core/task_fsm.c, "task"): the container's init        *)
(* process as containerd sees it.  One TLA+ action per table row, named    *)
(* Task_<FROM>_<EVENT>[_<guard>] (FROM is ANY for an FSM_ANY row; the      *)
(* guard suffix is the C guard minus "task_guard_").  Task_Reject is the   *)
(* engine refusing an event with no row.                                   *)
(*                                                                         *)
(* This is the machine alone, in an open world: containerd, the agent and  *)
(* the VM may send any event at any time.  TaskVM.tla closes the world     *)
(* with the VM machine and the messages between the two.                   *)
(*                                                                         *)
(* fsm semantics (fsm/fsm.h): the first row whose from/event match and     *)
(* whose guard holds wins; a failed action keeps the state and posts FAIL; *)
(* posted events drain FIFO before anything else (run-to-completion).      *)
(***************************************************************************)
EXTENDS Naturals, Sequences

(* Mirrors core/task_fsm.c at fsm_def.version 4 (core/core_int.h         *)
(* TASK_STATES/TASK_EVENTS).                                               *)
States == {"NEW", "CREATING", "CREATED", "STARTING", "RUNNING", "PAUSING",
           "PAUSED", "RESUMING", "EXITING", "STOPPED", "DELETING", "DELETED"}
Events == {"CREATE", "VM_READY", "AGENT_CREATED", "AGENT_FAILED", "START",
           "AGENT_STARTED", "KILL", "PAUSE", "AGENT_PAUSED", "RESUME",
           "AGENT_RESUMED", "EXITED", "IO_DRAINED", "VM_DIED", "DELETE",
           "VM_STOPPED", "TIMEOUT", "FAIL"}
Waiting  == {"CREATING", "STARTING", "PAUSING", "RESUMING", "EXITING", "DELETING"}
Terminal == {"DELETED"}
Live     == {"CREATING", "CREATED", "STARTING", "RUNNING", "PAUSING", "PAUSED",
             "RESUMING", "EXITING"}

(* The table, row by row, as in core/task_fsm.c ("ANY" = FSM_ANY,         *)
(* "SAME" = FSM_SAME, "" = NULL).                                          *)
R(f, e, g, a, t) == [from |-> f, ev |-> e, guard |-> g, act |-> a, to |-> t]
Rows == <<
  R("NEW", "CREATE", "", "task_act_create", "CREATING"),
  R("NEW", "FAIL", "", "", "DELETED"),
  R("CREATING", "VM_READY", "", "task_act_agent_create", "SAME"),
  R("CREATING", "AGENT_CREATED", "", "task_act_created", "CREATED"),
  R("CREATING", "AGENT_FAILED", "", "task_act_create_failed", "DELETING"),
  R("CREATING", "VM_DIED", "", "task_act_create_failed", "DELETING"),
  R("CREATING", "TIMEOUT", "", "task_act_create_failed", "DELETING"),
  R("CREATED", "START", "", "task_act_start", "STARTING"),
  R("CREATED", "KILL", "", "task_act_kill", "SAME"),
  R("CREATED", "EXITED", "", "task_act_exited", "EXITING"),
  R("CREATED", "DELETE", "", "task_act_delete", "DELETING"),
  R("STARTING", "AGENT_STARTED", "task_guard_exited", "task_act_started", "EXITING"),
  R("STARTING", "AGENT_STARTED", "", "task_act_started", "RUNNING"),
  R("STARTING", "AGENT_FAILED", "", "task_act_start_failed", "STOPPED"),
  R("STARTING", "TIMEOUT", "", "task_act_start_failed", "STOPPED"),
  R("STARTING", "EXITED", "", "task_act_record_exit", "SAME"),
  R("STARTING", "KILL", "", "task_act_kill", "SAME"),
  R("RUNNING", "KILL", "", "task_act_kill", "SAME"),
  R("RUNNING", "EXITED", "", "task_act_exited", "EXITING"),
  R("RUNNING", "PAUSE", "", "task_act_pause", "PAUSING"),
  R("PAUSING", "AGENT_PAUSED", "", "task_act_paused", "PAUSED"),
  R("PAUSING", "AGENT_FAILED", "", "task_act_pause_failed", "RUNNING"),
  R("PAUSING", "TIMEOUT", "", "task_act_pause_failed", "RUNNING"),
  R("PAUSING", "EXITED", "", "task_act_exited_midway", "EXITING"),
  R("PAUSING", "KILL", "", "task_act_kill", "SAME"),
  R("PAUSED", "RESUME", "", "task_act_resume", "RESUMING"),
  R("PAUSED", "KILL", "", "task_act_kill", "SAME"),
  R("PAUSED", "EXITED", "", "task_act_exited", "EXITING"),
  R("RESUMING", "AGENT_RESUMED", "", "task_act_resumed", "RUNNING"),
  R("RESUMING", "AGENT_FAILED", "", "task_act_pause_failed", "PAUSED"),
  R("RESUMING", "TIMEOUT", "", "task_act_pause_failed", "PAUSED"),
  R("RESUMING", "EXITED", "", "task_act_exited_midway", "EXITING"),
  R("RESUMING", "KILL", "", "task_act_kill", "SAME"),
  R("EXITING", "IO_DRAINED", "", "task_act_stopped", "STOPPED"),
  R("EXITING", "TIMEOUT", "", "task_act_stopped", "STOPPED"),
  R("EXITING", "KILL", "", "task_act_kill_finished", "SAME"),
  R("EXITING", "AGENT_PAUSED", "", "", "SAME"),
  R("EXITING", "AGENT_RESUMED", "", "", "SAME"),
  R("EXITING", "AGENT_FAILED", "", "", "SAME"),
  R("STOPPED", "KILL", "", "task_act_kill_finished", "SAME"),
  R("STOPPED", "DELETE", "", "task_act_delete", "DELETING"),
  R("STOPPED", "VM_DIED", "", "", "SAME"),
  R("STOPPED", "EXITED", "", "", "SAME"),
  R("DELETING", "VM_STOPPED", "", "task_act_deleted", "DELETED"),
  R("DELETING", "TIMEOUT", "", "task_act_deleted", "DELETED"),
  R("DELETING", "VM_DIED", "", "", "SAME"),
  R("DELETING", "EXITED", "", "", "SAME"),
  R("DELETING", "AGENT_FAILED", "", "", "SAME"),
  R("DELETING", "AGENT_CREATED", "", "", "SAME"),
  R("DELETING", "VM_READY", "", "", "SAME"),
  R("DELETING", "DELETE", "", "", "SAME"),
  R("DELETED", "VM_DIED", "", "", "SAME"),
  R("DELETED", "VM_STOPPED", "", "", "SAME"),
  R("DELETED", "VM_READY", "", "", "SAME"),
  R("CREATED", "VM_DIED", "", "task_act_vm_died", "STOPPED"),
  R("STARTING", "VM_DIED", "", "task_act_vm_died", "STOPPED"),
  R("RUNNING", "VM_DIED", "", "task_act_vm_died", "STOPPED"),
  R("PAUSING", "VM_DIED", "", "task_act_vm_died", "STOPPED"),
  R("PAUSED", "VM_DIED", "", "task_act_vm_died", "STOPPED"),
  R("RESUMING", "VM_DIED", "", "task_act_vm_died", "STOPPED"),
  R("EXITING", "VM_DIED", "", "task_act_stopped", "STOPPED"),
  R("ANY", "AGENT_PAUSED", "", "", "SAME"),
  R("ANY", "AGENT_RESUMED", "", "", "SAME"),
  R("ANY", "AGENT_FAILED", "", "", "SAME"),
  R("ANY", "FAIL", "", "", "SAME")
>>

HasRow(s, e) == \E i \in DOMAIN Rows : Rows[i].ev = e /\ Rows[i].from \in {s, "ANY"}

(* The rows whose action publishes /tasks/exit (task_do_stopped).          *)
PublishingActions == {"task_act_stopped", "task_act_vm_died"}

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
  /\ taskState = "NEW"
  /\ exited = FALSE
  /\ exitPublished = 0
  /\ queue = << >>
  /\ vmReqs = {}
  /\ vmStopped = FALSE
  /\ pauseCall = FALSE

----------------------------------------------------------------------------
(* Helpers.                                                                *)
Recv(e) == queue # << >> /\ Head(queue) = e
Goto(s, posted) == taskState' = s /\ queue' = Tail(queue) \o posted
Same(posted) == Goto(taskState, posted)
Fail == Same(<< "FAIL" >>)          \* a failed action: state holds, FAIL posted

(* task_stop_vm(): the VM is stopped already (VM_STOPPED to ourselves),    *)
(* or is asked to stop (vm_stop).                                          *)
StopVM(s) ==
  IF vmStopped
  THEN Goto(s, << "VM_STOPPED" >>) /\ UNCHANGED vmReqs
  ELSE Goto(s, << >>) /\ vmReqs' = vmReqs \union {"STOP"}

----------------------------------------------------------------------------
(* The rows, in table order.                                               *)

Task_NEW_CREATE ==
  /\ Recv("CREATE")
  /\ taskState = "NEW"
  /\ \/ /\ Goto("CREATING", << >>)       \* task_act_create ok: vm_start()
        /\ vmReqs' = vmReqs \union {"SPAWN"}
     \/ /\ Fail                            \* rootfs, spec or stdio failed
        /\ UNCHANGED vmReqs
  /\ UNCHANGED <<exited, exitPublished, vmStopped, pauseCall>>

Task_NEW_FAIL ==
  /\ Recv("FAIL")
  /\ taskState = "NEW"
  /\ Goto("DELETED", << >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_CREATING_VM_READY ==
  /\ Recv("VM_READY")
  /\ taskState = "CREATING"
  /\ \/ Same(<< >>)                       \* CreateContainer + WaitProcess sent
     \/ Same(<< "AGENT_FAILED" >>)        \* agent channel closed already
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_CREATING_AGENT_CREATED ==
  /\ Recv("AGENT_CREATED")
  /\ taskState = "CREATING"
  /\ Goto("CREATED", << >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_CREATING_AGENT_FAILED ==
  /\ Recv("AGENT_FAILED")
  /\ taskState = "CREATING"
  /\ StopVM("DELETING")
  /\ UNCHANGED <<exited, exitPublished, vmStopped, pauseCall>>

Task_CREATING_VM_DIED ==
  /\ Recv("VM_DIED")
  /\ taskState = "CREATING"
  /\ StopVM("DELETING")
  /\ UNCHANGED <<exited, exitPublished, vmStopped, pauseCall>>

Task_CREATING_TIMEOUT ==
  /\ Recv("TIMEOUT")
  /\ taskState = "CREATING"
  /\ StopVM("DELETING")
  /\ UNCHANGED <<exited, exitPublished, vmStopped, pauseCall>>

Task_CREATED_START ==
  /\ Recv("START")
  /\ taskState = "CREATED"
  /\ \/ Goto("STARTING", << >>)           \* task_act_start: StartProcess sent
     \/ Fail                              \* agent channel closed
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_CREATED_KILL ==
  /\ Recv("KILL")
  /\ taskState = "CREATED"
  /\ \/ Same(<< >>)                       \* task_act_kill: SignalProcess sent
     \/ Fail                              \* bad signal or channel closed
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_CREATED_EXITED ==
  /\ Recv("EXITED")
  /\ taskState = "CREATED"
  /\ Goto("EXITING", << >>)
  /\ exited' = TRUE
  /\ UNCHANGED <<exitPublished, vmReqs, vmStopped, pauseCall>>

Task_CREATED_DELETE ==
  /\ Recv("DELETE")
  /\ taskState = "CREATED"
  /\ StopVM("DELETING")
  /\ UNCHANGED <<exited, exitPublished, vmStopped, pauseCall>>

Task_STARTING_AGENT_STARTED_exited ==
  /\ Recv("AGENT_STARTED")
  /\ taskState = "STARTING"
  /\ exited
  /\ Goto("EXITING", << >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_STARTING_AGENT_STARTED ==
  /\ Recv("AGENT_STARTED")
  /\ taskState = "STARTING"
  /\ ~exited
  /\ Goto("RUNNING", << >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_STARTING_AGENT_FAILED ==
  /\ Recv("AGENT_FAILED")
  /\ taskState = "STARTING"
  /\ Goto("STOPPED", << >>)
  /\ exited' = TRUE                        \* task_act_start_failed: 255
  /\ UNCHANGED <<exitPublished, vmReqs, vmStopped, pauseCall>>

Task_STARTING_TIMEOUT ==
  /\ Recv("TIMEOUT")
  /\ taskState = "STARTING"
  /\ Goto("STOPPED", << >>)
  /\ exited' = TRUE
  /\ UNCHANGED <<exitPublished, vmReqs, vmStopped, pauseCall>>

Task_STARTING_EXITED ==
  /\ Recv("EXITED")
  /\ taskState = "STARTING"
  /\ Same(<< >>)
  /\ exited' = TRUE
  /\ UNCHANGED <<exitPublished, vmReqs, vmStopped, pauseCall>>

Task_STARTING_KILL ==
  /\ Recv("KILL")
  /\ taskState = "STARTING"
  /\ \/ Same(<< >>)                       \* task_act_kill: SignalProcess sent
     \/ Fail                              \* bad signal or channel closed
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_RUNNING_KILL ==
  /\ Recv("KILL")
  /\ taskState = "RUNNING"
  /\ \/ Same(<< >>)                       \* task_act_kill: SignalProcess sent
     \/ Fail                              \* bad signal or channel closed
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_RUNNING_EXITED ==
  /\ Recv("EXITED")
  /\ taskState = "RUNNING"
  /\ Goto("EXITING", << >>)
  /\ exited' = TRUE
  /\ UNCHANGED <<exitPublished, vmReqs, vmStopped, pauseCall>>

(* Pause and resume (task_act_pause/task_act_resume: PauseContainer or    *)
(* ResumeContainer sent to the agent, timer armed; they fail if the agent *)
(* channel is closed).  containerd's call waits in t->pending (pauseCall) *)
(* until an answer row runs.                                               *)

Task_RUNNING_PAUSE ==
  /\ Recv("PAUSE")
  /\ taskState = "RUNNING"
  /\ \/ Goto("PAUSING", << >>) /\ pauseCall' = TRUE
     \/ Fail /\ UNCHANGED pauseCall         \* channel closed: caller answered
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

(* task_act_paused / task_act_resumed: the call is answered, TaskPaused or *)
(* TaskResumed published.                                                  *)
Answered(s, e, to) ==
  /\ Recv(e)
  /\ taskState = s
  /\ Goto(to, << >>)
  /\ pauseCall' = FALSE
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_PAUSING_AGENT_PAUSED  == Answered("PAUSING", "AGENT_PAUSED", "PAUSED")
Task_PAUSING_AGENT_FAILED  == Answered("PAUSING", "AGENT_FAILED", "RUNNING")  \* task_act_pause_failed
Task_PAUSING_TIMEOUT       == Answered("PAUSING", "TIMEOUT", "RUNNING")       \* task_act_pause_failed

(* task_act_exited_midway: the call is failed, the exit recorded, the     *)
(* drain started.                                                          *)
ExitedMidway(s) ==
  /\ Recv("EXITED")
  /\ taskState = s
  /\ Goto("EXITING", << >>)
  /\ exited' = TRUE
  /\ pauseCall' = FALSE
  /\ UNCHANGED <<exitPublished, vmReqs, vmStopped>>

Task_PAUSING_EXITED == ExitedMidway("PAUSING")

Kill(s) ==                                 \* task_act_kill
  /\ Recv("KILL")
  /\ taskState = s
  /\ \/ Same(<< >>)
     \/ Fail
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_PAUSING_KILL == Kill("PAUSING")

Task_PAUSED_RESUME ==
  /\ Recv("RESUME")
  /\ taskState = "PAUSED"
  /\ \/ Goto("RESUMING", << >>) /\ pauseCall' = TRUE
     \/ Fail /\ UNCHANGED pauseCall
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_PAUSED_KILL == Kill("PAUSED")

Task_PAUSED_EXITED ==                      \* task_act_exited
  /\ Recv("EXITED")
  /\ taskState = "PAUSED"
  /\ Goto("EXITING", << >>)
  /\ exited' = TRUE
  /\ UNCHANGED <<exitPublished, vmReqs, vmStopped, pauseCall>>

Task_RESUMING_AGENT_RESUMED == Answered("RESUMING", "AGENT_RESUMED", "RUNNING")
Task_RESUMING_AGENT_FAILED  == Answered("RESUMING", "AGENT_FAILED", "PAUSED")  \* task_act_pause_failed
Task_RESUMING_TIMEOUT       == Answered("RESUMING", "TIMEOUT", "PAUSED")       \* task_act_pause_failed
Task_RESUMING_EXITED        == ExitedMidway("RESUMING")
Task_RESUMING_KILL          == Kill("RESUMING")

Task_EXITING_IO_DRAINED ==
  /\ Recv("IO_DRAINED")
  /\ taskState = "EXITING"
  /\ Goto("STOPPED", << >>)
  /\ exitPublished' = exitPublished + 1
  /\ UNCHANGED <<exited, vmReqs, vmStopped, pauseCall>>

Task_EXITING_TIMEOUT ==
  /\ Recv("TIMEOUT")
  /\ taskState = "EXITING"
  /\ Goto("STOPPED", << >>)
  /\ exitPublished' = exitPublished + 1
  /\ UNCHANGED <<exited, vmReqs, vmStopped, pauseCall>>

Task_EXITING_KILL ==
  /\ Recv("KILL")
  /\ taskState = "EXITING"
  /\ Fail
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

(* A row with no action and FSM_SAME: late news, consumed.                 *)
Ignore(s, e) ==
  /\ Recv(e)
  /\ taskState = s
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

(* Answers to a pause or resume the exit overtook.                         *)
Task_EXITING_AGENT_PAUSED  == Ignore("EXITING", "AGENT_PAUSED")
Task_EXITING_AGENT_RESUMED == Ignore("EXITING", "AGENT_RESUMED")
Task_EXITING_AGENT_FAILED  == Ignore("EXITING", "AGENT_FAILED")

Task_STOPPED_KILL ==
  /\ Recv("KILL")
  /\ taskState = "STOPPED"
  /\ Fail
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_STOPPED_DELETE ==
  /\ Recv("DELETE")
  /\ taskState = "STOPPED"
  /\ StopVM("DELETING")
  /\ UNCHANGED <<exited, exitPublished, vmStopped, pauseCall>>

Task_STOPPED_VM_DIED ==
  /\ Recv("VM_DIED")
  /\ taskState = "STOPPED"
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_STOPPED_EXITED ==
  /\ Recv("EXITED")
  /\ taskState = "STOPPED"
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

(* task_act_deleted: a VM still up is killed (vm_kill).                    *)
Deleted ==
  /\ Goto("DELETED", << >>)
  /\ vmReqs' = IF vmStopped THEN vmReqs ELSE vmReqs \union {"KILL"}
  /\ UNCHANGED <<exited, exitPublished, vmStopped, pauseCall>>

Task_DELETING_VM_STOPPED ==
  /\ Recv("VM_STOPPED")
  /\ taskState = "DELETING"
  /\ Deleted

Task_DELETING_TIMEOUT ==
  /\ Recv("TIMEOUT")
  /\ taskState = "DELETING"
  /\ Deleted

Task_DELETING_VM_DIED ==
  /\ Recv("VM_DIED")
  /\ taskState = "DELETING"
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_DELETING_EXITED ==
  /\ Recv("EXITED")
  /\ taskState = "DELETING"
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_DELETING_AGENT_FAILED ==
  /\ Recv("AGENT_FAILED")
  /\ taskState = "DELETING"
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_DELETING_AGENT_CREATED ==
  /\ Recv("AGENT_CREATED")
  /\ taskState = "DELETING"
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

(* A VM that came up after the task gave up on it: being stopped.          *)
Task_DELETING_VM_READY == Ignore("DELETING", "VM_READY")

(* Delete after a failed create (task v4): held, answered when the VM is  *)
(* gone (the VM_STOPPED/TIMEOUT rows); the state does not change.         *)
Task_DELETING_DELETE == Ignore("DELETING", "DELETE")

(* Late news from a VM the task is done with.                              *)
Task_DELETED_VM_DIED    == Ignore("DELETED", "VM_DIED")
Task_DELETED_VM_STOPPED == Ignore("DELETED", "VM_STOPPED")
Task_DELETED_VM_READY   == Ignore("DELETED", "VM_READY")

(* The VM died under a live task: exit 137, TaskExit published.            *)

Task_CREATED_VM_DIED ==
  /\ Recv("VM_DIED")
  /\ taskState = "CREATED"
  /\ Goto("STOPPED", << >>)
  /\ exited' = TRUE
  /\ exitPublished' = exitPublished + 1
  /\ UNCHANGED <<vmReqs, vmStopped, pauseCall>>

Task_STARTING_VM_DIED ==
  /\ Recv("VM_DIED")
  /\ taskState = "STARTING"
  /\ Goto("STOPPED", << >>)
  /\ exited' = TRUE
  /\ exitPublished' = exitPublished + 1
  /\ UNCHANGED <<vmReqs, vmStopped, pauseCall>>

Task_RUNNING_VM_DIED ==
  /\ Recv("VM_DIED")
  /\ taskState = "RUNNING"
  /\ Goto("STOPPED", << >>)
  /\ exited' = TRUE
  /\ exitPublished' = exitPublished + 1
  /\ UNCHANGED <<vmReqs, vmStopped, pauseCall>>

(* task_do_vm_died also fails containerd's call in t->pending, if any.     *)
VMDied(s) ==
  /\ Recv("VM_DIED")
  /\ taskState = s
  /\ Goto("STOPPED", << >>)
  /\ exited' = TRUE
  /\ exitPublished' = exitPublished + 1
  /\ pauseCall' = FALSE
  /\ UNCHANGED <<vmReqs, vmStopped>>

Task_PAUSING_VM_DIED  == VMDied("PAUSING")
Task_PAUSED_VM_DIED   == VMDied("PAUSED")
Task_RESUMING_VM_DIED == VMDied("RESUMING")

Task_EXITING_VM_DIED ==
  /\ Recv("VM_DIED")
  /\ taskState = "EXITING"
  /\ Goto("STOPPED", << >>)
  /\ exitPublished' = exitPublished + 1
  /\ UNCHANGED <<exited, vmReqs, vmStopped, pauseCall>>

(* Agent answers that come after the task moved on (a pause that timed   *)
(* out, an exit that overtook a resume): late news, ignored.  First match *)
(* wins, so each FSM_ANY row leaves out the states with an earlier row    *)
(* for its event.                                                          *)
LateAnswer(e, earlier) ==
  /\ Recv(e)
  /\ taskState \notin earlier
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Task_ANY_AGENT_PAUSED  == LateAnswer("AGENT_PAUSED", {"PAUSING", "EXITING"})
Task_ANY_AGENT_RESUMED == LateAnswer("AGENT_RESUMED", {"RESUMING", "EXITING"})
Task_ANY_AGENT_FAILED  ==
  LateAnswer("AGENT_FAILED", {"CREATING", "STARTING", "PAUSING", "RESUMING",
                              "EXITING", "DELETING"})

Task_ANY_FAIL ==
  /\ Recv("FAIL")
  /\ taskState # "NEW"
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>

(* No row for (state, event): rejected, counted, state unchanged.          *)

Task_Reject ==
  /\ queue # << >>
  /\ ~HasRow(taskState, Head(queue))
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped, pauseCall>>
Dispatch ==
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
(* The open world.  External events arrive between drains (queue empty);  *)
(* the timer is armed exactly in the waiting states and fires once per    *)
(* arming.  FAIL only ever comes from a failed action.                    *)
Env_Event ==
  /\ queue = << >>
  /\ \E e \in Events \ {"FAIL", "TIMEOUT"} : queue' = << e >>
  /\ UNCHANGED <<taskState, exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Env_Timer ==
  /\ taskState \in Waiting
  /\ \A i \in DOMAIN queue : queue[i] # "TIMEOUT"
  /\ queue' = Append(queue, "TIMEOUT")
  /\ UNCHANGED <<taskState, exited, exitPublished, vmReqs, vmStopped, pauseCall>>

Env_VMStops ==
  /\ "SPAWN" \in vmReqs
  /\ ~vmStopped
  /\ vmStopped' = TRUE
  /\ UNCHANGED <<taskState, exited, exitPublished, queue, vmReqs, pauseCall>>

Next == Dispatch \/ Env_Event \/ Env_Timer \/ Env_VMStops

Spec == Init /\ [][Next]_vars /\ WF_vars(Dispatch) /\ WF_vars(Env_Timer)

----------------------------------------------------------------------------
(* Properties (the same names are checked by kiln-fsmcheck on the table). *)

(* Every waiting state has a TIMEOUT row (static: over the constant table). *)
WaitingStatesTimeout ==
  \A s \in Waiting : \E i \in DOMAIN Rows :
    Rows[i].ev = "TIMEOUT" /\ Rows[i].from \in {s, "ANY"}

(* TaskExit is published at most once.                                     *)
ExitPublishedOnce == exitPublished <= 1

(* Only rows whose action publishes can count; nothing is published before *)
(* the process is known to have ended.                                     *)
PublishedOnlyWhenStopped == exitPublished > 0 => taskState \in {"STOPPED", "DELETING", "DELETED"}

(* containerd's Pause/Resume is answered by every row that leaves PAUSING *)
(* or RESUMING (paused, pause_failed, exited_midway, vm_died).             *)
PauseAnswered == pauseCall => taskState \in {"PAUSING", "RESUMING"}

(* Late answers of the agent that the table would reject (no row): a     *)
(* Pause or Resume answered after the task timed out (RUNNING/PAUSED) or  *)
(* after the exit was published (STOPPED, DELETING, DELETED).  Not an     *)
(* error of the engine (rejected = consumed), but kiln-fsmcheck's         *)
(* NoLostMessage asks for explicit late-news rows.  Since task v3 the     *)
(* FSM_ANY AGENT_PAUSED/AGENT_RESUMED/AGENT_FAILED rows catch every one,  *)
(* so no (state, answer) pair is rejected (static, over the table).       *)
LateAgentAnswerRejected(s, e) ==
  e \in {"AGENT_PAUSED", "AGENT_RESUMED", "AGENT_FAILED"} /\ ~HasRow(s, e)

LateAgentAnswersHandled ==
  \A s \in States, e \in {"AGENT_PAUSED", "AGENT_RESUMED", "AGENT_FAILED"} :
    ~LateAgentAnswerRejected(s, e)

TerminalIsFinal == [][(taskState \in Terminal) => taskState' = taskState]_vars

(* Every waiting state is eventually left (weak fairness of the timer).    *)
EveryWaitingStateLeft == \A s \in Waiting : (taskState = s) ~> (taskState # s)
=============================================================================
