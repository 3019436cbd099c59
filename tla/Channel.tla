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

Ch == INSTANCE VsockChanRows
Co == INSTANCE TtrpcConnRows

ASSUME Ch!Actions = {"vsock_act_watch_hello", "vsock_act_retry",
                     "vsock_act_adopt", "vsock_act_teardown"}
ASSUME Co!Actions = {"proto_conn_act_ready", "proto_conn_act_teardown",
                     "proto_conn_act_drain"}
ASSUME Ch!Guards = {} /\ Co!Guards = {}
(* fsm_check's rule over both generated tables: an assumption, since it  *)
(* is a constant formula.                                                 *)
WaitingStatesTimeout == Ch!WaitingStatesTimeout /\ Co!WaitingStatesTimeout
ASSUME WaitingStatesTimeout

(* The conn object: not made yet, a machine in one of its states, or freed. *)
ConnObj == {"NONE", "FREED"} \union Co!States

M(to, ev) == [to |-> to, ev |-> ev]
Msgs == {M("chan", e) : e \in Ch!Events} \union {M("conn", e) : e \in Co!Events}
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
  /\ chan \in Ch!States
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
  /\ chan = Ch!Initial
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
(* The engine over the two generated tables.                               *)
NoGuards == {}

(* vsock_chan.  vsock_do_adopt defers the ready notice; vsock_do_teardown  *)
(* frees the conn with its calls and its news, cancels a ready notice not *)
(* yet run (reactor_defer_cancel) and defers the owner's on_closed.        *)
ChanFire ==
  /\ queue # << >>
  /\ Head(queue).to = "chan"
  /\ Ch!CanSelect(chan, Head(queue).ev, NoGuards)
  /\ LET i == Ch!Select(chan, Head(queue).ev, NoGuards)
         a == Ch!Rows[i].act
         down == a = "vsock_act_teardown"
     IN /\ chan' = Ch!Target(i, chan)
        /\ conn' = IF down /\ conn # "NONE" THEN "FREED" ELSE conn
        /\ droppedCalls' = droppedCalls + (IF down THEN calls ELSE 0)
        /\ calls' = IF down THEN 0 ELSE calls
        /\ deferred' =
             IF down
             THEN Append(SelectSeq(deferred,
                           LAMBDA x : x \notin {"conn_closed", "chan_ready"}),
                         "chan_closed")
             ELSE IF a = "vsock_act_adopt"
                  THEN Append(deferred, "chan_ready")
                  ELSE deferred
        /\ queue' = Tail(queue)
  /\ UNCHANGED <<outQueued, failedCalls, ownerReady, ownerClosed>>

ChanReject ==
  /\ queue # << >>
  /\ Head(queue).to = "chan"
  /\ ~Ch!CanSelect(chan, Head(queue).ev, NoGuards)
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<chan, conn, outQueued, calls, failedCalls, droppedCalls,
                 ownerReady, ownerClosed, deferred>>

(* ttrpc_conn, which runs only between proto_conn_adopt and               *)
(* proto_conn_free.  proto_conn_act_teardown empties the output and       *)
(* defers its news; proto_conn_act_drain posts DRAINED if nothing is      *)
(* queued for the peer.                                                    *)
ConnFire ==
  /\ queue # << >>
  /\ Head(queue).to = "conn"
  /\ conn \in Co!States
  /\ Co!CanSelect(conn, Head(queue).ev, NoGuards)
  /\ LET i == Co!Select(conn, Head(queue).ev, NoGuards)
         a == Co!Rows[i].act
     IN /\ conn' = Co!Target(i, conn)
        /\ outQueued' = (outQueued /\ a # "proto_conn_act_teardown")
        /\ deferred' = IF a = "proto_conn_act_teardown"
                       THEN Append(deferred, "conn_closed") ELSE deferred
        /\ queue' = Tail(queue) \o
             (IF a = "proto_conn_act_drain" /\ ~outQueued
              THEN << M("conn", "DRAINED") >> ELSE << >>)
  /\ UNCHANGED <<chan, calls, failedCalls, droppedCalls, ownerReady, ownerClosed>>

(* No row, or no conn (not made yet, or freed: fsm_fini() drops what is  *)
(* queued for the instance).                                               *)
ConnReject ==
  /\ queue # << >>
  /\ Head(queue).to = "conn"
  /\ \/ conn \notin Co!States
     \/ ~Co!CanSelect(conn, Head(queue).ev, NoGuards)
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<chan, conn, outQueued, calls, failedCalls, droppedCalls,
                 ownerReady, ownerClosed, deferred>>

Dispatch == ChanFire \/ ChanReject \/ ConnFire \/ ConnReject

----------------------------------------------------------------------------
(* Deferred callbacks, in order, each a reactor callback of its own:       *)
(* between drains.                                                         *)
(*  chan_ready  vsock_notify_ready_cb dispatches READY_NOTICE (a row only  *)
(*              in READY, no action, SAME); if a row took it,              *)
(*              proto_conn_adopt (conn CONNECTING, CONNECTED dispatched at *)
(*              once: modelled as posted, it runs next) and on_ready; if   *)
(*              not, the callback returns.                                 *)
(*  conn_closed proto_conn_notify_cb: calls fail, on_closed dispatches     *)
(*              CONN_CLOSED to the channel.                                *)
(*  chan_closed vsock_notify_closed_cb: the owner's on_closed.             *)
Noticed == Ch!CanSelect(chan, "READY_NOTICE", NoGuards)

DeliverDeferred ==
  /\ deferred # << >>
  /\ queue = << >>
  /\ deferred' = Tail(deferred)
  /\ CASE Head(deferred) = "chan_ready" /\ Noticed ->
            /\ chan' = Ch!Target(Ch!Select(chan, "READY_NOTICE", NoGuards), chan)
            /\ conn' = "CONNECTING"
            /\ queue' = << M("conn", "CONNECTED") >>
            /\ ownerReady' = ownerReady + 1
            /\ UNCHANGED <<calls, failedCalls, droppedCalls, ownerClosed>>
       [] Head(deferred) = "chan_ready" ->
            UNCHANGED <<chan, conn, calls, failedCalls, droppedCalls, ownerReady,
                        ownerClosed, queue>>
       [] Head(deferred) = "conn_closed" ->
            /\ failedCalls' = failedCalls + calls
            /\ calls' = 0
            /\ queue' = << M("chan", "CONN_CLOSED") >>
            /\ UNCHANGED <<chan, conn, droppedCalls, ownerReady, ownerClosed>>
       [] Head(deferred) = "chan_closed" ->
            /\ ownerClosed' = ownerClosed + 1
            /\ UNCHANGED <<chan, conn, calls, failedCalls, droppedCalls,
                           ownerReady, queue>>
  /\ UNCHANGED outQueued

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
  /\ queue = << >>                          \* (a write callback)
  /\ conn \in {"READY", "DRAINING"}
  /\ outQueued
  /\ outQueued' = FALSE
  /\ queue' = IF conn = "DRAINING" THEN << M("conn", "DRAINED") >> ELSE << >>
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
  /\ conn \in Co!States
  /\ queue' = << M("conn", "CLOSE") >>
  /\ UNCHANGED <<chan, conn, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

(* The timers fire between drains (reactor callbacks).  A TIMEOUT cannot *)
(* sit behind HELLO in the queue: the HELLO dispatch stops the deadline   *)
(* (vsock_act_adopt), and a timer that is stopped never fires.  (The      *)
(* spec once appended expiries behind a drain, which let TIMEOUT follow   *)
(* HELLO and made ConnOnlyOnReadyChannel fail on a trace C cannot take.)  *)
ChanTimer ==                               \* one deadline for both waiting states
  /\ chan \in Ch!Waiting
  /\ queue = << >>
  /\ queue' = << M("chan", Ch!TimeoutEvent) >>
  /\ UNCHANGED <<chan, conn, outQueued, calls, failedCalls, droppedCalls, ownerReady,
                 ownerClosed, deferred>>

ConnTimer ==
  /\ conn \in Co!Waiting
  /\ queue = << >>
  /\ queue' = << M("conn", Co!TimeoutEvent) >>
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
  /\ SF_vars(DeliverDeferred)
  /\ SF_vars(ChanTimer)
  /\ SF_vars(ConnTimer)

----------------------------------------------------------------------------
(* The owner hears on_ready at most once and on_closed at most once, and   *)
(* never on_ready after on_closed.                                         *)
OwnerReadyOnce == ownerReady <= 1
OwnerClosedOnce == ownerClosed <= 1
NoReadyAfterClosed ==
  (ownerClosed > 0) => ~(\E i \in DOMAIN deferred : deferred[i] = "chan_ready")

(* A live conn only ever sits on a READY channel.                          *)
ConnOnlyOnReadyChannel ==
  (conn \in {"CONNECTING", "READY", "DRAINING"}) => (chan = "READY")

EveryWaitingStateLeft ==
  /\ \A s \in Ch!Waiting : (chan = s) ~> (chan # s)
  /\ \A s \in Co!Waiting : (conn = s) ~> (conn # s)
===============================================================================
