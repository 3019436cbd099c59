--------------------------------- MODULE VM ---------------------------------
(***************************************************************************)
(* The VM machine (core/vm_fsm.c, "vm"): one QEMU per container, booted    *)
(* cold or from a snapshot template (restore), or booted to build one      *)
(* (save, then respawn from it).  The rows are generated from the C        *)
(* (`kiln-fsm tla vm`, tla/gen/VMRows.tla) and interpreted with the        *)
(* engine's rules from that module: Select picks the first row whose       *)
(* from/event match and whose guard holds, "SAME" keeps the state, no row  *)
(* is a rejection, a failed action keeps the state and posts FAIL at the   *)
(* tail of the run queue.  This module says what each action does to the   *)
(* QEMU child and the owner, the world, and the properties.                *)
(*                                                                         *)
(* The machine alone: its owner (the task) calls vm_start/vm_stop/vm_kill/ *)
(* vm_abort whenever it likes; QEMU, QMP, the agent and the template say   *)
(* what they say.  TaskVM.tla composes it with the task machine.           *)
(***************************************************************************)
EXTENDS Naturals, Sequences, VMRows

(* What the actions do (core/vm.c, core/vm_snap.c).                        *)
Spawns == {"vm_act_spawn", "vm_act_spawn_build", "vm_act_spawn_restore"}
Respawns == {"vm_act_respawn_restore", "vm_act_respawn_cold", "vm_act_fallback"}
Kills == {"vm_act_kill", "vm_act_saved", "vm_act_unusable"}  \* SIGKILL
Readies == {"vm_act_ready"}                     \* on_ready deferred
Stops == {"vm_act_stopped"}                     \* on_stopped deferred
Powers == {"vm_act_powerdown"}                  \* Shutdown + ACPI, stop_requested
Steps == {"vm_act_migrate", "vm_act_cont", "vm_act_set_clock"}  \* QMP / agent
(* Spawning (fork, jail, snapshot files) and the three snapshot steps     *)
(* (a QMP or agent call that cannot be sent) may fail.                    *)
Fallible == Spawns \union Respawns \union Steps
Mode(a) ==
  CASE a \in {"vm_act_spawn_build"} -> "build"
    [] a \in {"vm_act_spawn_restore", "vm_act_respawn_restore"} -> "restore"
    [] OTHER -> "cold"

ASSUME Actions = Spawns \union Respawns \union Kills \union Readies \union Stops
                 \union Powers \union Steps
ASSUME Fallible \subseteq Actions
ASSUME Guards = {"vm_guard_restore", "vm_guard_build", "vm_guard_save_agent_up",
                 "vm_guard_save_qmp_up", "vm_guard_save", "vm_guard_agent_up",
                 "vm_guard_qmp_up", "vm_guard_qemu_gone"}
(* WaitingStatesTimeout (VMRows): a constant formula, so an assumption.    *)
ASSUME WaitingStatesTimeout

Qemu == {"none", "running", "killed", "gone"}   \* the QEMU child process
TmplStates == {"NONE", "BUILDING", "READY"}     \* the template machine, as read

VARIABLES
  vmState,         \* fsm.state
  qemu,            \* the QEMU child: none, running, killed (SIGKILL sent), gone
  pid,             \* vm->qemu_pid > 0 (vm_guard_qemu_gone reads ~pid)
  mode,            \* vm->mode of the QEMU spawned last
  tmpl,            \* the template machine's state (vm_guard_restore/build)
  qmpUp,           \* vm->qmp_up (read by vm_guard_qmp_up)
  agentUp,         \* vm->agent_up (read by vm_guard_agent_up)
  stopRequested,   \* vm->stop_requested: on_stopped says crashed = ~this
  readyNotices,    \* on_ready callbacks deferred (vm_do_ready)
  stoppedNotices,  \* on_stopped callbacks deferred (vm_do_stopped)
  queue            \* events posted to this machine, not yet dispatched

vars == <<vmState, qemu, pid, mode, tmpl, qmpUp, agentUp, stopRequested,
          readyNotices, stoppedNotices, queue>>

TypeOK ==
  /\ vmState \in States
  /\ qemu \in Qemu
  /\ pid \in BOOLEAN
  /\ mode \in {"cold", "build", "restore"}
  /\ tmpl \in TmplStates
  /\ qmpUp \in BOOLEAN
  /\ agentUp \in BOOLEAN
  /\ stopRequested \in BOOLEAN
  /\ readyNotices \in Nat
  /\ stoppedNotices \in Nat
  /\ queue \in Seq(Events)

Init ==
  /\ vmState = Initial
  /\ qemu = "none"
  /\ pid = FALSE
  /\ mode = "cold"
  /\ tmpl \in TmplStates
  /\ qmpUp = FALSE
  /\ agentUp = FALSE
  /\ stopRequested = FALSE
  /\ readyNotices = 0
  /\ stoppedNotices = 0
  /\ queue = << >>

----------------------------------------------------------------------------
(* The engine over the generated rows.                                     *)
Save == mode = "build" /\ tmpl = "BUILDING"               \* vm_guard_save
GS ==
  { g \in Guards :
      CASE g = "vm_guard_restore" -> tmpl = "READY"
        [] g = "vm_guard_build" -> tmpl = "BUILDING"
        [] g = "vm_guard_save" -> Save
        [] g = "vm_guard_save_agent_up" -> Save /\ agentUp
        [] g = "vm_guard_save_qmp_up" -> Save /\ qmpUp
        [] g = "vm_guard_agent_up" -> agentUp
        [] g = "vm_guard_qmp_up" -> qmpUp
        [] g = "vm_guard_qemu_gone" -> ~pid
        [] OTHER -> FALSE }
One(b) == IF b THEN 1 ELSE 0
AfterFail(e) == IF PostsFail(e) THEN << FailEvent >> ELSE << >>

(* vm_do_kill, vm_do_saved, vm_do_unusable: SIGKILL if a QEMU runs.        *)
QemuAfter(a) ==
  IF a \in Spawns \union Respawns THEN "running"
  ELSE IF a \in Kills /\ qemu = "running" THEN "killed"
  ELSE qemu
New(a) == a \in Spawns \union Respawns           \* a new QEMU: flags reset

Fire ==
  /\ queue # << >>
  /\ CanSelect(vmState, Head(queue), GS)
  /\ LET i == Select(vmState, Head(queue), GS)
         a == Rows[i].act
     IN /\ vmState' = Target(i, vmState)
        /\ qemu' = QemuAfter(a)
        /\ pid' = (pid \/ New(a))
        /\ mode' = IF New(a) THEN Mode(a) ELSE mode
        /\ qmpUp' = (qmpUp /\ ~New(a))
        /\ agentUp' = (agentUp /\ ~New(a))
        /\ stopRequested' = (stopRequested \/ a \in Powers)
        /\ readyNotices' = readyNotices + One(a \in Readies)
        /\ stoppedNotices' = stoppedNotices + One(a \in Stops)
        /\ queue' = Tail(queue)
  /\ UNCHANGED tmpl

(* A failed spawn leaves no QEMU; a failed respawn has already dropped the *)
(* old one's pid, flags and channel (vm_do_respawn), so qemu_gone holds.   *)
FireFails ==
  /\ queue # << >>
  /\ CanSelect(vmState, Head(queue), GS)
  /\ LET a == Rows[Select(vmState, Head(queue), GS)].act
     IN /\ a \in Fallible
        /\ pid' = (pid /\ a \notin Respawns)
        /\ qmpUp' = (qmpUp /\ a \notin Respawns)
        /\ agentUp' = (agentUp /\ a \notin Respawns)
  /\ queue' = Tail(queue) \o AfterFail(Head(queue))
  /\ UNCHANGED <<vmState, qemu, mode, tmpl, stopRequested, readyNotices,
                 stoppedNotices>>

Reject ==
  /\ queue # << >>
  /\ ~CanSelect(vmState, Head(queue), GS)
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<vmState, qemu, pid, mode, tmpl, qmpUp, agentUp, stopRequested,
                 readyNotices, stoppedNotices>>

Dispatch == Fire \/ FireFails \/ Reject

----------------------------------------------------------------------------
(* The owner's calls (core/vm.c), between drains.                          *)
Owner_vm_start ==
  /\ queue = << >>
  /\ queue' = << "SPAWN" >>
  /\ UNCHANGED <<vmState, qemu, pid, mode, tmpl, qmpUp, agentUp, stopRequested,
                 readyNotices, stoppedNotices>>

Owner_vm_stop ==
  /\ queue = << >>
  /\ stopRequested' = TRUE
  /\ queue' = << "STOP" >>
  /\ UNCHANGED <<vmState, qemu, pid, mode, tmpl, qmpUp, agentUp, readyNotices,
                 stoppedNotices>>

Owner_vm_kill ==
  /\ queue = << >>
  /\ stopRequested' = TRUE
  /\ qemu' = IF qemu = "running" /\ pid /\ vmState # "STOPPED"
             THEN "killed" ELSE qemu
  /\ queue' = << "STOP" >>
  /\ UNCHANGED <<vmState, pid, mode, tmpl, qmpUp, agentUp, readyNotices,
                 stoppedNotices>>

Owner_vm_abort ==                          \* a hostile guest
  /\ queue = << >>
  /\ vmState # "STOPPED"
  /\ qemu' = IF qemu = "running" /\ pid THEN "killed" ELSE qemu
  /\ queue' = << "FAIL" >>
  /\ UNCHANGED <<vmState, pid, mode, tmpl, qmpUp, agentUp, stopRequested,
                 readyNotices, stoppedNotices>>

(* What QEMU, QMP, the agent and the migration report: reactor callbacks, *)
(* between drains.                                                         *)
World_QmpReady ==
  /\ queue = << >>
  /\ qemu = "running"
  /\ ~qmpUp
  /\ qmpUp' = TRUE
  /\ queue' = << "QMP_READY" >>
  /\ UNCHANGED <<vmState, qemu, pid, mode, tmpl, agentUp, stopRequested,
                 readyNotices, stoppedNotices>>

World_AgentReady ==
  /\ queue = << >>
  /\ qemu = "running"
  /\ vmState # "STOPPED"
  /\ ~agentUp
  /\ agentUp' = TRUE
  /\ queue' = << "AGENT_READY" >>
  /\ UNCHANGED <<vmState, qemu, pid, mode, tmpl, qmpUp, stopRequested,
                 readyNotices, stoppedNotices>>

(* The agent channel closes, a migration or SetClock ends: any of them.   *)
World_News ==
  /\ queue = << >>
  /\ vmState # "STOPPED"
  /\ \E e \in {"AGENT_LOST", "MIGRATED", "MIGRATE_FAILED", "CLOCK_SET",
               "CLOCK_FAILED"} : queue' = << e >>
  /\ UNCHANGED <<vmState, qemu, pid, mode, tmpl, qmpUp, agentUp, stopRequested,
                 readyNotices, stoppedNotices>>

World_QemuExits ==                         \* a crash, or SIGKILL at work
  /\ queue = << >>
  /\ qemu \in {"running", "killed"}
  /\ qemu' = "gone"
  /\ queue' = << "QEMU_EXITED" >>
  /\ UNCHANGED <<vmState, pid, mode, tmpl, qmpUp, agentUp, stopRequested,
                 readyNotices, stoppedNotices>>

(* The template machine moves on its own (another VM builds, a build     *)
(* fails, a template goes stale).                                          *)
World_Template ==
  /\ \E t \in TmplStates \ {tmpl} : tmpl' = t
  /\ UNCHANGED <<vmState, qemu, pid, mode, qmpUp, agentUp, stopRequested,
                 readyNotices, stoppedNotices, queue>>

World_Timer ==
  /\ queue = << >>
  /\ vmState \in Waiting
  /\ queue' = << TimeoutEvent >>
  /\ UNCHANGED <<vmState, qemu, pid, mode, tmpl, qmpUp, agentUp, stopRequested,
                 readyNotices, stoppedNotices>>

Next ==
  \/ Dispatch
  \/ Owner_vm_start \/ Owner_vm_stop \/ Owner_vm_kill \/ Owner_vm_abort
  \/ World_QmpReady \/ World_AgentReady \/ World_News \/ World_QemuExits
  \/ World_Template \/ World_Timer

(* Timers fire and SIGKILL works; nothing else is promised.  Both happen  *)
(* only between drains: strong fairness.                                   *)
Spec ==
  /\ Init
  /\ [][Next]_vars
  /\ WF_vars(Dispatch)
  /\ SF_vars(World_Timer)
  /\ SF_vars(World_QemuExits /\ qemu = "killed")

----------------------------------------------------------------------------
(* The owner hears READY at most once and STOPPED exactly once, on entry.  *)
ReadyNotifiedOnce == readyNotices <= 1
StoppedNotifiedOnce == stoppedNotices <= 1
StoppedIsNotified == (vmState = "STOPPED") <=> (stoppedNotices = 1)

(* STOPPED means no QEMU is left: none was started, or it has exited.      *)
StoppedMeansNoQemu == (vmState = "STOPPED") => (qemu \in {"none", "gone"})

TerminalIsFinal == [][(vmState \in Terminal) => vmState' = vmState]_vars

EveryWaitingStateLeft == \A s \in Waiting : (vmState = s) ~> (vmState # s)
=============================================================================
