--------------------------------- MODULE NIC ---------------------------------
(***************************************************************************)
(* The NIC machine (core/nic_fsm.c, "nic"): a veth of the VM's namespace   *)
(* wired into the guest (TAP + tc, QMP getfd, netdev_add, device_add, the  *)
(* agent's ConfigureNetwork).  The table (States, Events, Rows, ...) is    *)
(* generated from the C by `kiln-fsm tla nic` into tla/gen/NICRows.tla;    *)
(* this module interprets it generically (first matching row wins, "ANY"  *)
(* and "SAME" as the engine has them) and adds the environment and the     *)
(* properties.  The table has no guards.  The four step actions may fail: *)
(* the state is kept and FAIL is dispatched next, as fsm.c does.           *)
(***************************************************************************)
EXTENDS Naturals, Sequences, NICRows

Fallible == {"nic_act_plug", "nic_act_netdev", "nic_act_device",
             "nic_act_configure"}
Tells == {"nic_act_up", "nic_act_failed"}   \* the task hears of the NIC

VARIABLES
  nicState,   \* fsm.state
  told,       \* times the task was told (net_next or NET_FAILED)
  queue       \* events for this machine, not yet dispatched

vars == <<nicState, told, queue>>

TypeOK ==
  /\ nicState \in States
  /\ told \in Nat
  /\ queue \in Seq(Events)

Init ==
  /\ nicState = Initial
  /\ told = 0
  /\ queue = << >>

Match(i, s, e) == Rows[i].ev = e /\ Rows[i].from \in {s, "ANY"}
First(s, e) == CHOOSE i \in DOMAIN Rows :
                 Match(i, s, e) /\ \A j \in 1..(i - 1) : ~Match(j, s, e)
Target(i, s) == IF Rows[i].to = "SAME" THEN s ELSE Rows[i].to

(* The first row runs its action, which succeeds ...                      *)
Fire ==
  /\ queue # << >>
  /\ HasRow(nicState, Head(queue))
  /\ LET i == First(nicState, Head(queue)) IN
       /\ nicState' = Target(i, nicState)
       /\ told' = told + (IF Rows[i].act \in Tells THEN 1 ELSE 0)
       /\ queue' = Tail(queue)

(* ... or fails: the state holds and FAIL goes first.                     *)
FireFails ==
  /\ queue # << >>
  /\ HasRow(nicState, Head(queue))
  /\ Rows[First(nicState, Head(queue))].act \in Fallible
  /\ queue' = << FailEvent >> \o Tail(queue)
  /\ UNCHANGED <<nicState, told>>

Reject ==
  /\ queue # << >>
  /\ ~HasRow(nicState, Head(queue))
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<nicState, told>>

(* The owner plugs once; QMP, the agent and the VM answer anything, one   *)
(* event at a time; the timer runs in the waiting states.                 *)
Plug ==
  /\ nicState = Initial /\ queue = << >>
  /\ queue' = << "PLUG" >>
  /\ UNCHANGED <<nicState, told>>

World ==
  /\ nicState # Initial /\ queue = << >>
  /\ \E e \in Events \ {"TIMEOUT", "PLUG", FailEvent} : queue' = << e >>
  /\ UNCHANGED <<nicState, told>>

Timer ==
  /\ nicState \in Waiting
  /\ \A i \in DOMAIN queue : queue[i] # TimeoutEvent
  /\ queue' = Append(queue, TimeoutEvent)
  /\ UNCHANGED <<nicState, told>>

Next == Fire \/ FireFails \/ Reject \/ Plug \/ World \/ Timer

Spec == Init /\ [][Next]_vars /\ WF_vars(Fire \/ Reject) /\ WF_vars(Timer)
        /\ WF_vars(Plug)

(* Bounded for TLC: the queue never holds more than two events.           *)
QueueBound == Len(queue) <= 2
----------------------------------------------------------------------------
(* The task hears of a NIC at most once: NET_READY or NET_FAILED.         *)
ToldOnce == told <= 1
TerminalIsFinal == [][(nicState \in Terminal) => nicState' = nicState]_vars
(* A plug that started ends, up or failed (the timer sees to it).         *)
PlugEnds == (nicState \in Waiting) ~> (nicState \in Terminal)
===============================================================================
