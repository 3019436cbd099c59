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

States == {"NEW", "CREATING", "CREATED", "STARTING", "RUNNING", "EXITING",
           "STOPPED", "DELETING", "DELETED"}
Events == {"CREATE", "VM_READY", "AGENT_CREATED", "AGENT_FAILED", "START",
           "AGENT_STARTED", "KILL", "EXITED", "IO_DRAINED", "VM_DIED",
           "DELETE", "VM_STOPPED", "TIMEOUT", "FAIL"}
Waiting  == {"CREATING", "STARTING", "EXITING", "DELETING"}
Terminal == {"DELETED"}
Live     == {"CREATING", "CREATED", "STARTING", "RUNNING", "EXITING"}

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
  R("EXITING", "IO_DRAINED", "", "task_act_stopped", "STOPPED"),
  R("EXITING", "TIMEOUT", "", "task_act_stopped", "STOPPED"),
  R("EXITING", "KILL", "", "task_act_kill_finished", "SAME"),
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
  R("CREATED", "VM_DIED", "", "task_act_vm_died", "STOPPED"),
  R("STARTING", "VM_DIED", "", "task_act_vm_died", "STOPPED"),
  R("RUNNING", "VM_DIED", "", "task_act_vm_died", "STOPPED"),
  R("EXITING", "VM_DIED", "", "task_act_stopped", "STOPPED"),
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
  vmStopped       \* vm_is_stopped(t->vm), as the world decides it

vars == <<taskState, exited, exitPublished, queue, vmReqs, vmStopped>>

TypeOK ==
  /\ taskState \in States
  /\ exited \in BOOLEAN
  /\ exitPublished \in Nat
  /\ queue \in Seq(Events)
  /\ vmReqs \subseteq {"SPAWN", "STOP", "KILL"}
  /\ vmStopped \in BOOLEAN

Init ==
  /\ taskState = "NEW"
  /\ exited = FALSE
  /\ exitPublished = 0
  /\ queue = << >>
  /\ vmReqs = {}
  /\ vmStopped = FALSE

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
  /\ UNCHANGED <<exited, exitPublished, vmStopped>>

Task_NEW_FAIL ==
  /\ Recv("FAIL")
  /\ taskState = "NEW"
  /\ Goto("DELETED", << >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_CREATING_VM_READY ==
  /\ Recv("VM_READY")
  /\ taskState = "CREATING"
  /\ \/ Same(<< >>)                       \* CreateContainer + WaitProcess sent
     \/ Same(<< "AGENT_FAILED" >>)        \* agent channel closed already
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_CREATING_AGENT_CREATED ==
  /\ Recv("AGENT_CREATED")
  /\ taskState = "CREATING"
  /\ Goto("CREATED", << >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_CREATING_AGENT_FAILED ==
  /\ Recv("AGENT_FAILED")
  /\ taskState = "CREATING"
  /\ StopVM("DELETING")
  /\ UNCHANGED <<exited, exitPublished, vmStopped>>

Task_CREATING_VM_DIED ==
  /\ Recv("VM_DIED")
  /\ taskState = "CREATING"
  /\ StopVM("DELETING")
  /\ UNCHANGED <<exited, exitPublished, vmStopped>>

Task_CREATING_TIMEOUT ==
  /\ Recv("TIMEOUT")
  /\ taskState = "CREATING"
  /\ StopVM("DELETING")
  /\ UNCHANGED <<exited, exitPublished, vmStopped>>

Task_CREATED_START ==
  /\ Recv("START")
  /\ taskState = "CREATED"
  /\ \/ Goto("STARTING", << >>)           \* task_act_start: StartProcess sent
     \/ Fail                              \* agent channel closed
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_CREATED_KILL ==
  /\ Recv("KILL")
  /\ taskState = "CREATED"
  /\ \/ Same(<< >>)                       \* task_act_kill: SignalProcess sent
     \/ Fail                              \* bad signal or channel closed
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_CREATED_EXITED ==
  /\ Recv("EXITED")
  /\ taskState = "CREATED"
  /\ Goto("EXITING", << >>)
  /\ exited' = TRUE
  /\ UNCHANGED <<exitPublished, vmReqs, vmStopped>>

Task_CREATED_DELETE ==
  /\ Recv("DELETE")
  /\ taskState = "CREATED"
  /\ StopVM("DELETING")
  /\ UNCHANGED <<exited, exitPublished, vmStopped>>

Task_STARTING_AGENT_STARTED_exited ==
  /\ Recv("AGENT_STARTED")
  /\ taskState = "STARTING"
  /\ exited
  /\ Goto("EXITING", << >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_STARTING_AGENT_STARTED ==
  /\ Recv("AGENT_STARTED")
  /\ taskState = "STARTING"
  /\ ~exited
  /\ Goto("RUNNING", << >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_STARTING_AGENT_FAILED ==
  /\ Recv("AGENT_FAILED")
  /\ taskState = "STARTING"
  /\ Goto("STOPPED", << >>)
  /\ exited' = TRUE                        \* task_act_start_failed: 255
  /\ UNCHANGED <<exitPublished, vmReqs, vmStopped>>

Task_STARTING_TIMEOUT ==
  /\ Recv("TIMEOUT")
  /\ taskState = "STARTING"
  /\ Goto("STOPPED", << >>)
  /\ exited' = TRUE
  /\ UNCHANGED <<exitPublished, vmReqs, vmStopped>>

Task_STARTING_EXITED ==
  /\ Recv("EXITED")
  /\ taskState = "STARTING"
  /\ Same(<< >>)
  /\ exited' = TRUE
  /\ UNCHANGED <<exitPublished, vmReqs, vmStopped>>

Task_STARTING_KILL ==
  /\ Recv("KILL")
  /\ taskState = "STARTING"
  /\ \/ Same(<< >>)                       \* task_act_kill: SignalProcess sent
     \/ Fail                              \* bad signal or channel closed
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_RUNNING_KILL ==
  /\ Recv("KILL")
  /\ taskState = "RUNNING"
  /\ \/ Same(<< >>)                       \* task_act_kill: SignalProcess sent
     \/ Fail                              \* bad signal or channel closed
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_RUNNING_EXITED ==
  /\ Recv("EXITED")
  /\ taskState = "RUNNING"
  /\ Goto("EXITING", << >>)
  /\ exited' = TRUE
  /\ UNCHANGED <<exitPublished, vmReqs, vmStopped>>

Task_EXITING_IO_DRAINED ==
  /\ Recv("IO_DRAINED")
  /\ taskState = "EXITING"
  /\ Goto("STOPPED", << >>)
  /\ exitPublished' = exitPublished + 1
  /\ UNCHANGED <<exited, vmReqs, vmStopped>>

Task_EXITING_TIMEOUT ==
  /\ Recv("TIMEOUT")
  /\ taskState = "EXITING"
  /\ Goto("STOPPED", << >>)
  /\ exitPublished' = exitPublished + 1
  /\ UNCHANGED <<exited, vmReqs, vmStopped>>

Task_EXITING_KILL ==
  /\ Recv("KILL")
  /\ taskState = "EXITING"
  /\ Fail
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_STOPPED_KILL ==
  /\ Recv("KILL")
  /\ taskState = "STOPPED"
  /\ Fail
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_STOPPED_DELETE ==
  /\ Recv("DELETE")
  /\ taskState = "STOPPED"
  /\ StopVM("DELETING")
  /\ UNCHANGED <<exited, exitPublished, vmStopped>>

Task_STOPPED_VM_DIED ==
  /\ Recv("VM_DIED")
  /\ taskState = "STOPPED"
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_STOPPED_EXITED ==
  /\ Recv("EXITED")
  /\ taskState = "STOPPED"
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

(* task_act_deleted: a VM still up is killed (vm_kill).                    *)
Deleted ==
  /\ Goto("DELETED", << >>)
  /\ vmReqs' = IF vmStopped THEN vmReqs ELSE vmReqs \union {"KILL"}
  /\ UNCHANGED <<exited, exitPublished, vmStopped>>

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
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_DELETING_EXITED ==
  /\ Recv("EXITED")
  /\ taskState = "DELETING"
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_DELETING_AGENT_FAILED ==
  /\ Recv("AGENT_FAILED")
  /\ taskState = "DELETING"
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

Task_DELETING_AGENT_CREATED ==
  /\ Recv("AGENT_CREATED")
  /\ taskState = "DELETING"
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

(* The VM died under a live task: exit 137, TaskExit published.            *)

Task_CREATED_VM_DIED ==
  /\ Recv("VM_DIED")
  /\ taskState = "CREATED"
  /\ Goto("STOPPED", << >>)
  /\ exited' = TRUE
  /\ exitPublished' = exitPublished + 1
  /\ UNCHANGED <<vmReqs, vmStopped>>

Task_STARTING_VM_DIED ==
  /\ Recv("VM_DIED")
  /\ taskState = "STARTING"
  /\ Goto("STOPPED", << >>)
  /\ exited' = TRUE
  /\ exitPublished' = exitPublished + 1
  /\ UNCHANGED <<vmReqs, vmStopped>>

Task_RUNNING_VM_DIED ==
  /\ Recv("VM_DIED")
  /\ taskState = "RUNNING"
  /\ Goto("STOPPED", << >>)
  /\ exited' = TRUE
  /\ exitPublished' = exitPublished + 1
  /\ UNCHANGED <<vmReqs, vmStopped>>

Task_EXITING_VM_DIED ==
  /\ Recv("VM_DIED")
  /\ taskState = "EXITING"
  /\ Goto("STOPPED", << >>)
  /\ exitPublished' = exitPublished + 1
  /\ UNCHANGED <<exited, vmReqs, vmStopped>>

Task_ANY_FAIL ==
  /\ Recv("FAIL")
  /\ taskState # "NEW"
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>

(* No row for (state, event): rejected, counted, state unchanged.          *)

Task_Reject ==
  /\ queue # << >>
  /\ ~HasRow(taskState, Head(queue))
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, vmReqs, vmStopped>>
Dispatch ==
  \/ Task_NEW_CREATE \/ Task_NEW_FAIL
  \/ Task_CREATING_VM_READY \/ Task_CREATING_AGENT_CREATED
  \/ Task_CREATING_AGENT_FAILED \/ Task_CREATING_VM_DIED \/ Task_CREATING_TIMEOUT
  \/ Task_CREATED_START \/ Task_CREATED_KILL \/ Task_CREATED_EXITED
  \/ Task_CREATED_DELETE
  \/ Task_STARTING_AGENT_STARTED_exited \/ Task_STARTING_AGENT_STARTED
  \/ Task_STARTING_AGENT_FAILED \/ Task_STARTING_TIMEOUT
  \/ Task_STARTING_EXITED \/ Task_STARTING_KILL
  \/ Task_RUNNING_KILL \/ Task_RUNNING_EXITED
  \/ Task_EXITING_IO_DRAINED \/ Task_EXITING_TIMEOUT \/ Task_EXITING_KILL
  \/ Task_STOPPED_KILL \/ Task_STOPPED_DELETE \/ Task_STOPPED_VM_DIED
  \/ Task_STOPPED_EXITED
  \/ Task_DELETING_VM_STOPPED \/ Task_DELETING_TIMEOUT \/ Task_DELETING_VM_DIED
  \/ Task_DELETING_EXITED \/ Task_DELETING_AGENT_FAILED
  \/ Task_DELETING_AGENT_CREATED
  \/ Task_CREATED_VM_DIED \/ Task_STARTING_VM_DIED \/ Task_RUNNING_VM_DIED
  \/ Task_EXITING_VM_DIED
  \/ Task_ANY_FAIL
  \/ Task_Reject

----------------------------------------------------------------------------
(* The open world.  External events arrive between drains (queue empty);  *)
(* the timer is armed exactly in the waiting states and fires once per    *)
(* arming.  FAIL only ever comes from a failed action.                    *)
Env_Event ==
  /\ queue = << >>
  /\ \E e \in Events \ {"FAIL", "TIMEOUT"} : queue' = << e >>
  /\ UNCHANGED <<taskState, exited, exitPublished, vmReqs, vmStopped>>

Env_Timer ==
  /\ taskState \in Waiting
  /\ \A i \in DOMAIN queue : queue[i] # "TIMEOUT"
  /\ queue' = Append(queue, "TIMEOUT")
  /\ UNCHANGED <<taskState, exited, exitPublished, vmReqs, vmStopped>>

Env_VMStops ==
  /\ "SPAWN" \in vmReqs
  /\ ~vmStopped
  /\ vmStopped' = TRUE
  /\ UNCHANGED <<taskState, exited, exitPublished, queue, vmReqs>>

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

TerminalIsFinal == [][taskState \in Terminal => taskState' = taskState]_vars

(* Every waiting state is eventually left (weak fairness of the timer).    *)
EveryWaitingStateLeft == \A s \in Waiting : (taskState = s) ~> (taskState # s)
=============================================================================
