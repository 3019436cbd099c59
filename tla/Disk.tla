-------------------------------- MODULE Disk ---------------------------------
(***************************************************************************)
(* The disk machine (core/disk_fsm.c, "disk"): a pod's app container's     *)
(* rootfs image hot-added to the pod's VM (blockdev-add, device_add) and   *)
(* taken out when the container is deleted (device_del, QEMU's             *)
(* DEVICE_DELETED, blockdev-del).  The table is generated from the C by    *)
(* `kiln-fsm tla disk` into tla/gen/DiskRows.tla; this module interprets   *)
(* it with the engine's rules from that module, as NIC.tla does (Select:   *)
(* first matching row whose guard holds), and adds the environment and    *)
(* the properties.  The one guard, disk_guard_unplugging, reads the        *)
(* owner's flag, which core_pod_unplug sets before it posts UNPLUG.  The   *)
(* four QMP steps may fail: the state is kept and FAIL is posted at the    *)
(* tail of the run queue, as fsm.c does.                                   *)
(***************************************************************************)
EXTENDS Naturals, Sequences, DiskRows

Fallible == {"disk_act_blockdev", "disk_act_device", "disk_act_unplug",
             "disk_act_blockdel"}
Tellers == {"disk_act_plugged", "disk_act_unplugged", "disk_act_failed"}

ASSUME Actions = Fallible \union Tellers
ASSUME Guards = {"disk_guard_unplugging"}
ASSUME WaitingStatesTimeout

VARIABLES
  diskState,  \* fsm.state
  plugged,    \* disk->plugged: the task heard VM_READY
  unplugging, \* disk->unplugging: the task waits for VM_STOPPED
  toldPlug,   \* times the task heard of the plug (VM_READY, ROOTFS_FAILED)
  toldEnd,    \* times the task heard of the end (VM_STOPPED)
  queue       \* events for this machine, not yet dispatched

vars == <<diskState, plugged, unplugging, toldPlug, toldEnd, queue>>

TypeOK ==
  /\ diskState \in States
  /\ plugged \in BOOLEAN /\ unplugging \in BOOLEAN
  /\ toldPlug \in Nat /\ toldEnd \in Nat
  /\ queue \in Seq(Events)

Init ==
  /\ diskState = Initial
  /\ plugged = FALSE /\ unplugging = FALSE
  /\ toldPlug = 0 /\ toldEnd = 0
  /\ queue = << >>

(* The guards that hold now.                                                *)
GS == IF unplugging THEN {"disk_guard_unplugging"} ELSE {}

(* What each action tells the task (the disk_do_ functions of pod.c).      *)
Tell(act) ==
  CASE act = "disk_act_plugged" ->
         /\ plugged' = TRUE /\ toldPlug' = toldPlug + 1
         /\ UNCHANGED toldEnd
    [] act = "disk_act_unplugged" ->
         /\ toldEnd' = toldEnd + 1 /\ UNCHANGED <<plugged, toldPlug>>
    [] act = "disk_act_failed" /\ unplugging ->
         /\ toldEnd' = toldEnd + 1 /\ UNCHANGED <<plugged, toldPlug>>
    [] act = "disk_act_failed" /\ ~plugged ->
         /\ toldPlug' = toldPlug + 1 /\ UNCHANGED <<plugged, toldEnd>>
    [] OTHER -> UNCHANGED <<plugged, toldPlug, toldEnd>>

Fire ==
  /\ queue # << >>
  /\ CanSelect(diskState, Head(queue), GS)
  /\ LET i == Select(diskState, Head(queue), GS) IN
       /\ diskState' = Target(i, diskState)
       /\ Tell(Rows[i].act)
       /\ queue' = Tail(queue)
       /\ UNCHANGED unplugging

FireFails ==
  /\ queue # << >>
  /\ CanSelect(diskState, Head(queue), GS)
  /\ Rows[Select(diskState, Head(queue), GS)].act \in Fallible
  /\ queue' = Tail(queue) \o
       (IF PostsFail(Head(queue)) THEN << FailEvent >> ELSE << >>)
  /\ UNCHANGED <<diskState, plugged, unplugging, toldPlug, toldEnd>>

Reject ==
  /\ queue # << >>
  /\ ~CanSelect(diskState, Head(queue), GS)
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<diskState, plugged, unplugging, toldPlug, toldEnd>>

(* The owner plugs once, and may delete the container at any time after: *)
(* the flag first, then UNPLUG.                                            *)
Plug ==
  /\ diskState = Initial /\ queue = << >> /\ ~unplugging
  /\ queue' = << "PLUG" >>
  /\ UNCHANGED <<diskState, plugged, unplugging, toldPlug, toldEnd>>

Unplug ==
  /\ ~unplugging
  /\ unplugging' = TRUE
  /\ queue' = Append(queue, "UNPLUG")
  /\ UNCHANGED <<diskState, plugged, toldPlug, toldEnd>>

(* QMP, QEMU's events and the VM answer anything, one event at a time.    *)
World ==
  /\ diskState # Initial /\ queue = << >>
  /\ \E e \in Events \ {"TIMEOUT", "PLUG", "UNPLUG", FailEvent} :
       queue' = << e >>
  /\ UNCHANGED <<diskState, plugged, unplugging, toldPlug, toldEnd>>

(* The timer fires between drains (a reactor callback).                   *)
Timer ==
  /\ diskState \in Waiting
  /\ queue = << >>
  /\ queue' = << TimeoutEvent >>
  /\ UNCHANGED <<diskState, plugged, unplugging, toldPlug, toldEnd>>

Dispatch == Fire \/ FireFails \/ Reject

Next == Dispatch \/ Plug \/ Unplug \/ World \/ Timer

(* Strong fairness for the timer: it can fire only between drains.        *)
Spec == Init /\ [][Next]_vars /\ WF_vars(Dispatch) /\ SF_vars(Timer)
        /\ WF_vars(Plug)

(* Bounded for TLC: the queue never holds more than two events.           *)
QueueBound == Len(queue) <= 2
----------------------------------------------------------------------------
(* The task hears of the plug at most once, and of the end at most once.  *)
PlugToldOnce == toldPlug <= 1
EndToldOnce == toldEnd <= 1
(* A plugged disk was asked for and not yet given up.                    *)
PluggedMeansTold == (diskState = "PLUGGED") => (toldPlug = 1 /\ plugged)
TerminalIsFinal == [][(diskState \in Terminal) => diskState' = diskState]_vars
(* A delete is answered: the task never waits on its disk for ever.       *)
UnplugAnswered == unplugging ~> (toldEnd = 1)
===============================================================================
