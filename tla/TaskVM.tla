-------------------------------- MODULE TaskVM --------------------------------
(***************************************************************************)
(* The task machine (core/task_fsm.c) and the VM machine (core/vm_fsm.c)   *)
(* of one container, composed, with the coupling of core/task.c and        *)
(* core/vm.c written as explicit messages:                                 *)
(*                                                                         *)
(*   task -> vm   task_do_boot:   vm_start      = SPAWN posted to the vm   *)
(*                task_stop_vm:   vm_stop       = stop_requested, STOP     *)
(*                                (VM stopped already: VM_STOPPED posted   *)
(*                                 to the task itself)                     *)
(*                task_do_deleted: vm_kill      = stop_requested, SIGKILL, *)
(*                                                STOP                     *)
(*   vm -> task   vm_do_ready:   deferred on_ready   -> VM_READY           *)
(*                vm_do_stopped: deferred on_stopped -> VM_DIED if         *)
(*                               ~stop_requested else VM_STOPPED           *)
(*                                                                         *)
(* Both tables are generated from the C (tla/gen/TaskRows.tla,             *)
(* VMRows.tla) and used as named instances, T and V (both define States,   *)
(* Rows, ...), interpreted with the engine's rules from those modules:     *)
(* Select picks the first row whose guard holds, "SAME" keeps the state,   *)
(* no row is a rejection, a failed action keeps the state and posts FAIL   *)
(* at the tail of the run queue.  Only the environment, what each action   *)
(* does and the properties are written here.                               *)
(*                                                                         *)
(* Run-to-completion: both machines share one fsm_env, so `queue` is the   *)
(* env's FIFO of posted events (records [to, ev]).  Deferred callbacks     *)
(* (reactor_defer) are a second FIFO, `deferred`.  External news           *)
(* (containerd, QEMU, the agent, the rootfs build, CNI, the hooks, timers) *)
(* and deferred callbacks are reactor callbacks: they run between drains.  *)
(*                                                                         *)
(* The VM boots cold: no snapshot template (vm_guard_restore/build/save    *)
(* are false, so INCOMING..FALLBACK are unreachable here; VM.tla has       *)
(* them).  MC_TaskVM.tla bounds this module for TLC's liveness check.      *)
(***************************************************************************)
EXTENDS Naturals, Sequences

T == INSTANCE TaskRows
V == INSTANCE VMRows

(* task: what the actions do (core/task.c).                                *)
Publishing == {"task_act_stopped", "task_act_vm_died"}   \* TaskExit
Records == {"task_act_record_exit", "task_act_exited", "task_act_exited_midway",
            "task_act_start_failed", "task_act_net_failed_start",
            "task_act_vm_died"}
Drains == {"task_act_exited", "task_act_exited_midway"}  \* task_do_drain
StopsVM == {"task_act_create_failed", "task_act_net_failed_create",
            "task_act_delete"}                            \* task_stop_vm
AsksAgent == {"task_act_agent_create", "task_act_start", "task_act_pause",
              "task_act_resume", "task_act_kill"}
AnswersPause == {"task_act_paused", "task_act_resumed", "task_act_pause_failed",
                 "task_act_exited_midway", "task_act_vm_died"}
Other == {"task_act_create", "task_act_boot", "task_act_create_hooks",
          "task_act_wire", "task_act_created", "task_act_started",
          "task_act_kill_finished", "task_act_poststop", "task_act_deleted"}
TFallible == {"task_act_create", "task_act_start", "task_act_kill",
              "task_act_pause", "task_act_resume", "task_act_kill_finished"}
ASSUME T!Actions = Publishing \union Records \union Drains \union StopsVM
                   \union AsksAgent \union AnswersPause \union Other
ASSUME TFallible \subseteq T!Actions
ASSUME T!Guards = {"task_guard_exited"}

(* vm (cold boot only).                                                    *)
VCold == {"vm_act_spawn", "vm_act_stopped", "vm_act_ready", "vm_act_kill",
          "vm_act_powerdown"}
VSnapshot == {"vm_act_spawn_restore", "vm_act_spawn_build", "vm_act_migrate",
              "vm_act_cont", "vm_act_set_clock", "vm_act_saved",
              "vm_act_respawn_restore", "vm_act_respawn_cold", "vm_act_unusable",
              "vm_act_fallback"}                   \* unreachable here
VFallible == {"vm_act_spawn"}
ASSUME V!Actions = VCold \union VSnapshot
ASSUME V!Guards = {"vm_guard_restore", "vm_guard_build", "vm_guard_save_agent_up",
                   "vm_guard_save_qmp_up", "vm_guard_save", "vm_guard_agent_up",
                   "vm_guard_qmp_up", "vm_guard_qemu_gone"}

(* Every waiting state of each machine has a TIMEOUT row: fsm_check's rule *)
(* over the generated tables, a constant formula, so an assumption.       *)
WaitingStatesTimeout == T!WaitingStatesTimeout /\ V!WaitingStatesTimeout
ASSUME WaitingStatesTimeout

Qemu == {"none", "running", "killed", "gone"}
Calls == {"create", "wait", "start", "pause", "resume"}   \* agent calls in flight
Deferreds == {"vm_ready", "vm_stopped", "agent_lost"}
Hooks == {"none", "create", "poststop"}                   \* the run in t->hooks

M(to, ev) == [to |-> to, ev |-> ev]
Msgs == {M("task", e) : e \in T!Events} \union {M("vm", e) : e \in V!Events}

VARIABLES
  taskState, exited, exitPublished, drainPending,   \* the task
  pauseCall,         \* t->pending holds containerd's Pause/Resume, unanswered
  building,          \* the rootfs image is being built (ROOTFS_* follows)
  wiring,            \* core_net_wire runs (NET_READY/NET_FAILED follows)
  hooks,             \* the hook run in t->hooks (HOOKS_* follows)
  poststopRan,       \* task_act_poststop ran (CNI DEL, poststop hooks)
  vmState, qemu, qmpUp, agentUp, stopRequested,     \* the vm
  chanUp, calls,                                    \* the agent connection
  queue, deferred                                   \* fsm_env and reactor

tvars == <<taskState, exited, exitPublished, drainPending, pauseCall>>
jobs == <<building, wiring, hooks, poststopRan>>
vvars == <<vmState, qemu, qmpUp, agentUp, stopRequested>>
vars == <<tvars, jobs, vvars, chanUp, calls, queue, deferred>>

TypeOK ==
  /\ taskState \in T!States
  /\ exited \in BOOLEAN
  /\ exitPublished \in Nat
  /\ drainPending \in BOOLEAN
  /\ pauseCall \in BOOLEAN
  /\ building \in BOOLEAN
  /\ wiring \in BOOLEAN
  /\ hooks \in Hooks
  /\ poststopRan \in BOOLEAN
  /\ vmState \in V!States
  /\ qemu \in Qemu
  /\ qmpUp \in BOOLEAN
  /\ agentUp \in BOOLEAN
  /\ stopRequested \in BOOLEAN
  /\ chanUp \in BOOLEAN
  /\ calls \subseteq Calls
  /\ queue \in Seq(Msgs)
  /\ deferred \in Seq(Deferreds)

Init ==
  /\ taskState = T!Initial
  /\ exited = FALSE
  /\ exitPublished = 0
  /\ drainPending = FALSE
  /\ pauseCall = FALSE
  /\ building = FALSE
  /\ wiring = FALSE
  /\ hooks = "none"
  /\ poststopRan = FALSE
  /\ vmState = V!Initial
  /\ qemu = "none"
  /\ qmpUp = FALSE
  /\ agentUp = FALSE
  /\ stopRequested = FALSE
  /\ chanUp = FALSE
  /\ calls = {}
  /\ queue = << >>
  /\ deferred = << >>

----------------------------------------------------------------------------
(* The task machine over its generated rows.                               *)
TGS == IF exited THEN {"task_guard_exited"} ELSE {}
One(b) == IF b THEN 1 ELSE 0
TEv == Head(queue).ev
VMGone == vmState = "STOPPED"                  \* vm_is_stopped

(* The agent call an action makes, if the channel is up.                   *)
CallsOf(a) ==
  CASE a = "task_act_agent_create" -> {"create", "wait"}
    [] a = "task_act_start" -> {"start"}
    [] a = "task_act_pause" -> {"pause"}
    [] a = "task_act_resume" -> {"resume"}
    [] OTHER -> {}

(* What an action that succeeds posts: vm_start's SPAWN, task_stop_vm's   *)
(* STOP (or VM_STOPPED to the task if the VM is gone), vm_kill's STOP,    *)
(* and the AGENT_FAILED of a CreateContainer that could not be sent.      *)
TPosts(a) ==
  CASE a = "task_act_boot" -> << M("vm", "SPAWN") >>
    [] a \in StopsVM /\ VMGone -> << M("task", "VM_STOPPED") >>
    [] a \in StopsVM -> << M("vm", "STOP") >>
    [] a = "task_act_deleted" /\ ~VMGone -> << M("vm", "STOP") >>
    [] a = "task_act_agent_create" /\ ~chanUp -> << M("task", "AGENT_FAILED") >>
    [] OTHER -> << >>

(* Start, Pause and Resume fail exactly when the channel is closed; Kill  *)
(* may fail anyway (a bad signal); kill_finished always fails.             *)
TCanSucceed(a) ==
  /\ a # "task_act_kill_finished"
  /\ (a \in {"task_act_start", "task_act_pause", "task_act_resume",
             "task_act_kill"}) => chanUp
TCanFail(a) ==
  /\ a \in TFallible
  /\ (a \in {"task_act_start", "task_act_pause", "task_act_resume"}) => ~chanUp

TaskFire ==
  /\ queue # << >>
  /\ Head(queue).to = "task"
  /\ T!CanSelect(taskState, TEv, TGS)
  /\ LET i == T!Select(taskState, TEv, TGS)
         a == T!Rows[i].act
     IN /\ TCanSucceed(a)
        /\ taskState' = T!Target(i, taskState)
        /\ exited' = (exited \/ a \in Records)
        /\ exitPublished' = exitPublished + One(a \in Publishing)
        /\ drainPending' = (drainPending \/ a \in Drains
                            \/ (a = "task_act_started" /\ exited))
        /\ pauseCall' = IF a \in {"task_act_pause", "task_act_resume"} THEN TRUE
                        ELSE IF a \in AnswersPause THEN FALSE ELSE pauseCall
        /\ building' = (building \/ a = "task_act_create")
        /\ wiring' = (wiring \/ a = "task_act_wire")
        /\ hooks' = CASE a = "task_act_create_hooks" -> "create"
                      [] a = "task_act_poststop" -> "poststop"
                      \* task_do_fail_create stops a create run
                      [] a \in {"task_act_create_failed",
                               "task_act_net_failed_create"} -> "none"
                      [] OTHER -> hooks
        /\ poststopRan' = (poststopRan \/ a = "task_act_poststop")
        /\ calls' = IF chanUp THEN calls \union CallsOf(a) ELSE calls
        /\ stopRequested' = (stopRequested \/ (a \in StopsVM /\ ~VMGone)
                             \/ (a = "task_act_deleted" /\ ~VMGone))
        /\ qemu' = IF a = "task_act_deleted" /\ ~VMGone /\ qemu = "running"
                   THEN "killed" ELSE qemu
        /\ queue' = Tail(queue) \o TPosts(a)
  /\ UNCHANGED <<vmState, qmpUp, agentUp, chanUp, deferred>>

TaskFireFails ==
  /\ queue # << >>
  /\ Head(queue).to = "task"
  /\ T!CanSelect(taskState, TEv, TGS)
  /\ TCanFail(T!Rows[T!Select(taskState, TEv, TGS)].act)
  /\ queue' = Tail(queue) \o
       (IF T!PostsFail(TEv) THEN << M("task", T!FailEvent) >> ELSE << >>)
  /\ UNCHANGED <<tvars, jobs, vvars, chanUp, calls, deferred>>

TaskReject ==
  /\ queue # << >>
  /\ Head(queue).to = "task"
  /\ ~T!CanSelect(taskState, TEv, TGS)
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<tvars, jobs, vvars, chanUp, calls, deferred>>

----------------------------------------------------------------------------
(* The vm machine over its generated rows (no template: only the cold-boot *)
(* guards can hold).                                                       *)
VGS == (IF agentUp THEN {"vm_guard_agent_up"} ELSE {})
       \union (IF qmpUp THEN {"vm_guard_qmp_up"} ELSE {})
       \union (IF qemu = "none" THEN {"vm_guard_qemu_gone"} ELSE {})
VEv == Head(queue).ev

(* vm_act_stopped: QEMU is gone; the channel goes with it in the deferred *)
(* on_stopped (vsock_free drops the calls in flight and the channel's own *)
(* pending news).  vm_act_ready defers on_ready.  vm_act_kill: SIGKILL.   *)
VMFire ==
  /\ queue # << >>
  /\ Head(queue).to = "vm"
  /\ V!CanSelect(vmState, VEv, VGS)
  /\ LET i == V!Select(vmState, VEv, VGS)
         a == V!Rows[i].act
     IN /\ vmState' = V!Target(i, vmState)
        /\ qemu' = CASE a = "vm_act_spawn" -> "running"
                     [] a = "vm_act_kill" /\ qemu = "running" -> "killed"
                     [] OTHER -> qemu
        /\ stopRequested' = (stopRequested \/ a = "vm_act_powerdown")
        /\ chanUp' = (chanUp /\ a # "vm_act_stopped")
        /\ calls' = IF a = "vm_act_stopped" THEN {} ELSE calls
        /\ deferred' =
             CASE a = "vm_act_stopped" ->
                    Append(SelectSeq(deferred, LAMBDA d : d # "agent_lost"),
                           "vm_stopped")
               [] a = "vm_act_ready" -> Append(deferred, "vm_ready")
               [] OTHER -> deferred
        /\ queue' = Tail(queue)
  /\ UNCHANGED <<tvars, jobs, qmpUp, agentUp>>

VMFireFails ==
  /\ queue # << >>
  /\ Head(queue).to = "vm"
  /\ V!CanSelect(vmState, VEv, VGS)
  /\ V!Rows[V!Select(vmState, VEv, VGS)].act \in VFallible
  /\ queue' = Tail(queue) \o
       (IF V!PostsFail(VEv) THEN << M("vm", V!FailEvent) >> ELSE << >>)
  /\ UNCHANGED <<tvars, jobs, vvars, chanUp, calls, deferred>>

VMReject ==
  /\ queue # << >>
  /\ Head(queue).to = "vm"
  /\ ~V!CanSelect(vmState, VEv, VGS)
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<tvars, jobs, vvars, chanUp, calls, deferred>>

Dispatch ==
  \/ TaskFire \/ TaskFireFails \/ TaskReject
  \/ VMFire \/ VMFireFails \/ VMReject

----------------------------------------------------------------------------
(* The world.  Everything below is a reactor callback: it runs between     *)
(* drains, and what it dispatches drains before anything else.             *)
Between == queue = << >>

(* Deferred callbacks, in order.                                            *)
DeliverDeferred ==
  /\ Between
  /\ deferred # << >>
  /\ deferred' = Tail(deferred)
  /\ queue' = << CASE Head(deferred) = "vm_ready" -> M("task", "VM_READY")
                   [] Head(deferred) = "vm_stopped" ->
                        M("task", IF stopRequested THEN "VM_STOPPED"
                                  ELSE "VM_DIED")
                   [] OTHER -> M("vm", "AGENT_LOST") >>
  /\ UNCHANGED <<tvars, jobs, vvars, chanUp, calls>>

(* containerd's requests.                                                  *)
Containerd ==
  /\ Between
  /\ \E e \in {"CREATE", "START", "KILL", "PAUSE", "RESUME", "DELETE"} :
       queue' = << M("task", e) >>
  /\ UNCHANGED <<tvars, jobs, vvars, chanUp, calls, deferred>>

(* The rootfs build, CNI's wiring and the hooks end, well or not.          *)
RootfsBuilt ==
  /\ Between /\ building
  /\ building' = FALSE
  /\ \E e \in {"ROOTFS_READY", "ROOTFS_FAILED"} : queue' = << M("task", e) >>
  /\ UNCHANGED <<tvars, wiring, hooks, poststopRan, vvars, chanUp, calls, deferred>>

Wired ==
  /\ Between /\ wiring
  /\ wiring' = FALSE
  /\ \E e \in {"NET_READY", "NET_FAILED"} : queue' = << M("task", e) >>
  /\ UNCHANGED <<tvars, building, hooks, poststopRan, vvars, chanUp, calls, deferred>>

HooksEnd ==
  /\ Between /\ hooks # "none"
  /\ hooks' = "none"
  /\ \E e \in {"HOOKS_DONE", "HOOKS_FAILED"} : queue' = << M("task", e) >>
  /\ UNCHANGED <<tvars, building, wiring, poststopRan, vvars, chanUp, calls, deferred>>

(* QEMU, QMP and the agent.                                                 *)
QmpReady ==
  /\ Between
  /\ qemu = "running"
  /\ ~qmpUp
  /\ qmpUp' = TRUE
  /\ queue' = << M("vm", "QMP_READY") >>
  /\ UNCHANGED <<tvars, jobs, vmState, qemu, agentUp, stopRequested, chanUp, calls,
                 deferred>>

AgentReady ==                              \* the greeting: conn up
  /\ Between
  /\ qemu = "running"
  /\ vmState # "STOPPED"
  /\ ~agentUp
  /\ agentUp' = TRUE
  /\ chanUp' = TRUE
  /\ queue' = << M("vm", "AGENT_READY") >>
  /\ UNCHANGED <<tvars, jobs, vmState, qemu, qmpUp, stopRequested, calls, deferred>>

(* The connection closes: calls in flight fail (the Wait silently), and   *)
(* the VM hears AGENT_LOST on a later turn.                               *)
AgentLost ==
  /\ Between
  /\ chanUp
  /\ chanUp' = FALSE
  /\ calls' = {}
  /\ queue' = IF calls \cap {"create", "start", "pause", "resume"} # {}
              THEN << M("task", "AGENT_FAILED") >> ELSE << >>
  /\ deferred' = Append(deferred, "agent_lost")
  /\ UNCHANGED <<tvars, jobs, vvars>>

Replies(c) ==
  CASE c = "create" -> {"AGENT_CREATED", "AGENT_FAILED"}
    [] c = "start"  -> {"AGENT_STARTED", "AGENT_FAILED"}
    [] c = "pause"  -> {"AGENT_PAUSED", "AGENT_FAILED"}
    [] c = "resume" -> {"AGENT_RESUMED", "AGENT_FAILED"}
    [] OTHER        -> {"EXITED"}          \* WaitProcess: the exit

AgentReplies ==
  /\ Between
  /\ chanUp
  /\ \E c \in calls :
       /\ calls' = calls \ {c}
       /\ \E ev \in Replies(c) : queue' = << M("task", ev) >>
  /\ UNCHANGED <<tvars, jobs, vvars, chanUp, deferred>>

IODrained ==
  /\ Between
  /\ drainPending
  /\ drainPending' = FALSE
  /\ queue' = << M("task", "IO_DRAINED") >>
  /\ UNCHANGED <<taskState, exited, exitPublished, pauseCall, jobs, vvars, chanUp,
                 calls, deferred>>

HostileGuest ==                            \* vm_abort from a bad stream frame
  /\ Between
  /\ chanUp
  /\ vmState # "STOPPED"
  /\ qemu' = IF qemu = "running" THEN "killed" ELSE qemu
  /\ queue' = << M("vm", "FAIL") >>
  /\ UNCHANGED <<tvars, jobs, vmState, qmpUp, agentUp, stopRequested, chanUp, calls,
                 deferred>>

QemuExits ==                               \* a crash, or SIGKILL at work
  /\ Between
  /\ qemu \in {"running", "killed"}
  /\ qemu' = "gone"
  /\ queue' = << M("vm", "QEMU_EXITED") >>
  /\ UNCHANGED <<tvars, jobs, vmState, qmpUp, agentUp, stopRequested, chanUp, calls,
                 deferred>>

TaskTimer ==
  /\ Between
  /\ taskState \in T!Waiting
  /\ queue' = << M("task", T!TimeoutEvent) >>
  /\ UNCHANGED <<tvars, jobs, vvars, chanUp, calls, deferred>>

VMTimer ==
  /\ Between
  /\ vmState \in V!Waiting
  /\ queue' = << M("vm", V!TimeoutEvent) >>
  /\ UNCHANGED <<tvars, jobs, vvars, chanUp, calls, deferred>>

Next ==
  \/ Dispatch
  \/ DeliverDeferred
  \/ Containerd
  \/ RootfsBuilt \/ Wired \/ HooksEnd
  \/ QmpReady \/ AgentReady \/ AgentLost \/ AgentReplies \/ IODrained
  \/ HostileGuest \/ QemuExits
  \/ TaskTimer \/ VMTimer

(* The loop runs, timers fire, SIGKILL works.  Nothing else is promised:  *)
(* the guest, QEMU, CNI, the hooks and containerd may stay silent         *)
(* forever.  What runs only between drains gets strong fairness.          *)
Spec ==
  /\ Init
  /\ [][Next]_vars
  /\ WF_vars(Dispatch)
  /\ SF_vars(DeliverDeferred)
  /\ SF_vars(TaskTimer)
  /\ SF_vars(VMTimer)
  /\ SF_vars(QemuExits /\ qemu = "killed")

----------------------------------------------------------------------------
(* The properties.  kiln-fsmcheck checks the same names on the tables.     *)

(* A TaskExit is published at most once per process.  exitPublished is   *)
(* incremented by every row whose action publishes it (task_act_stopped,  *)
(* task_act_vm_died).                                                     *)
ExitPublishedOnce == exitPublished <= 1

Pending(m) == \E i \in DOMAIN queue : queue[i] = m

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
    => (taskState \notin {"CREATING", "CREATED", "STARTING", "RUNNING",
                          "PAUSING", "PAUSED", "RESUMING"})

(* Stronger: once the news is in, the task is over.                        *)
NoLiveTaskWithStoppedVM ==
  (vmState = "STOPPED" /\ ~VMNewsPending)
    => (taskState \in {"STOPPED", "DELETING", "DELETED"})

(* A deleted task leaves no QEMU running: none was started (the create    *)
(* failed before the boot), or it has exited, or it was sent SIGKILL (the *)
(* DELETING timeout) and the VM reaches STOPPED when the exit is reaped   *)
(* (DeleteEventuallyStopsVM).                                              *)
DeleteStopsVM ==
  (taskState = "DELETED") => (/\ qemu # "running"
                              /\ (vmState \in {"NEW", "STOPPED"} \/ stopRequested))

(* containerd's Pause/Resume (t->pending) is answered whenever the task   *)
(* leaves PAUSING/RESUMING.                                                *)
PauseAnswered == pauseCall => (taskState \in {"PAUSING", "RESUMING"})

(* A task deleted after its VM stopped ran task_act_poststop (CNI DEL and  *)
(* the poststop hooks) first, unless the DELETING timer gave up on them.  *)
(* Found violated by reading (tla/README.md): a createRuntime/prestart    *)
(* run still going when CREATING failed ended in DELETING, and its        *)
(* HOOKS_DONE was taken as the poststop hooks' end. task_do_fail_create   *)
(* now stops that run (hooks' = "none" above).                            *)
PoststopBeforeDeleted ==
  [][(/\ taskState = "DELETING" /\ taskState' = "DELETED"
       /\ TEv \in {"HOOKS_DONE", "HOOKS_FAILED"}) => poststopRan]_vars

(* Liveness, under fairness of the timers, the loop and SIGKILL: every    *)
(* waiting state of either machine is eventually left, so the task ends   *)
(* DELETED or rests in a live, non-waiting state (CREATED, RUNNING,       *)
(* PAUSED, STOPPED) until containerd speaks again.                        *)
EventuallyDeletedOrLive ==
  /\ \A s \in T!Waiting : (taskState = s) ~> (taskState # s)
  /\ \A s \in V!Waiting : (vmState = s) ~> (vmState # s)

DeleteEventuallyStopsVM ==
  (taskState = "DELETED" /\ vmState # "NEW") ~> (vmState = "STOPPED")

TaskDeletedIsFinal == [][(taskState = "DELETED") => (taskState' = "DELETED")]_vars
===============================================================================
