------------------------------- MODULE Channel -------------------------------
(***************************************************************************)
(* The agent connection: the vsock channel machine (vsock/vsock_fsm.c,     *)
(* "vsock_chan") and the ttrpc connection machine it adopts once the       *)
(* agent has greeted (proto/proto_conn_fsm.c, "ttrpc_conn").  One TLA+     *)
(* action per table row, named Chan_<FROM>_<EVENT> and Conn_<FROM>_<EVENT> *)
(* (FROM is ANY for an FSM_ANY row); Chan_Reject / Conn_Reject: an event   *)
(* with no row.                                                            *)
(*                                                                         *)
(* vsock_chan v2 (vsock_fsm.c fsm_def.version 2; v2 adds READY_NOTICE).   *)
(*                                                                         *)
(* Coupling (core of vsock/vsock.c and proto/proto_conn.c):                *)
(*   vsock_do_adopt    -> deferred: READY_NOTICE dispatched (a row only in *)
(*                        READY); if taken, proto_conn_adopt (conn         *)
(*                        CONNECTING, CONNECTED dispatched at once) and    *)
(*                        the owner's on_ready                             *)
(*   proto teardown    -> deferred: pending calls fail, on_closed ->       *)
(*                        vsock CONN_CLOSED                                *)
(*   vsock_do_teardown -> proto_conn_free (calls dropped, its news          *)
(*                        cancelled), a pending ready notice cancelled;    *)
(*                        deferred: owner's on_closed                      *)
(***************************************************************************)
EXTENDS Naturals, Sequences

ChanStates == {"DIALING", "AWAIT_HELLO", "READY", "CLOSED"}
ChanEvents == {"CONNECTED", "DIAL_RETRY", "HELLO", "BAD_HELLO", "CONN_CLOSED",
               "TIMEOUT", "CLOSE", "FAIL", "READY_NOTICE"}
ChanWaiting == {"DIALING", "AWAIT_HELLO"}

ConnStates == {"CONNECTING", "READY", "DRAINING", "CLOSED"}
ConnEvents == {"CONNECTED", "CONNECT_FAILED", "TIMEOUT", "PEER_CLOSED",
               "PROTOCOL_ERROR", "CLOSE", "DRAINED", "FAIL"}
ConnWaiting == {"CONNECTING", "DRAINING"}
(* The conn object: not made yet, a machine in one of its states, or freed. *)
ConnObj == {"NONE", "FREED"} \union ConnStates

R(f, e, a, t) == [from |-> f, ev |-> e, act |-> a, to |-> t]
ChanRows == <<
  R("DIALING", "CONNECTED", "vsock_act_watch_hello", "AWAIT_HELLO"),
  R("DIALING", "DIAL_RETRY", "vsock_act_retry", "SAME"),
  R("AWAIT_HELLO", "HELLO", "vsock_act_adopt", "READY"),
  R("AWAIT_HELLO", "BAD_HELLO", "vsock_act_teardown", "CLOSED"),
  R("READY", "CONN_CLOSED", "vsock_act_teardown", "CLOSED"),
  R("READY", "READY_NOTICE", "", "SAME"),
  R("CLOSED", "CLOSE", "", "SAME"),
  R("CLOSED", "CONN_CLOSED", "", "SAME"),
  R("CLOSED", "TIMEOUT", "", "SAME"),
  R("CLOSED", "FAIL", "", "SAME"),
  R("ANY", "CONN_CLOSED", "vsock_act_teardown", "CLOSED"),
  R("ANY", "TIMEOUT", "vsock_act_teardown", "CLOSED"),
  R("ANY", "CLOSE", "vsock_act_teardown", "CLOSED"),
  R("ANY", "FAIL", "vsock_act_teardown", "CLOSED")
>>
ConnRows == <<
  R("CONNECTING", "CONNECTED", "proto_conn_act_ready", "READY"),
  R("CONNECTING", "CONNECT_FAILED", "proto_conn_act_teardown", "CLOSED"),
  R("CONNECTING", "TIMEOUT", "proto_conn_act_teardown", "CLOSED"),
  R("CONNECTING", "CLOSE", "proto_conn_act_teardown", "CLOSED"),
  R("READY", "PEER_CLOSED", "proto_conn_act_teardown", "CLOSED"),
  R("READY", "PROTOCOL_ERROR", "proto_conn_act_drain", "DRAINING"),
  R("READY", "CLOSE", "proto_conn_act_drain", "DRAINING"),
  R("DRAINING", "DRAINED", "proto_conn_act_teardown", "CLOSED"),
  R("DRAINING", "TIMEOUT", "proto_conn_act_teardown", "CLOSED"),
  R("DRAINING", "PEER_CLOSED", "proto_conn_act_teardown", "CLOSED"),
  R("DRAINING", "CLOSE", "", "SAME"),
  R("CLOSED", "CLOSE", "", "SAME"),
  R("CLOSED", "FAIL", "", "SAME"),
  R("ANY", "FAIL", "proto_conn_act_teardown", "CLOSED")
>>
HasRow(rows, s, e) == \E i \in DOMAIN rows : rows[i].ev = e /\ rows[i].from \in {s, "ANY"}

M(to, ev) == [to |-> to, ev |-> ev]
Msgs == {M("chan", e) : e \in ChanEvents} \union {M("conn", e) : e \in ConnEvents}
Deferreds == {"chan_ready", "chan_closed", "conn_closed"}

VARIABLES
  chan,          \* vsock_chan state
  conn,          \* ttrpc_conn: NONE, its state, or FREED
  outQueued,     \* the conn owes the peer bytes (buf_used(&c->out) > 0)
  calls,         \* calls in flight on the conn
  failedCalls,   \* calls answered UNAVAILABLE by the conn's teardown news
  droppedCalls,  \* calls freed with the conn, never answered
  ownerReady,    \* on_ready callbacks the owner got
  ownerClosed,   \* on_closed callbacks the owner got
  queue,         \* fsm_env run queue
  deferred       \* reactor_defer FIFO

vars == <<chan, conn, outQueued, calls, failedCalls, droppedCalls, ownerReady,
          ownerClosed, queue, deferred>>

TypeOK ==
  /\ chan \in ChanStates
  /\ conn \in ConnObj
  /\ outQueued \in BOOLEAN
  /\ calls \in Nat
  /\ failedCalls \in Nat
  /\ droppedCalls \in Nat
  /\ ownerReady \in Nat
  /\ ownerClosed \in Nat
  /\ queue \in Seq(Msgs)
  /\ deferred \in Seq(Deferreds)

Init ==
  /\ chan = "DIALING"
  /\ conn = "NONE"
  /\ outQueued = FALSE
  /\ calls = 0
  /\ failedCalls = 0
  /\ droppedCalls = 0
  /\ ownerReady = 0
  /\ ownerClosed = 0
  /\ queue = << >>
  /\ deferred = << >>

----------------------------------------------------------------------------
Pending(m) == \E i \in DOMAIN queue : queue[i] = m
Recv(to, e) == queue # << >> /\ Head(queue) = M(to, e)
ChGo(s, posted) == chan' = s /\ queue' = Tail(queue) \o posted
CoGo(s, posted) == conn' = s /\ queue' = Tail(queue) \o posted
Cancel(d) == SelectSeq(deferred, LAMBDA x : x # d)

(* vsock_do_teardown: the conn is freed with its calls and its news, a     *)
(* ready notice not yet run is cancelled (reactor_defer_cancel), and the   *)
(* owner's on_closed is deferred.                                          *)
ChanTeardown(e, s) ==
  /\ Recv("chan", e)
  /\ chan = s
  /\ ChGo("CLOSED", << >>)
  /\ conn' = IF conn = "NONE" THEN "NONE" ELSE "FREED"
  /\ droppedCalls' = droppedCalls + calls
  /\ calls' = 0
  /\ deferred' = Append(SelectSeq(deferred,
                   LAMBDA x : x \notin {"conn_closed", "chan_ready"}),
                   "chan_closed")
  /\ UNCHANGED <<outQueued, failedCalls, ownerReady, ownerClosed>>

ChIgnore(s, e) ==
  /\ Recv("chan", e)
  /\ chan = s
  /\ ChGo(s, << >>)
  /\ UNCHANGED <<conn, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

(* vsock_chan rows, in table order.                                        *)
Chan_DIALING_CONNECTED ==                  \* vsock_act_watch_hello
  /\ Recv("chan", "CONNECTED")
  /\ chan = "DIALING"
  /\ ChGo("AWAIT_HELLO", << >>)
  /\ UNCHANGED <<conn, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

Chan_DIALING_DIAL_RETRY == ChIgnore("DIALING", "DIAL_RETRY")   \* vsock_act_retry

Chan_AWAIT_HELLO_HELLO ==                  \* vsock_act_adopt
  /\ Recv("chan", "HELLO")
  /\ chan = "AWAIT_HELLO"
  /\ ChGo("READY", << >>)
  /\ deferred' = Append(deferred, "chan_ready")
  /\ UNCHANGED <<conn, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed>>

Chan_AWAIT_HELLO_BAD_HELLO == ChanTeardown("BAD_HELLO", "AWAIT_HELLO")
Chan_READY_CONN_CLOSED == ChanTeardown("CONN_CLOSED", "READY")
Chan_CLOSED_CLOSE == ChIgnore("CLOSED", "CLOSE")
Chan_CLOSED_CONN_CLOSED == ChIgnore("CLOSED", "CONN_CLOSED")
Chan_CLOSED_TIMEOUT == ChIgnore("CLOSED", "TIMEOUT")
Chan_CLOSED_FAIL == ChIgnore("CLOSED", "FAIL")
Chan_ANY_CONN_CLOSED ==
  chan \notin {"READY", "CLOSED"} /\ ChanTeardown("CONN_CLOSED", chan)
Chan_ANY_TIMEOUT == chan # "CLOSED" /\ ChanTeardown("TIMEOUT", chan)
Chan_ANY_CLOSE == chan # "CLOSED" /\ ChanTeardown("CLOSE", chan)
Chan_ANY_FAIL == chan # "CLOSED" /\ ChanTeardown("FAIL", chan)

Chan_Reject ==
  /\ queue # << >>
  /\ Head(queue).to = "chan"
  /\ ~HasRow(ChanRows, chan, Head(queue).ev)
  /\ ChGo(chan, << >>)
  /\ UNCHANGED <<conn, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

ChanDispatch ==
  \/ Chan_DIALING_CONNECTED \/ Chan_DIALING_DIAL_RETRY
  \/ Chan_AWAIT_HELLO_HELLO \/ Chan_AWAIT_HELLO_BAD_HELLO
  \/ Chan_READY_CONN_CLOSED
  \/ Chan_CLOSED_CLOSE \/ Chan_CLOSED_CONN_CLOSED \/ Chan_CLOSED_TIMEOUT
  \/ Chan_CLOSED_FAIL
  \/ Chan_ANY_CONN_CLOSED \/ Chan_ANY_TIMEOUT \/ Chan_ANY_CLOSE \/ Chan_ANY_FAIL
  \/ Chan_Reject

----------------------------------------------------------------------------
(* ttrpc_conn rows, in table order.  The conn exists (its machine runs)    *)
(* only between proto_conn_adopt and proto_conn_free.                      *)

ConnTeardown(e, s) ==                      \* proto_conn_act_teardown
  /\ Recv("conn", e)
  /\ conn = s
  /\ CoGo("CLOSED", << >>)
  /\ outQueued' = FALSE
  /\ deferred' = Append(deferred, "conn_closed")
  /\ UNCHANGED <<chan, calls, failedCalls, droppedCalls, ownerReady, ownerClosed>>

CoIgnore(s, e) ==
  /\ Recv("conn", e)
  /\ conn = s
  /\ CoGo(s, << >>)
  /\ UNCHANGED <<chan, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

Conn_CONNECTING_CONNECTED ==               \* proto_conn_act_ready
  /\ Recv("conn", "CONNECTED")
  /\ conn = "CONNECTING"
  /\ CoGo("READY", << >>)
  /\ UNCHANGED <<chan, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

Conn_CONNECTING_CONNECT_FAILED == ConnTeardown("CONNECT_FAILED", "CONNECTING")
Conn_CONNECTING_TIMEOUT == ConnTeardown("TIMEOUT", "CONNECTING")
Conn_CONNECTING_CLOSE == ConnTeardown("CLOSE", "CONNECTING")
Conn_READY_PEER_CLOSED == ConnTeardown("PEER_CLOSED", "READY")

Drain(e) ==                                \* proto_conn_act_drain
  /\ Recv("conn", e)
  /\ conn = "READY"
  /\ CoGo("DRAINING", IF outQueued THEN << >> ELSE << M("conn", "DRAINED") >>)
  /\ UNCHANGED <<chan, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

Conn_READY_PROTOCOL_ERROR == Drain("PROTOCOL_ERROR")
Conn_READY_CLOSE == Drain("CLOSE")
Conn_DRAINING_DRAINED == ConnTeardown("DRAINED", "DRAINING")
Conn_DRAINING_TIMEOUT == ConnTeardown("TIMEOUT", "DRAINING")
Conn_DRAINING_PEER_CLOSED == ConnTeardown("PEER_CLOSED", "DRAINING")
Conn_DRAINING_CLOSE == CoIgnore("DRAINING", "CLOSE")
Conn_CLOSED_CLOSE == CoIgnore("CLOSED", "CLOSE")
Conn_CLOSED_FAIL == CoIgnore("CLOSED", "FAIL")
Conn_ANY_FAIL == conn \in ConnStates \ {"CLOSED"} /\ ConnTeardown("FAIL", conn)

(* Events for a conn that is not there (not made yet, or freed) are       *)
(* dropped with it: fsm_fini() drops what is queued for the instance.     *)
Conn_Reject ==
  /\ queue # << >>
  /\ Head(queue).to = "conn"
  /\ \/ conn \notin ConnStates
     \/ ~HasRow(ConnRows, conn, Head(queue).ev)
  /\ CoGo(conn, << >>)
  /\ UNCHANGED <<chan, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

ConnDispatch ==
  \/ Conn_CONNECTING_CONNECTED \/ Conn_CONNECTING_CONNECT_FAILED
  \/ Conn_CONNECTING_TIMEOUT \/ Conn_CONNECTING_CLOSE
  \/ Conn_READY_PEER_CLOSED \/ Conn_READY_PROTOCOL_ERROR \/ Conn_READY_CLOSE
  \/ Conn_DRAINING_DRAINED \/ Conn_DRAINING_TIMEOUT \/ Conn_DRAINING_PEER_CLOSED
  \/ Conn_DRAINING_CLOSE \/ Conn_CLOSED_CLOSE \/ Conn_CLOSED_FAIL
  \/ Conn_ANY_FAIL
  \/ Conn_Reject

Dispatch == ChanDispatch \/ ConnDispatch

----------------------------------------------------------------------------
(* The READY_NOTICE row: dispatched by vsock_notify_ready_cb itself (a    *)
(* deferred call, so never behind the run queue); no action, SAME.         *)
Chan_READY_READY_NOTICE == chan = "READY"

(* Deferred callbacks, in order.                                           *)
DeliverDeferred ==
  /\ deferred # << >>
  /\ deferred' = Tail(deferred)
  /\ CASE Head(deferred) = "chan_ready" /\ Chan_READY_READY_NOTICE ->
            \* vsock_notify_ready_cb: READY_NOTICE taken by its READY row
            \* (Chan_READY_READY_NOTICE, no action, SAME); proto_conn_adopt
            \* dispatches CONNECTED at once (modelled as posted), then the
            \* owner's on_ready.
            /\ conn' = "CONNECTING"
            /\ queue' = Append(queue, M("conn", "CONNECTED"))
            /\ ownerReady' = ownerReady + 1
            /\ UNCHANGED <<calls, failedCalls, droppedCalls, ownerClosed>>
       [] Head(deferred) = "chan_ready" ->
            \* READY_NOTICE rejected outside READY: the callback returns.
            \* (Unreachable: teardown cancels the notice.)
            UNCHANGED <<conn, calls, failedCalls, droppedCalls, ownerReady,
                        ownerClosed, queue>>
       [] Head(deferred) = "conn_closed" ->
            \* proto_conn_notify_cb: calls fail, on_closed -> CONN_CLOSED
            /\ failedCalls' = failedCalls + calls
            /\ calls' = 0
            /\ queue' = Append(queue, M("chan", "CONN_CLOSED"))
            /\ UNCHANGED <<conn, droppedCalls, ownerReady, ownerClosed>>
       [] Head(deferred) = "chan_closed" ->
            \* vsock_notify_closed_cb: the owner's on_closed
            /\ ownerClosed' = ownerClosed + 1
            /\ UNCHANGED <<conn, calls, failedCalls, droppedCalls, ownerReady, queue>>
  /\ UNCHANGED <<chan, outQueued>>

(* The world: the socket, the guest, the owner, the timers.                *)
Dial ==                                    \* connect() completes or is refused
  /\ queue = << >>
  /\ chan = "DIALING"
  /\ \E e \in {"CONNECTED", "DIAL_RETRY"} : queue' = << M("chan", e) >>
  /\ UNCHANGED <<chan, conn, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

Greeting ==                                \* the agent's hello, good or bad, or EOF
  /\ queue = << >>
  /\ chan = "AWAIT_HELLO"
  /\ \E e \in {"HELLO", "BAD_HELLO", "CONN_CLOSED"} : queue' = << M("chan", e) >>
  /\ UNCHANGED <<chan, conn, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

Call ==                                    \* the owner calls (bounded)
  /\ conn = "READY"
  /\ calls < 2
  /\ calls' = calls + 1
  /\ outQueued' = TRUE
  /\ UNCHANGED <<chan, conn, failedCalls, droppedCalls, ownerReady, ownerClosed,
                 queue, deferred>>

Reply ==                                   \* the peer answers one call
  /\ conn \in {"READY", "DRAINING"}
  /\ calls > 0
  /\ calls' = calls - 1
  /\ UNCHANGED <<chan, conn, outQueued, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, queue, deferred>>

Flushed ==                                 \* the output buffer empties
  /\ conn \in {"READY", "DRAINING"}
  /\ outQueued
  /\ outQueued' = FALSE
  /\ queue' = IF conn = "DRAINING" THEN Append(queue, M("conn", "DRAINED")) ELSE queue
  /\ UNCHANGED <<chan, conn, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

PeerTrouble ==                             \* EOF or a malformed frame
  /\ queue = << >>
  /\ conn \in {"READY", "DRAINING"}
  /\ \E e \in {"PEER_CLOSED", "PROTOCOL_ERROR"} : queue' = << M("conn", e) >>
  /\ UNCHANGED <<chan, conn, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

OwnerCloses ==                             \* proto_conn_close
  /\ queue = << >>
  /\ conn \in ConnStates
  /\ queue' = << M("conn", "CLOSE") >>
  /\ UNCHANGED <<chan, conn, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

ChanTimer ==                               \* one deadline for both waiting states
  /\ chan \in ChanWaiting
  /\ ~Pending(M("chan", "TIMEOUT"))
  /\ queue' = Append(queue, M("chan", "TIMEOUT"))
  /\ UNCHANGED <<chan, conn, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

ConnTimer ==
  /\ conn \in ConnWaiting
  /\ ~Pending(M("conn", "TIMEOUT"))
  /\ queue' = Append(queue, M("conn", "TIMEOUT"))
  /\ UNCHANGED <<chan, conn, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

Next ==
  \/ Dispatch \/ DeliverDeferred
  \/ Dial \/ Greeting \/ Call \/ Reply \/ Flushed \/ PeerTrouble \/ OwnerCloses
  \/ ChanTimer \/ ConnTimer

Spec ==
  /\ Init
  /\ [][Next]_vars
  /\ WF_vars(Dispatch)
  /\ WF_vars(DeliverDeferred)
  /\ WF_vars(ChanTimer)
  /\ WF_vars(ConnTimer)

----------------------------------------------------------------------------
WaitingStatesTimeout ==
  /\ \A s \in ChanWaiting : \E i \in DOMAIN ChanRows :
       ChanRows[i].ev = "TIMEOUT" /\ ChanRows[i].from \in {s, "ANY"}
  /\ \A s \in ConnWaiting : \E i \in DOMAIN ConnRows :
       ConnRows[i].ev = "TIMEOUT" /\ ConnRows[i].from \in {s, "ANY"}

(* The owner hears on_ready at most once and on_closed at most once, and   *)
(* never on_ready after on_closed.                                         *)
OwnerReadyOnce == ownerReady <= 1
OwnerClosedOnce == ownerClosed <= 1
NoReadyAfterClosed == ownerClosed > 0 => ~(\E i \in DOMAIN deferred : deferred[i] = "chan_ready")

(* A live conn only ever sits on a READY channel.                          *)
ConnOnlyOnReadyChannel == conn \in {"CONNECTING", "READY", "DRAINING"} => chan = "READY"

EveryWaitingStateLeft ==
  /\ \A s \in ChanWaiting : (chan = s) ~> (chan # s)
  /\ \A s \in ConnWaiting : (conn = s) ~> (conn # s)
===============================================================================
