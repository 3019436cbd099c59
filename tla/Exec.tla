-------------------------------- MODULE Exec --------------------------------
(***************************************************************************)
(* The exec machine (core/exec_fsm.c, "exec"): one process started in a   *)
(* running container (ctr task exec); its actions are in core/exec.c.     *)
(* The rows are generated from the C (`kiln-fsm tla exec`,                *)
(* tla/gen/ExecRows.tla) and interpreted with the engine's rules from     *)
(* that module (Select: the first matching row whose guard holds; a       *)
(* failed action keeps the state and posts FAIL at the tail of the run    *)
(* queue); this module adds what each action does, the world and the      *)
(* properties.                                                             *)
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
(***************************************************************************)
EXTENDS Naturals, Sequences, ExecRows

(* What the actions do, in the model's terms.                              *)
Publishing == {"exec_act_stopped", "exec_act_vm_died"}   \* TaskExit (exec id)
Records == {"exec_act_start_failed", "exec_act_record_exit", "exec_act_exited",
            "exec_act_stopped", "exec_act_vm_died"}      \* the exit is known
Drains == {"exec_act_exited"}            \* exec_do_drain: IO_DRAINED follows
(* Fallible: exec_act_start (no channel), exec_act_kill (bad signal, no    *)
(* channel), exec_act_kill_unstarted and exec_act_kill_finished (always:  *)
(* FAILED_PRECONDITION / NOT_FOUND).  exec_act_add never fails: with no   *)
(* channel it posts AGENT_FAILED.                                          *)
Fallible == {"exec_act_start", "exec_act_kill", "exec_act_kill_unstarted",
             "exec_act_kill_finished"}
AlwaysFails == {"exec_act_kill_unstarted", "exec_act_kill_finished"}
Quiet == {"exec_act_add", "exec_act_add_failed", "exec_act_added",
          "exec_act_deleted", "exec_act_started"}

ASSUME Actions = Publishing \union Records \union Drains \union Fallible \union Quiet
ASSUME AlwaysFails \subseteq Fallible
ASSUME Guards = {"exec_guard_exited"}
ASSUME WaitingStatesTimeout

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
  /\ execState = Initial
  /\ exited = FALSE
  /\ exitPublished = 0
  /\ drainPending = FALSE
  /\ queue = << >>
  /\ vmGone = FALSE
  /\ vmNotified = FALSE

----------------------------------------------------------------------------
(* The engine over the generated rows.                                     *)
GS == IF exited THEN {"exec_guard_exited"} ELSE {}
One(b) == IF b THEN 1 ELSE 0
AfterFail(e) == IF PostsFail(e) THEN << FailEvent >> ELSE << >>

(* exec_act_add with the channel closed posts AGENT_FAILED; exec_act_start *)
(* fails exactly when it is closed (the VM gone), else succeeds.           *)
Posts(a) == IF a = "exec_act_add" /\ vmGone THEN << "AGENT_FAILED" >> ELSE << >>
CanSucceed(a) == a \notin AlwaysFails /\ (a = "exec_act_start" => ~vmGone)
CanFail(a) == a \in Fallible /\ (a = "exec_act_start" => vmGone)

Fire ==
  /\ queue # << >>
  /\ CanSelect(execState, Head(queue), GS)
  /\ LET i == Select(execState, Head(queue), GS)
         a == Rows[i].act
     IN /\ CanSucceed(a)
        /\ execState' = Target(i, execState)
        /\ exited' = (exited \/ a \in Records)
        /\ exitPublished' = exitPublished + One(a \in Publishing)
        \* exec_act_started drains at once if the exit came first
        /\ drainPending' = (drainPending \/ a \in Drains
                             \/ (a = "exec_act_started" /\ exited))
        /\ queue' = Tail(queue) \o Posts(a)
  /\ UNCHANGED <<vmGone, vmNotified>>

FireFails ==
  /\ queue # << >>
  /\ CanSelect(execState, Head(queue), GS)
  /\ CanFail(Rows[Select(execState, Head(queue), GS)].act)
  /\ queue' = Tail(queue) \o AfterFail(Head(queue))
  /\ UNCHANGED <<execState, exited, exitPublished, drainPending, vmGone, vmNotified>>

Reject ==
  /\ queue # << >>
  /\ ~CanSelect(execState, Head(queue), GS)
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<execState, exited, exitPublished, drainPending, vmGone, vmNotified>>

Dispatch == Fire \/ FireFails \/ Reject
World == <<vmGone, vmNotified>>

----------------------------------------------------------------------------
(* The world.  containerd may call anything between drains (ADD comes     *)
(* first: h_exec creates the exec and sends it ADD at once); the agent    *)
(* answers only while its channel is up; the drain ends in IO_DRAINED;    *)
(* the timer is armed exactly in the waiting states.  External news and  *)
(* timers are reactor callbacks: they arrive between drains.              *)
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
(* WaitProcess) while its channel is up: a reply is a reactor callback,   *)
(* so it comes between drains.  That bounds the queue (an Agent that      *)
(* appended behind a drain made TLC's state space infinite).              *)
Agent ==
  /\ ~vmGone
  /\ queue = << >>
  /\ execState # "NEW"
  /\ \E e \in {"AGENT_ADDED", "AGENT_FAILED", "AGENT_STARTED", "EXITED"} :
       queue' = << e >>
  /\ UNCHANGED <<execState, exited, exitPublished, drainPending, World>>

Drained ==
  /\ drainPending
  /\ drainPending' = FALSE
  /\ queue' = Append(queue, "IO_DRAINED")
  /\ UNCHANGED <<execState, exited, exitPublished, World>>

Timer ==                                   \* between drains (a reactor callback)
  /\ execState \in Waiting
  /\ queue = << >>
  /\ queue' = << TimeoutEvent >>
  /\ UNCHANGED <<execState, exited, exitPublished, drainPending, World>>

(* QEMU is gone (crashed, killed or shut down: the VM is STOPPED, the      *)
(* agent channel with it), whatever the task's state.                      *)
VMDies ==
  /\ ~vmGone
  /\ vmGone' = TRUE
  /\ UNCHANGED <<execState, exited, exitPublished, drainPending, queue, vmNotified>>

(* The deferred on_stopped callback, task_vm_stopped_cb: VM_DIED to every *)
(* exec of the task, i.e. to this one once h_exec made it (ADD sent).      *)
VMStoppedCb ==                             \* a deferred call: between drains
  /\ vmGone
  /\ ~vmNotified
  /\ queue = << >>
  /\ vmNotified' = TRUE
  /\ queue' = IF execState # "NEW" THEN << "VM_DIED" >> ELSE << >>
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
  /\ WF_vars(Dispatch) /\ SF_vars(Timer) /\ SF_vars(VMStoppedCb)

----------------------------------------------------------------------------
(* Properties (names shared with kiln-fsmcheck where it checks them).     *)

(* WaitingStatesTimeout (ExecRows, over the generated rows) is an ASSUME *)
(* above: a constant formula, not an invariant.                           *)

(* The exec's TaskExit is published at most once: every publishing row   *)
(* (exec_act_stopped, exec_act_vm_died) ends in STOPPED, no publishing   *)
(* row starts from STOPPED or DELETED, and nothing leaves those two but   *)
(* STOPPED --DELETE--> DELETED.                                           *)
ExecExitPublishedOnce == exitPublished <= 1

(* Nothing is published before the process is known to have ended.        *)
ExecPublishedOnlyWhenStopped ==
  (exitPublished > 0) => (execState \in {"STOPPED", "DELETED"} /\ exited)

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
