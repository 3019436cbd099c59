--------------------------------- MODULE VM ---------------------------------
(***************************************************************************)
(* The VM machine (core/vm_fsm.c, "vm"): one QEMU per container.  One TLA+ *)
(* action per table row, named VM_<FROM>_<EVENT>[_<guard>] (FROM is ANY    *)
(* for an FSM_ANY row; the guard suffix is the C guard minus "vm_guard_"). *)
(* VM_Reject is the engine refusing an event with no row.                  *)
(*                                                                         *)
(* The machine alone: its owner (the task) calls vm_start/vm_stop/vm_kill/ *)
(* vm_abort whenever it likes, and QEMU, QMP and the agent report what     *)
(* they report.  TaskVM.tla composes it with the task machine.             *)
(***************************************************************************)
EXTENDS Naturals, Sequences

States == {"NEW", "SPAWNING", "BOOTING", "READY", "STOPPING", "STOPPED"}
Events == {"SPAWN", "QMP_READY", "AGENT_READY", "STOP", "AGENT_LOST",
           "QEMU_EXITED", "TIMEOUT", "FAIL"}
Waiting  == {"SPAWNING", "BOOTING", "STOPPING"}
Terminal == {"STOPPED"}
Qemu == {"none", "running", "killed", "gone"}   \* the QEMU child process

R(f, e, g, a, t) == [from |-> f, ev |-> e, guard |-> g, act |-> a, to |-> t]
Rows == <<
  R("NEW", "SPAWN", "", "vm_act_spawn", "SPAWNING"),
  R("NEW", "STOP", "", "vm_act_stopped", "STOPPED"),
  R("NEW", "FAIL", "", "vm_act_stopped", "STOPPED"),
  R("SPAWNING", "QMP_READY", "vm_guard_agent_up", "vm_act_ready", "READY"),
  R("SPAWNING", "QMP_READY", "", "", "BOOTING"),
  R("SPAWNING", "AGENT_READY", "vm_guard_qmp_up", "vm_act_ready", "READY"),
  R("SPAWNING", "AGENT_READY", "", "", "SAME"),
  R("BOOTING", "AGENT_READY", "", "vm_act_ready", "READY"),
  R("READY", "STOP", "", "vm_act_powerdown", "STOPPING"),
  R("READY", "AGENT_LOST", "", "vm_act_kill", "STOPPING"),
  R("STOPPING", "TIMEOUT", "", "vm_act_kill", "SAME"),
  R("STOPPING", "STOP", "", "", "SAME"),
  R("STOPPING", "AGENT_LOST", "", "", "SAME"),
  R("STOPPING", "QMP_READY", "", "", "SAME"),
  R("STOPPING", "AGENT_READY", "", "", "SAME"),
  R("STOPPED", "QEMU_EXITED", "", "", "SAME"),
  R("ANY", "QEMU_EXITED", "", "vm_act_stopped", "STOPPED"),
  R("STOPPED", "STOP", "", "", "SAME"),
  R("STOPPED", "AGENT_LOST", "", "", "SAME"),
  R("STOPPED", "TIMEOUT", "", "", "SAME"),
  R("STOPPED", "QMP_READY", "", "", "SAME"),
  R("STOPPED", "AGENT_READY", "", "", "SAME"),
  R("STOPPED", "FAIL", "", "", "SAME"),
  R("ANY", "TIMEOUT", "", "vm_act_kill", "STOPPING"),
  R("ANY", "STOP", "", "vm_act_kill", "STOPPING"),
  R("ANY", "AGENT_LOST", "", "vm_act_kill", "STOPPING"),
  R("ANY", "FAIL", "", "vm_act_kill", "STOPPING")
>>

HasRow(s, e) == \E i \in DOMAIN Rows : Rows[i].ev = e /\ Rows[i].from \in {s, "ANY"}

VARIABLES
  vmState,         \* fsm.state
  qemu,            \* the QEMU child: none, running, killed (SIGKILL sent), gone
  qmpUp,           \* vm->qmp_up (read by vm_guard_qmp_up)
  agentUp,         \* vm->agent_up (read by vm_guard_agent_up)
  agentLost,       \* the agent channel closed (AGENT_LOST reported)
  stopRequested,   \* vm->stop_requested: on_stopped says crashed = ~this
  readyNotices,    \* on_ready callbacks deferred (vm_do_ready)
  stoppedNotices,  \* on_stopped callbacks deferred (vm_do_stopped)
  queue            \* events posted to this machine, not yet dispatched

vars == <<vmState, qemu, qmpUp, agentUp, agentLost, stopRequested,
          readyNotices, stoppedNotices, queue>>

TypeOK ==
  /\ vmState \in States
  /\ qemu \in Qemu
  /\ qmpUp \in BOOLEAN
  /\ agentUp \in BOOLEAN
  /\ agentLost \in BOOLEAN
  /\ stopRequested \in BOOLEAN
  /\ readyNotices \in Nat
  /\ stoppedNotices \in Nat
  /\ queue \in Seq(Events)

Init ==
  /\ vmState = "NEW"
  /\ qemu = "none"
  /\ qmpUp = FALSE
  /\ agentUp = FALSE
  /\ agentLost = FALSE
  /\ stopRequested = FALSE
  /\ readyNotices = 0
  /\ stoppedNotices = 0
  /\ queue = << >>

----------------------------------------------------------------------------
Recv(e) == queue # << >> /\ Head(queue) = e
Goto(s, posted) == vmState' = s /\ queue' = Tail(queue) \o posted
Same(posted) == Goto(vmState, posted)

(* What the C actions do to the world, in the model's terms.              *)
KillQemu == qemu' = IF qemu = "running" THEN "killed" ELSE qemu     \* vm_do_kill
Ready    == readyNotices' = readyNotices + 1                         \* vm_do_ready
Stopped  == stoppedNotices' = stoppedNotices + 1                     \* vm_do_stopped

----------------------------------------------------------------------------
(* The rows, in table order.                                               *)

VM_NEW_SPAWN ==
  /\ Recv("SPAWN")
  /\ vmState = "NEW"
  /\ \/ /\ Goto("SPAWNING", << >>)        \* vm_act_spawn: QEMU forked
        /\ qemu' = "running"
     \/ /\ Same(<< "FAIL" >>)             \* fork failed: no QEMU
        /\ UNCHANGED qemu
  /\ UNCHANGED <<qmpUp, agentUp, agentLost, stopRequested, readyNotices, stoppedNotices>>

VM_NEW_STOP ==
  /\ Recv("STOP")
  /\ vmState = "NEW"
  /\ Goto("STOPPED", << >>)
  /\ Stopped
  /\ UNCHANGED <<qemu, qmpUp, agentUp, agentLost, stopRequested, readyNotices>>

VM_NEW_FAIL ==
  /\ Recv("FAIL")
  /\ vmState = "NEW"
  /\ Goto("STOPPED", << >>)
  /\ Stopped
  /\ UNCHANGED <<qemu, qmpUp, agentUp, agentLost, stopRequested, readyNotices>>

VM_SPAWNING_QMP_READY_agent_up ==
  /\ Recv("QMP_READY")
  /\ vmState = "SPAWNING"
  /\ agentUp
  /\ Goto("READY", << >>)
  /\ Ready
  /\ UNCHANGED <<qemu, qmpUp, agentUp, agentLost, stopRequested, stoppedNotices>>

VM_SPAWNING_QMP_READY ==
  /\ Recv("QMP_READY")
  /\ vmState = "SPAWNING"
  /\ ~agentUp
  /\ Goto("BOOTING", << >>)
  /\ UNCHANGED <<qemu, qmpUp, agentUp, agentLost, stopRequested, readyNotices, stoppedNotices>>

VM_SPAWNING_AGENT_READY_qmp_up ==
  /\ Recv("AGENT_READY")
  /\ vmState = "SPAWNING"
  /\ qmpUp
  /\ Goto("READY", << >>)
  /\ Ready
  /\ UNCHANGED <<qemu, qmpUp, agentUp, agentLost, stopRequested, stoppedNotices>>

VM_SPAWNING_AGENT_READY ==
  /\ Recv("AGENT_READY")
  /\ vmState = "SPAWNING"
  /\ ~qmpUp
  /\ Same(<< >>)
  /\ UNCHANGED <<qemu, qmpUp, agentUp, agentLost, stopRequested, readyNotices, stoppedNotices>>

VM_BOOTING_AGENT_READY ==
  /\ Recv("AGENT_READY")
  /\ vmState = "BOOTING"
  /\ Goto("READY", << >>)
  /\ Ready
  /\ UNCHANGED <<qemu, qmpUp, agentUp, agentLost, stopRequested, stoppedNotices>>

VM_READY_STOP ==
  /\ Recv("STOP")
  /\ vmState = "READY"
  /\ Goto("STOPPING", << >>)              \* vm_act_powerdown: Shutdown + ACPI
  /\ stopRequested' = TRUE
  /\ UNCHANGED <<qemu, qmpUp, agentUp, agentLost, readyNotices, stoppedNotices>>

VM_READY_AGENT_LOST ==
  /\ Recv("AGENT_LOST")
  /\ vmState = "READY"
  /\ Goto("STOPPING", << >>)
  /\ KillQemu
  /\ UNCHANGED <<qmpUp, agentUp, agentLost, stopRequested, readyNotices, stoppedNotices>>

VM_STOPPING_TIMEOUT ==
  /\ Recv("TIMEOUT")
  /\ vmState = "STOPPING"
  /\ Same(<< >>)
  /\ KillQemu
  /\ UNCHANGED <<qmpUp, agentUp, agentLost, stopRequested, readyNotices, stoppedNotices>>

(* Rows with no action that keep the state: one action per row all the same. *)
Ignore(s, e) ==
  /\ Recv(e)
  /\ vmState = s
  /\ Same(<< >>)
  /\ UNCHANGED <<qemu, qmpUp, agentUp, agentLost, stopRequested, readyNotices, stoppedNotices>>

VM_STOPPING_STOP        == Ignore("STOPPING", "STOP")
VM_STOPPING_AGENT_LOST  == Ignore("STOPPING", "AGENT_LOST")
VM_STOPPING_QMP_READY   == Ignore("STOPPING", "QMP_READY")
VM_STOPPING_AGENT_READY == Ignore("STOPPING", "AGENT_READY")
VM_STOPPED_QEMU_EXITED  == Ignore("STOPPED", "QEMU_EXITED")

VM_ANY_QEMU_EXITED ==
  /\ Recv("QEMU_EXITED")
  /\ vmState # "STOPPED"
  /\ Goto("STOPPED", << >>)
  /\ Stopped
  /\ UNCHANGED <<qemu, qmpUp, agentUp, agentLost, stopRequested, readyNotices>>

VM_STOPPED_STOP        == Ignore("STOPPED", "STOP")
VM_STOPPED_AGENT_LOST  == Ignore("STOPPED", "AGENT_LOST")
VM_STOPPED_TIMEOUT     == Ignore("STOPPED", "TIMEOUT")
VM_STOPPED_QMP_READY   == Ignore("STOPPED", "QMP_READY")
VM_STOPPED_AGENT_READY == Ignore("STOPPED", "AGENT_READY")
VM_STOPPED_FAIL        == Ignore("STOPPED", "FAIL")

(* The FSM_ANY kill rows; earlier specific rows win (first match).         *)
AnyKill(e, shadowed) ==
  /\ Recv(e)
  /\ vmState \notin shadowed
  /\ Goto("STOPPING", << >>)
  /\ KillQemu
  /\ UNCHANGED <<qmpUp, agentUp, agentLost, stopRequested, readyNotices, stoppedNotices>>

VM_ANY_TIMEOUT    == AnyKill("TIMEOUT", {"STOPPING", "STOPPED"})
VM_ANY_STOP       == AnyKill("STOP", {"NEW", "READY", "STOPPING", "STOPPED"})
VM_ANY_AGENT_LOST == AnyKill("AGENT_LOST", {"READY", "STOPPING", "STOPPED"})
VM_ANY_FAIL       == AnyKill("FAIL", {"NEW", "STOPPED"})

VM_Reject ==
  /\ queue # << >>
  /\ ~HasRow(vmState, Head(queue))
  /\ Same(<< >>)
  /\ UNCHANGED <<qemu, qmpUp, agentUp, agentLost, stopRequested, readyNotices, stoppedNotices>>

Dispatch ==
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
(* The owner's calls (core/vm.c), between drains.                          *)
Owner_vm_start ==
  /\ queue = << >>
  /\ queue' = << "SPAWN" >>
  /\ UNCHANGED <<vmState, qemu, qmpUp, agentUp, agentLost, stopRequested, readyNotices, stoppedNotices>>

Owner_vm_stop ==
  /\ queue = << >>
  /\ stopRequested' = TRUE
  /\ queue' = << "STOP" >>
  /\ UNCHANGED <<vmState, qemu, qmpUp, agentUp, agentLost, readyNotices, stoppedNotices>>

Owner_vm_kill ==
  /\ queue = << >>
  /\ stopRequested' = TRUE
  /\ qemu' = IF qemu = "running" /\ vmState # "STOPPED" THEN "killed" ELSE qemu
  /\ queue' = << "STOP" >>
  /\ UNCHANGED <<vmState, qmpUp, agentUp, agentLost, readyNotices, stoppedNotices>>

Owner_vm_abort ==                          \* a hostile guest
  /\ queue = << >>
  /\ vmState # "STOPPED"
  /\ KillQemu
  /\ queue' = << "FAIL" >>
  /\ UNCHANGED <<vmState, qmpUp, agentUp, agentLost, stopRequested, readyNotices, stoppedNotices>>

(* What QEMU, QMP and the agent report.  One-shot news may land behind a   *)
(* drain in progress: that is the same as arriving right after it.        *)
World_QmpReady ==
  /\ qemu = "running"
  /\ ~qmpUp
  /\ qmpUp' = TRUE
  /\ queue' = Append(queue, "QMP_READY")
  /\ UNCHANGED <<vmState, qemu, agentUp, agentLost, stopRequested, readyNotices, stoppedNotices>>

World_AgentReady ==
  /\ qemu = "running"
  /\ vmState # "STOPPED"
  /\ ~agentUp
  /\ agentUp' = TRUE
  /\ queue' = Append(queue, "AGENT_READY")
  /\ UNCHANGED <<vmState, qemu, qmpUp, agentLost, stopRequested, readyNotices, stoppedNotices>>

World_AgentLost ==
  /\ agentUp
  /\ ~agentLost
  /\ vmState # "STOPPED"                   \* vsock_free() cancels the news
  /\ agentLost' = TRUE
  /\ queue' = Append(queue, "AGENT_LOST")
  /\ UNCHANGED <<vmState, qemu, qmpUp, agentUp, stopRequested, readyNotices, stoppedNotices>>

World_QemuCrashes ==
  /\ qemu = "running"
  /\ qemu' = "gone"
  /\ queue' = Append(queue, "QEMU_EXITED")
  /\ UNCHANGED <<vmState, qmpUp, agentUp, agentLost, stopRequested, readyNotices, stoppedNotices>>

World_KilledQemuExits ==
  /\ qemu = "killed"
  /\ qemu' = "gone"
  /\ queue' = Append(queue, "QEMU_EXITED")
  /\ UNCHANGED <<vmState, qmpUp, agentUp, agentLost, stopRequested, readyNotices, stoppedNotices>>

World_Timer ==
  /\ vmState \in Waiting
  /\ \A i \in DOMAIN queue : queue[i] # "TIMEOUT"
  /\ queue' = Append(queue, "TIMEOUT")
  /\ UNCHANGED <<vmState, qemu, qmpUp, agentUp, agentLost, stopRequested, readyNotices, stoppedNotices>>

Next ==
  \/ Dispatch
  \/ Owner_vm_start \/ Owner_vm_stop \/ Owner_vm_kill \/ Owner_vm_abort
  \/ World_QmpReady \/ World_AgentReady \/ World_AgentLost
  \/ World_QemuCrashes \/ World_KilledQemuExits \/ World_Timer

(* Timers fire and SIGKILL works; nothing else is promised.               *)
Spec ==
  /\ Init
  /\ [][Next]_vars
  /\ WF_vars(Dispatch)
  /\ WF_vars(World_Timer)
  /\ WF_vars(World_KilledQemuExits)

----------------------------------------------------------------------------
WaitingStatesTimeout ==
  \A s \in Waiting : \E i \in DOMAIN Rows :
    Rows[i].ev = "TIMEOUT" /\ Rows[i].from \in {s, "ANY"}

(* The owner hears READY at most once and STOPPED exactly once, on entry.  *)
ReadyNotifiedOnce == readyNotices <= 1
StoppedNotifiedOnce == stoppedNotices <= 1
StoppedIsNotified == (vmState = "STOPPED") <=> (stoppedNotices = 1)

(* STOPPED means no QEMU is left: none was started, or it has exited.      *)
StoppedMeansNoQemu == vmState = "STOPPED" => qemu \in {"none", "gone"}

TerminalIsFinal == [][(vmState \in Terminal) => vmState' = vmState]_vars

EveryWaitingStateLeft == \A s \in Waiting : (vmState = s) ~> (vmState # s)
=============================================================================
