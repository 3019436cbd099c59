--------------------------------- MODULE NIC ---------------------------------
(***************************************************************************)
(* The NIC machine (core/nic_fsm.c, "nic"): a veth of the VM's namespace   *)
(* wired into the guest (TAP + tc, QMP getfd, netdev_add, device_add, the  *)
(* agent's ConfigureNetwork).  The table (States, Events, Rows, ...) is    *)
(* generated from the C by `kiln-fsm tla nic` into tla/gen/NICRows.tla;    *)
(* this module interprets it with the engine's rules from that module     *)
(* (Select: first matching row; Target: "SAME" keeps the state) and adds  *)
(* the environment and the properties.  The table has no guards.  The    *)
(* four step actions may fail: the state is kept and FAIL is posted at    *)
(* the tail of the run queue, as fsm.c does.                               *)
(***************************************************************************)
EXTENDS Naturals, Sequences, NICRows

Fallible == {"nic_act_plug", "nic_act_netdev", "nic_act_device",
             "nic_act_configure"}
Tells == {"nic_act_up", "nic_act_failed"}   \* the task hears of the NIC

ASSUME Actions = Fallible \union Tells
ASSUME Guards = {}
ASSUME WaitingStatesTimeout

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

GS == {}                                   \* no guards

(* The selected row runs its action, which succeeds ...                   *)
Fire ==
  /\ queue # << >>
  /\ CanSelect(nicState, Head(queue), GS)
  /\ LET i == Select(nicState, Head(queue), GS) IN
       /\ nicState' = Target(i, nicState)
       /\ told' = told + (IF Rows[i].act \in Tells THEN 1 ELSE 0)
       /\ queue' = Tail(queue)

(* ... or fails: the state holds and FAIL is posted behind the queue.     *)
FireFails ==
  /\ queue # << >>
  /\ CanSelect(nicState, Head(queue), GS)
  /\ Rows[Select(nicState, Head(queue), GS)].act \in Fallible
  /\ queue' = Tail(queue) \o
       (IF PostsFail(Head(queue)) THEN << FailEvent >> ELSE << >>)
  /\ UNCHANGED <<nicState, told>>

Reject ==
  /\ queue # << >>
  /\ ~CanSelect(nicState, Head(queue), GS)
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<nicState, told>>

(* The owner plugs once; QMP, the agent and the VM answer anything, one   *)
(* event at a time, between drains; the timer runs in the waiting states *)
(* and fires between drains too (a reactor callback).                      *)
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
  /\ queue = << >>
  /\ queue' = << TimeoutEvent >>
  /\ UNCHANGED <<nicState, told>>

Dispatch == Fire \/ FireFails \/ Reject

Next == Dispatch \/ Plug \/ World \/ Timer

(* The loop runs; an armed timer that gets a turn between drains again    *)
(* and again fires (strong fairness: it can fire only between drains).    *)
Spec == Init /\ [][Next]_vars /\ WF_vars(Dispatch) /\ SF_vars(Timer)
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
