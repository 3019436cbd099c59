-------------------------------- MODULE Exec --------------------------------
(***************************************************************************)
(* The exec machine (core/exec_fsm.c, "exec", fsm_def.version 1): one      *)
(* process started in a running container (ctr task exec); its actions    *)
(* are in core/exec.c.  One TLA+ action per table row, named               *)
(* Exec_<FROM>_<EVENT>[_<guard>] (FROM is ANY for an FSM_ANY row; the      *)
(* guard suffix is the C guard minus "exec_guard_").  Exec_Reject is the   *)
(* engine refusing an event with no row.                                   *)
(*                                                                         *)
(* The world is open (containerd and the agent may send what they like),   *)
(* with the coupling to the VM made explicit:                              *)
(*                                                                         *)
(*  * the exec hears VM_DIED from task_vm_stopped_cb() (core/task.c), the  *)
(*    VM's on_stopped callback, which posts it to every exec of the task   *)
(*    whenever QEMU is gone (crashed or not), in any task state.           *)
(*    vm_do_stopped defers that callback, so it runs a loop turn after the *)
(*    VM went STOPPED (`vmGone`); `vmNotified` says it has run.            *)
(*  * an exec exists only once h_exec (core/task_service.c) made it, which *)
(*    it refuses unless task_status() is RUNNING (task STARTING, RUNNING   *)
(*    or EXITING).  The callback then posts the task VM_DIED (stop is not  *)
(*    requested in those states: only the rows into DELETING/DELETED call  *)
(*    vm_stop/vm_kill), and every task VM_DIED row from a live state ends  *)
(*    in STOPPED or DELETING, which never lead back: after the callback no *)
(*    exec is made.  An exec made before it is in t->execs and told.       *)
(*                                                                         *)
(* fsm semantics as in Task.tla: first matching row wins, a failed action  *)
(* keeps the state and posts FAIL, posted events drain first.              *)
(***************************************************************************)
EXTENDS Naturals, Sequences

(* Mirrors core/exec_fsm.c at fsm_def.version 1 (core/core_int.h          *)
(* EXEC_STATES/EXEC_EVENTS).                                               *)
States == {"NEW", "ADDING", "CREATED", "STARTING", "RUNNING", "EXITING",
           "STOPPED", "DELETED"}
Events == {"ADD", "AGENT_ADDED", "AGENT_FAILED", "START", "AGENT_STARTED",
           "KILL", "EXITED", "IO_DRAINED", "VM_DIED", "DELETE", "TIMEOUT",
           "FAIL"}
Waiting  == {"ADDING", "STARTING", "EXITING"}
Terminal == {"DELETED"}

(* The table, row by row ("ANY" = FSM_ANY, "SAME" = FSM_SAME, "" = NULL). *)
R(f, e, g, a, t) == [from |-> f, ev |-> e, guard |-> g, act |-> a, to |-> t]
Rows == <<
  R("NEW", "ADD", "", "exec_act_add", "ADDING"),
  R("NEW", "FAIL", "", "exec_act_add_failed", "DELETED"),
  R("ADDING", "AGENT_ADDED", "", "exec_act_added", "CREATED"),
  R("ADDING", "AGENT_FAILED", "", "exec_act_add_failed", "DELETED"),
  R("ADDING", "TIMEOUT", "", "exec_act_add_failed", "DELETED"),
  R("ADDING", "VM_DIED", "", "exec_act_add_failed", "DELETED"),
  R("CREATED", "START", "", "exec_act_start", "STARTING"),
  R("CREATED", "KILL", "", "exec_act_kill_unstarted", "SAME"),
  R("CREATED", "DELETE", "", "exec_act_deleted", "DELETED"),
  R("CREATED", "VM_DIED", "", "exec_act_vm_died", "STOPPED"),
  R("STARTING", "AGENT_STARTED", "exec_guard_exited", "exec_act_started", "EXITING"),
  R("STARTING", "AGENT_STARTED", "", "exec_act_started", "RUNNING"),
  R("STARTING", "AGENT_FAILED", "", "exec_act_start_failed", "STOPPED"),
  R("STARTING", "TIMEOUT", "", "exec_act_start_failed", "STOPPED"),
  R("STARTING", "EXITED", "", "exec_act_record_exit", "SAME"),
  R("STARTING", "KILL", "", "exec_act_kill", "SAME"),
  R("STARTING", "VM_DIED", "", "exec_act_vm_died", "STOPPED"),
  R("RUNNING", "KILL", "", "exec_act_kill", "SAME"),
  R("RUNNING", "EXITED", "", "exec_act_exited", "EXITING"),
  R("RUNNING", "VM_DIED", "", "exec_act_vm_died", "STOPPED"),
  R("EXITING", "IO_DRAINED", "", "exec_act_stopped", "STOPPED"),
  R("EXITING", "TIMEOUT", "", "exec_act_stopped", "STOPPED"),
  R("EXITING", "VM_DIED", "", "exec_act_stopped", "STOPPED"),
  R("EXITING", "KILL", "", "exec_act_kill_finished", "SAME"),
  R("STOPPED", "KILL", "", "exec_act_kill_finished", "SAME"),
  R("STOPPED", "DELETE", "", "exec_act_deleted", "DELETED"),
  R("STOPPED", "VM_DIED", "", "", "SAME"),
  R("STOPPED", "EXITED", "", "", "SAME"),
  R("STOPPED", "TIMEOUT", "", "", "SAME"),
  R("DELETED", "VM_DIED", "", "", "SAME"),
  R("DELETED", "EXITED", "", "", "SAME"),
  R("DELETED", "AGENT_FAILED", "", "", "SAME"),
  R("ANY", "FAIL", "", "", "SAME")
>>

HasRow(s, e) == \E i \in DOMAIN Rows : Rows[i].ev = e /\ Rows[i].from \in {s, "ANY"}

(* The actions that publish /tasks/exit with the exec id (exec_do_stopped; *)
(* exec_do_vm_died calls it).                                              *)
PublishingActions == {"exec_act_stopped", "exec_act_vm_died"}

(* Fallible actions: exec_act_start (no channel), exec_act_kill (bad       *)
(* signal, no channel), exec_act_kill_unstarted and exec_act_kill_finished *)
(* (always: FAILED_PRECONDITION / NOT_FOUND).  exec_act_add never fails:   *)
(* with no channel it posts AGENT_FAILED.                                  *)

VARIABLES
  execState,      \* fsm.state
  exited,         \* e->exited_ns != 0 (read by exec_guard_exited)
  exitPublished,  \* TaskExit events published for this exec
  drainPending,   \* exec_do_drain ran: IO_DRAINED will follow
  queue,          \* events posted to this machine, not yet dispatched
  vmGone,         \* the VM (and the agent channel with it) is gone
  vmNotified      \* task_vm_stopped_cb has run

vars == <<execState, exited, exitPublished, drainPending, queue, vmGone, vmNotified>>

TypeOK ==
  /\ execState \in States
  /\ exited \in BOOLEAN
  /\ exitPublished \in Nat
  /\ drainPending \in BOOLEAN
  /\ queue \in Seq(Events)
  /\ vmGone \in BOOLEAN
  /\ vmNotified \in BOOLEAN

Init ==
  /\ execState = "NEW"
  /\ exited = FALSE
  /\ exitPublished = 0
  /\ drainPending = FALSE
  /\ queue = << >>
  /\ vmGone = FALSE
  /\ vmNotified = FALSE

----------------------------------------------------------------------------
(* Helpers.                                                                *)
Recv(e) == queue # << >> /\ Head(queue) = e
Goto(s, posted) == execState' = s /\ queue' = Tail(queue) \o posted
Same(posted) == Goto(execState, posted)
Fail == Same(<< "FAIL" >>)
World == <<vmGone, vmNotified>>

(* A row whose action neither publishes nor records an exit.               *)
Move(s, e, to) ==
  /\ Recv(e)
  /\ execState = s
  /\ Goto(IF to = "SAME" THEN s ELSE to, << >>)
  /\ UNCHANGED <<exited, exitPublished, drainPending, World>>

(* A fallible action: it succeeds (state `to`) or fails (FAIL posted).     *)
MayFail(s, e, to) ==
  /\ Recv(e)
  /\ execState = s
  /\ \/ Goto(IF to = "SAME" THEN s ELSE to, << >>)
     \/ Fail
  /\ UNCHANGED <<exited, exitPublished, drainPending, World>>

(* An action that always fails (the caller gets the error).                *)
AlwaysFails(s, e) ==
  /\ Recv(e)
  /\ execState = s
  /\ Fail
  /\ UNCHANGED <<exited, exitPublished, drainPending, World>>

(* exec_act_stopped / exec_act_vm_died: Waits answered, TaskExit with the *)
(* exec id published; exec_act_vm_died first records 137 if no exit is     *)
(* known.                                                                  *)
Publish(s, e) ==
  /\ Recv(e)
  /\ execState = s
  /\ Goto("STOPPED", << >>)
  /\ exited' = TRUE
  /\ exitPublished' = exitPublished + 1
  /\ UNCHANGED <<drainPending, World>>

----------------------------------------------------------------------------
(* The rows, in table order.                                               *)

Exec_NEW_ADD ==                            \* exec_act_add: ExecProcess sent
  /\ Recv("ADD")
  /\ execState = "NEW"
  /\ IF vmGone
     THEN Goto("ADDING", << "AGENT_FAILED" >>)   \* channel closed
     ELSE Goto("ADDING", << >>)
  /\ UNCHANGED <<exited, exitPublished, drainPending, World>>

Exec_NEW_FAIL             == Move("NEW", "FAIL", "DELETED")        \* exec_act_add_failed
Exec_ADDING_AGENT_ADDED   == Move("ADDING", "AGENT_ADDED", "CREATED")  \* exec_act_added: WaitProcess sent
Exec_ADDING_AGENT_FAILED  == Move("ADDING", "AGENT_FAILED", "DELETED") \* exec_act_add_failed
Exec_ADDING_TIMEOUT       == Move("ADDING", "TIMEOUT", "DELETED")
Exec_ADDING_VM_DIED       == Move("ADDING", "VM_DIED", "DELETED")

Exec_CREATED_START ==                      \* exec_act_start: StartProcess sent
  /\ Recv("START")
  /\ execState = "CREATED"
  /\ IF vmGone THEN Fail ELSE Goto("STARTING", << >>)
  /\ UNCHANGED <<exited, exitPublished, drainPending, World>>

Exec_CREATED_KILL    == AlwaysFails("CREATED", "KILL")             \* exec_act_kill_unstarted
Exec_CREATED_DELETE  == Move("CREATED", "DELETE", "DELETED")       \* exec_act_deleted
Exec_CREATED_VM_DIED == Publish("CREATED", "VM_DIED")              \* exec_act_vm_died

Exec_STARTING_AGENT_STARTED_exited ==      \* exec_act_started, then the drain
  /\ Recv("AGENT_STARTED")
  /\ execState = "STARTING"
  /\ exited
  /\ Goto("EXITING", << >>)
  /\ drainPending' = TRUE
  /\ UNCHANGED <<exited, exitPublished, World>>

Exec_STARTING_AGENT_STARTED ==
  /\ Recv("AGENT_STARTED")
  /\ execState = "STARTING"
  /\ ~exited
  /\ Goto("RUNNING", << >>)
  /\ UNCHANGED <<exited, exitPublished, drainPending, World>>

StartFailed(e) ==                          \* exec_act_start_failed: 255, Waits
  /\ Recv(e)
  /\ execState = "STARTING"
  /\ Goto("STOPPED", << >>)
  /\ exited' = TRUE
  /\ UNCHANGED <<exitPublished, drainPending, World>>

Exec_STARTING_AGENT_FAILED == StartFailed("AGENT_FAILED")
Exec_STARTING_TIMEOUT      == StartFailed("TIMEOUT")

Exec_STARTING_EXITED ==                    \* exec_act_record_exit
  /\ Recv("EXITED")
  /\ execState = "STARTING"
  /\ Same(<< >>)
  /\ exited' = TRUE
  /\ UNCHANGED <<exitPublished, drainPending, World>>

Exec_STARTING_KILL    == MayFail("STARTING", "KILL", "SAME")       \* exec_act_kill
Exec_STARTING_VM_DIED == Publish("STARTING", "VM_DIED")            \* exec_act_vm_died
Exec_RUNNING_KILL     == MayFail("RUNNING", "KILL", "SAME")

Exec_RUNNING_EXITED ==                     \* exec_act_exited: record, drain
  /\ Recv("EXITED")
  /\ execState = "RUNNING"
  /\ Goto("EXITING", << >>)
  /\ exited' = TRUE
  /\ drainPending' = TRUE
  /\ UNCHANGED <<exitPublished, World>>

Exec_RUNNING_VM_DIED    == Publish("RUNNING", "VM_DIED")           \* exec_act_vm_died
Exec_EXITING_IO_DRAINED == Publish("EXITING", "IO_DRAINED")        \* exec_act_stopped
Exec_EXITING_TIMEOUT    == Publish("EXITING", "TIMEOUT")           \* exec_act_stopped
Exec_EXITING_VM_DIED    == Publish("EXITING", "VM_DIED")           \* exec_act_stopped
Exec_EXITING_KILL       == AlwaysFails("EXITING", "KILL")          \* exec_act_kill_finished
Exec_STOPPED_KILL       == AlwaysFails("STOPPED", "KILL")          \* exec_act_kill_finished
Exec_STOPPED_DELETE     == Move("STOPPED", "DELETE", "DELETED")    \* exec_act_deleted
Exec_STOPPED_VM_DIED    == Move("STOPPED", "VM_DIED", "SAME")
Exec_STOPPED_EXITED     == Move("STOPPED", "EXITED", "SAME")
Exec_STOPPED_TIMEOUT    == Move("STOPPED", "TIMEOUT", "SAME")
Exec_DELETED_VM_DIED    == Move("DELETED", "VM_DIED", "SAME")
Exec_DELETED_EXITED     == Move("DELETED", "EXITED", "SAME")
Exec_DELETED_AGENT_FAILED == Move("DELETED", "AGENT_FAILED", "SAME")

Exec_ANY_FAIL ==
  /\ Recv("FAIL")
  /\ execState # "NEW"
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, drainPending, World>>

Exec_Reject ==
  /\ queue # << >>
  /\ ~HasRow(execState, Head(queue))
  /\ Same(<< >>)
  /\ UNCHANGED <<exited, exitPublished, drainPending, World>>

Dispatch ==
  \/ Exec_NEW_ADD \/ Exec_NEW_FAIL
  \/ Exec_ADDING_AGENT_ADDED \/ Exec_ADDING_AGENT_FAILED \/ Exec_ADDING_TIMEOUT
  \/ Exec_ADDING_VM_DIED
  \/ Exec_CREATED_START \/ Exec_CREATED_KILL \/ Exec_CREATED_DELETE
  \/ Exec_CREATED_VM_DIED
  \/ Exec_STARTING_AGENT_STARTED_exited \/ Exec_STARTING_AGENT_STARTED
  \/ Exec_STARTING_AGENT_FAILED \/ Exec_STARTING_TIMEOUT \/ Exec_STARTING_EXITED
  \/ Exec_STARTING_KILL \/ Exec_STARTING_VM_DIED
  \/ Exec_RUNNING_KILL \/ Exec_RUNNING_EXITED \/ Exec_RUNNING_VM_DIED
  \/ Exec_EXITING_IO_DRAINED \/ Exec_EXITING_TIMEOUT \/ Exec_EXITING_VM_DIED
  \/ Exec_EXITING_KILL
  \/ Exec_STOPPED_KILL \/ Exec_STOPPED_DELETE \/ Exec_STOPPED_VM_DIED
  \/ Exec_STOPPED_EXITED \/ Exec_STOPPED_TIMEOUT
  \/ Exec_DELETED_VM_DIED \/ Exec_DELETED_EXITED \/ Exec_DELETED_AGENT_FAILED
  \/ Exec_ANY_FAIL
  \/ Exec_Reject

----------------------------------------------------------------------------
(* The world.  containerd may call anything between drains (ADD comes     *)
(* first: h_exec creates the exec and sends it ADD at once); the agent    *)
(* answers only while its channel is up; the drain ends in IO_DRAINED;    *)
(* the timer is armed exactly in the waiting states.                      *)
Containerd ==
  /\ queue = << >>
  /\ \E e \in {"START", "KILL", "DELETE"} : queue' = << e >>
  /\ execState # "NEW"
  /\ UNCHANGED <<execState, exited, exitPublished, drainPending, World>>

ContainerdAdds ==                          \* h_exec: only while the task is
  /\ queue = << >>                          \* RUNNING, never again after
  /\ execState = "NEW"                      \* task_vm_stopped_cb
  /\ ~vmNotified
  /\ queue' = << "ADD" >>
  /\ UNCHANGED <<execState, exited, exitPublished, drainPending, World>>

(* The agent answers the calls in flight (AddProcess, StartProcess,       *)
(* WaitProcess); with the timer and the VM's death that is never more     *)
(* than MaxQueue messages behind a dispatch, so the queue is bounded      *)
(* (unbounded, TLC's state space was infinite).                           *)
MaxQueue == 4

Agent ==
  /\ ~vmGone
  /\ Len(queue) < MaxQueue
  /\ \E e \in {"AGENT_ADDED", "AGENT_FAILED", "AGENT_STARTED", "EXITED"} :
       queue' = Append(queue, e)
  /\ UNCHANGED <<execState, exited, exitPublished, drainPending, World>>

Drained ==
  /\ drainPending
  /\ drainPending' = FALSE
  /\ queue' = Append(queue, "IO_DRAINED")
  /\ UNCHANGED <<execState, exited, exitPublished, World>>

Timer ==
  /\ execState \in Waiting
  /\ \A i \in DOMAIN queue : queue[i] # "TIMEOUT"
  /\ queue' = Append(queue, "TIMEOUT")
  /\ UNCHANGED <<execState, exited, exitPublished, drainPending, World>>

(* QEMU is gone (crashed, killed or shut down: the VM is STOPPED, the      *)
(* agent channel with it), whatever the task's state.                      *)
VMDies ==
  /\ ~vmGone
  /\ vmGone' = TRUE
  /\ UNCHANGED <<execState, exited, exitPublished, drainPending, queue, vmNotified>>

(* The deferred on_stopped callback, task_vm_stopped_cb: VM_DIED to every *)
(* exec of the task, i.e. to this one once h_exec made it (ADD sent).      *)
VMStoppedCb ==
  /\ vmGone
  /\ ~vmNotified
  /\ vmNotified' = TRUE
  /\ queue' = IF execState # "NEW" \/ Recv("ADD")
              THEN Append(queue, "VM_DIED") ELSE queue
  /\ UNCHANGED <<execState, exited, exitPublished, drainPending, vmGone>>

(* The end: the exec is deleted, or the VM went before h_exec made it    *)
(* (the C never makes an exec once the VM is gone). Declared, so that a   *)
(* deadlock check does not report it.                                     *)
Ended ==
  /\ queue = << >>
  /\ \/ execState \in Terminal
     \/ execState = "NEW" /\ vmNotified
  /\ UNCHANGED vars

Next ==
  \/ Dispatch
  \/ Containerd \/ ContainerdAdds \/ Agent \/ Drained \/ Timer
  \/ VMDies \/ VMStoppedCb \/ Ended

(* The loop runs (dispatch and deferred callbacks) and timers fire.       *)
Spec ==
  /\ Init /\ [][Next]_vars
  /\ WF_vars(Dispatch) /\ WF_vars(Timer) /\ WF_vars(VMStoppedCb)

----------------------------------------------------------------------------
(* Properties (names shared with kiln-fsmcheck where it checks them).     *)

(* Every waiting state has a TIMEOUT row (static: over the constant table). *)
WaitingStatesTimeout ==
  \A s \in Waiting : \E i \in DOMAIN Rows :
    Rows[i].ev = "TIMEOUT" /\ Rows[i].from \in {s, "ANY"}

(* The exec's TaskExit is published at most once: every publishing row   *)
(* (exec_act_stopped, exec_act_vm_died) ends in STOPPED, no publishing   *)
(* row starts from STOPPED or DELETED, and nothing leaves those two but   *)
(* STOPPED --DELETE--> DELETED.                                           *)
ExecExitPublishedOnce == exitPublished <= 1

(* Nothing is published before the process is known to have ended.        *)
ExecPublishedOnlyWhenStopped ==
  exitPublished > 0 => (execState \in {"STOPPED", "DELETED"} /\ exited)

TerminalIsFinal == [][(execState \in Terminal) => execState' = execState]_vars

(* Every waiting state is eventually left (weak fairness of the timer).    *)
EveryWaitingStateLeft == \A s \in Waiting : (execState = s) ~> (execState # s)

(* Once the VM is gone, a created or running exec is eventually stopped  *)
(* (its Waits answered, its TaskExit published).  CREATED and RUNNING     *)
(* have no TIMEOUT; what ends them is task_vm_stopped_cb's VM_DIED, which *)
(* every exec made before the callback gets (CREATED/RUNNING VM_DIED ->   *)
(* exec_act_vm_died -> STOPPED), and no exec is made after it.  Holds     *)
(* now that the callback tells the execs; it failed while they were told  *)
(* only by task_do_vm_died, from the task's live VM_DIED rows (an init    *)
(* that exited first left a RUNNING exec hanging).                        *)
ExecEndsWithVM ==
  \A s \in {"CREATED", "RUNNING"} :
    (vmGone /\ execState = s) ~> (execState # s)
=============================================================================
