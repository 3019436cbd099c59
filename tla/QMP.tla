--------------------------------- MODULE QMP ---------------------------------
(***************************************************************************)
(* The QMP client machine (qmp/qmp_fsm.c, "qmp"): dial QEMU's monitor      *)
(* socket (retrying), read the greeting, negotiate capabilities, serve.    *)
(* One TLA+ action per table row, named QMP_<FROM>_<EVENT> (FROM is ANY    *)
(* for an FSM_ANY row); QMP_Reject: an event with no row.  No action of    *)
(* this table can fail today, so FAIL only comes from the world (a bug).   *)
(* qmp_act_ready tells the owner (the vm: QMP_READY); every teardown tells *)
(* it on_closed.                                                           *)
(***************************************************************************)
(* The table itself (States, Events, Waiting, Rows, HasRow) is generated   *)
(* from qmp/qmp_fsm.c by `kiln-fsm tla qmp` into tla/gen/QMPRows.tla.      *)
EXTENDS Naturals, Sequences, QMPRows

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
  /\ qmpState = "CONNECTING"
  /\ readied = 0
  /\ closed = 0
  /\ queue = << >>

----------------------------------------------------------------------------
Recv(e) == queue # << >> /\ Head(queue) = e

(* One row: from s on e, to t; the action's effect on the counters.        *)
Row(s, e, t, r, c) ==
  /\ Recv(e)
  /\ qmpState = s
  /\ qmpState' = (IF t = "SAME" THEN s ELSE t)
  /\ queue' = Tail(queue)
  /\ readied' = readied + r
  /\ closed' = closed + c

Step(s, e, t) == Row(s, e, t, 0, 0)        \* no owner-visible effect
Down(s, e) == Row(s, e, "CLOSED", 0, 1)    \* qmp_act_teardown/_timeout/_unexpected

QMP_CONNECTING_START          == Step("CONNECTING", "START", "SAME")
QMP_CONNECTING_RETRY          == Step("CONNECTING", "RETRY", "SAME")
QMP_CONNECTING_CONNECTED      == Step("CONNECTING", "CONNECTED", "GREETING")
QMP_CONNECTING_CONNECT_FAILED == Down("CONNECTING", "CONNECT_FAILED")
QMP_CONNECTING_TIMEOUT        == Down("CONNECTING", "TIMEOUT")
QMP_GREETING_GREETING_RX      == Step("GREETING", "GREETING_RX", "NEGOTIATING")
QMP_GREETING_CAPS_OK          == Down("GREETING", "CAPS_OK")
QMP_GREETING_CAPS_FAILED      == Down("GREETING", "CAPS_FAILED")
QMP_GREETING_PEER_CLOSED      == Down("GREETING", "PEER_CLOSED")
QMP_GREETING_PROTOCOL_ERROR   == Down("GREETING", "PROTOCOL_ERROR")
QMP_GREETING_TIMEOUT          == Down("GREETING", "TIMEOUT")
QMP_NEGOTIATING_CAPS_OK       == Row("NEGOTIATING", "CAPS_OK", "READY", 1, 0)
QMP_NEGOTIATING_CAPS_FAILED   == Down("NEGOTIATING", "CAPS_FAILED")
QMP_NEGOTIATING_GREETING_RX   == Down("NEGOTIATING", "GREETING_RX")
QMP_NEGOTIATING_PEER_CLOSED   == Down("NEGOTIATING", "PEER_CLOSED")
QMP_NEGOTIATING_PROTOCOL_ERROR == Down("NEGOTIATING", "PROTOCOL_ERROR")
QMP_NEGOTIATING_TIMEOUT       == Down("NEGOTIATING", "TIMEOUT")
QMP_READY_GREETING_RX         == Down("READY", "GREETING_RX")
QMP_READY_CAPS_OK             == Step("READY", "CAPS_OK", "SAME")
QMP_READY_CAPS_FAILED         == Step("READY", "CAPS_FAILED", "SAME")
QMP_READY_PEER_CLOSED         == Down("READY", "PEER_CLOSED")
QMP_READY_PROTOCOL_ERROR      == Down("READY", "PROTOCOL_ERROR")
QMP_CLOSED_FAIL               == Step("CLOSED", "FAIL", "SAME")
QMP_ANY_FAIL == qmpState # "CLOSED" /\ Down(qmpState, "FAIL")

QMP_Reject ==
  /\ queue # << >>
  /\ ~HasRow(qmpState, Head(queue))
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<qmpState, readied, closed>>

Dispatch ==
  \/ QMP_CONNECTING_START \/ QMP_CONNECTING_RETRY \/ QMP_CONNECTING_CONNECTED
  \/ QMP_CONNECTING_CONNECT_FAILED \/ QMP_CONNECTING_TIMEOUT
  \/ QMP_GREETING_GREETING_RX \/ QMP_GREETING_CAPS_OK \/ QMP_GREETING_CAPS_FAILED
  \/ QMP_GREETING_PEER_CLOSED \/ QMP_GREETING_PROTOCOL_ERROR \/ QMP_GREETING_TIMEOUT
  \/ QMP_NEGOTIATING_CAPS_OK \/ QMP_NEGOTIATING_CAPS_FAILED
  \/ QMP_NEGOTIATING_GREETING_RX \/ QMP_NEGOTIATING_PEER_CLOSED
  \/ QMP_NEGOTIATING_PROTOCOL_ERROR \/ QMP_NEGOTIATING_TIMEOUT
  \/ QMP_READY_GREETING_RX \/ QMP_READY_CAPS_OK \/ QMP_READY_CAPS_FAILED
  \/ QMP_READY_PEER_CLOSED \/ QMP_READY_PROTOCOL_ERROR
  \/ QMP_CLOSED_FAIL \/ QMP_ANY_FAIL
  \/ QMP_Reject

(* The open world: QEMU and the socket say anything, between drains; the  *)
(* timer is armed in the waiting states.                                  *)
World ==
  /\ queue = << >>
  /\ \E e \in Events \ {"TIMEOUT"} : queue' = << e >>
  /\ UNCHANGED <<qmpState, readied, closed>>

Timer ==
  /\ qmpState \in Waiting
  /\ \A i \in DOMAIN queue : queue[i] # "TIMEOUT"
  /\ queue' = Append(queue, "TIMEOUT")
  /\ UNCHANGED <<qmpState, readied, closed>>

Next == Dispatch \/ World \/ Timer

Spec == Init /\ [][Next]_vars /\ WF_vars(Dispatch) /\ WF_vars(Timer)

----------------------------------------------------------------------------
WaitingStatesTimeout ==
  \A s \in Waiting : \E i \in DOMAIN Rows :
    Rows[i].ev = "TIMEOUT" /\ Rows[i].from \in {s, "ANY"}

ReadyOnce == readied <= 1
ClosedOnce == closed <= 1
ClosedIsFinal == [][qmpState = "CLOSED" => qmpState' = "CLOSED"]_vars

EveryWaitingStateLeft == \A s \in Waiting : (qmpState = s) ~> (qmpState # s)
===============================================================================
