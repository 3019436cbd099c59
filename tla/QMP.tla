--------------------------------- MODULE QMP ---------------------------------
(***************************************************************************)
(* The QMP client machine (qmp/qmp_fsm.c, "qmp"): dial QEMU's monitor      *)
(* socket (retrying), read the greeting, negotiate capabilities, serve.    *)
(* The table (States, Events, Rows, ...) is generated from the C by        *)
(* `kiln-fsm tla qmp` into tla/gen/QMPRows.tla; this module interprets it  *)
(* with the engine's rules from that module (Select: the first matching    *)
(* row; Target: "SAME" keeps the state) and adds the environment and the   *)
(* properties.  No action of this table can fail and it has no guards, so *)
(* FAIL only comes from the world (a bug elsewhere).  qmp_act_ready tells  *)
(* the owner (the vm: QMP_READY); every teardown tells it on_closed.       *)
(***************************************************************************)
EXTENDS Naturals, Sequences, QMPRows

(* The actions, by what the owner sees of them.                            *)
Readies == {"qmp_act_ready"}
Closes == {"qmp_act_teardown", "qmp_act_timeout", "qmp_act_unexpected"}
Quiet == {"qmp_act_start", "qmp_act_dial", "qmp_act_connected",
          "qmp_act_negotiate"}
Fallible == {}

ASSUME Actions = Readies \union Closes \union Quiet
ASSUME Fallible \subseteq Actions
ASSUME Guards = {}
ASSUME WaitingStatesTimeout

VARIABLES
  qmpState,   \* fsm.state
  readied,    \* qmp_act_ready runs (the owner's on_ready)
  closed,     \* teardowns (the owner's on_closed)
  queue       \* events for this machine, not yet dispatched

vars == <<qmpState, readied, closed, queue>>

TypeOK ==
  /\ qmpState \in States
  /\ readied \in Nat
  /\ closed \in Nat
  /\ queue \in Seq(Events)

Init ==
  /\ qmpState = Initial
  /\ readied = 0
  /\ closed = 0
  /\ queue = << >>

----------------------------------------------------------------------------
(* The engine: one shape for every row.                                    *)
GS == {}                                   \* no guards

Fire ==
  /\ queue # << >>
  /\ CanSelect(qmpState, Head(queue), GS)
  /\ LET i == Select(qmpState, Head(queue), GS)
         a == Rows[i].act
     IN /\ qmpState' = Target(i, qmpState)
        /\ readied' = readied + (IF a \in Readies THEN 1 ELSE 0)
        /\ closed' = closed + (IF a \in Closes THEN 1 ELSE 0)
        /\ queue' = Tail(queue)

FireFails ==
  /\ queue # << >>
  /\ CanSelect(qmpState, Head(queue), GS)
  /\ Rows[Select(qmpState, Head(queue), GS)].act \in Fallible
  /\ queue' = Tail(queue) \o
       (IF PostsFail(Head(queue)) THEN << FailEvent >> ELSE << >>)
  /\ UNCHANGED <<qmpState, readied, closed>>

Reject ==
  /\ queue # << >>
  /\ ~CanSelect(qmpState, Head(queue), GS)
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<qmpState, readied, closed>>

Dispatch == Fire \/ FireFails \/ Reject

(* The open world: QEMU and the socket say anything, between drains; the  *)
(* timer is armed in the waiting states and fires between drains too.     *)
World ==
  /\ queue = << >>
  /\ \E e \in Events \ {TimeoutEvent} : queue' = << e >>
  /\ UNCHANGED <<qmpState, readied, closed>>

Timer ==
  /\ qmpState \in Waiting
  /\ queue = << >>
  /\ queue' = << TimeoutEvent >>
  /\ UNCHANGED <<qmpState, readied, closed>>

Next == Dispatch \/ World \/ Timer

Spec == Init /\ [][Next]_vars /\ WF_vars(Dispatch) /\ SF_vars(Timer)

----------------------------------------------------------------------------
(* WaitingStatesTimeout (QMPRows, over the generated rows) is an ASSUME   *)
(* above, not an invariant: it is a constant formula.                     *)
ReadyOnce == readied <= 1
ClosedOnce == closed <= 1
ClosedIsFinal == [][(qmpState = "CLOSED") => (qmpState' = "CLOSED")]_vars

EveryWaitingStateLeft == \A s \in Waiting : (qmpState = s) ~> (qmpState # s)
===============================================================================
