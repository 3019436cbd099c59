------------------------------ MODULE AgentNic ------------------------------
(***************************************************************************)
(* The agent's NIC machine (guest/agent_net.c, "agent_nic"): the host's    *)
(* ConfigureNetwork for one interface waits for the link to appear (a     *)
(* poll timer, with a deadline), then sets addresses, routes and the      *)
(* files, and answers the call.  The rows are generated from the C        *)
(* (`kiln-fsm tla agent_nic`, tla/gen/AgentNicRows.tla) and interpreted   *)
(* with the engine's rules from that module: Select picks the first       *)
(* matching row, "SAME" keeps the state, no row is a rejection, a failed  *)
(* action keeps the state and posts FAIL at the tail of the run queue.    *)
(***************************************************************************)
EXTENDS Naturals, Sequences, AgentNicRows

(* agent_nic_act_configure answers the call, or fails (link or file       *)
(* setup): then FAIL runs agent_nic_act_fail, which answers with the      *)
(* error.  agent_nic_act_wait arms the poll.                              *)
Answers == {"agent_nic_act_configure", "agent_nic_act_fail"}
Fallible == {"agent_nic_act_configure"}

ASSUME Actions = Answers \union {"agent_nic_act_wait"}
ASSUME Fallible \subseteq Actions
ASSUME Guards = {}
(* fsm_check's rule over the generated rows (a constant formula).         *)
ASSUME WaitingStatesTimeout

VARIABLES
  nicState,   \* fsm.state
  pending,    \* n->pending: the host's ConfigureNetwork, unanswered
  answered,   \* answers sent to the host (reply or error)
  polling,    \* the poll timer is armed
  queue       \* events posted to this machine, not yet dispatched

vars == <<nicState, pending, answered, polling, queue>>

TypeOK ==
  /\ nicState \in States
  /\ pending \in BOOLEAN
  /\ answered \in Nat
  /\ polling \in BOOLEAN
  /\ queue \in Seq(Events)

(* The handler keeps the call and posts CONFIGURE.                        *)
Init ==
  /\ nicState = Initial
  /\ pending = TRUE
  /\ answered = 0
  /\ polling = FALSE
  /\ queue = << "CONFIGURE" >>

----------------------------------------------------------------------------
(* The engine over the generated rows.                                     *)
GS == {}
AfterFail(e) == IF PostsFail(e) THEN << FailEvent >> ELSE << >>

(* nic_finish (configure, fail) stops the poll; an answer is sent only    *)
(* while the call is pending (TAKE_PTR).                                   *)
Fire ==
  /\ queue # << >>
  /\ CanSelect(nicState, Head(queue), GS)
  /\ LET i == Select(nicState, Head(queue), GS)
         a == Rows[i].act
     IN /\ nicState' = Target(i, nicState)
        /\ answered' = answered + (IF a \in Answers /\ pending THEN 1 ELSE 0)
        /\ pending' = (pending /\ a \notin Answers)
        /\ polling' = IF a = "agent_nic_act_wait" THEN TRUE
                      ELSE IF a \in Answers THEN FALSE ELSE polling
        /\ queue' = Tail(queue)

FireFails ==
  /\ queue # << >>
  /\ CanSelect(nicState, Head(queue), GS)
  /\ Rows[Select(nicState, Head(queue), GS)].act \in Fallible
  /\ queue' = Tail(queue) \o AfterFail(Head(queue))
  /\ UNCHANGED <<nicState, pending, answered, polling>>

Reject ==
  /\ queue # << >>
  /\ ~CanSelect(nicState, Head(queue), GS)
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<nicState, pending, answered, polling>>

Dispatch == Fire \/ FireFails \/ Reject

(* The poll (a reactor timer, between drains): the link is there          *)
(* (LINK_FOUND), or the deadline passed (TIMEOUT), or it looks again.     *)
Poll ==
  /\ queue = << >>
  /\ polling
  /\ \E e \in {"LINK_FOUND", TimeoutEvent} : queue' = << e >>
  /\ UNCHANGED <<nicState, pending, answered, polling>>

Next == Dispatch \/ Poll

(* The poll keeps running until the deadline: it ends in TIMEOUT at the   *)
(* latest (strong fairness of the TIMEOUT outcome).                        *)
Spec == Init /\ [][Next]_vars /\ WF_vars(Dispatch)
        /\ SF_vars(Poll /\ queue' = << TimeoutEvent >>)

----------------------------------------------------------------------------
(* The host's call is answered at most once, and always by the end.       *)
AnsweredOnce == answered <= 1
EndAnswered == (nicState \in Terminal) => (answered = 1 /\ ~pending)
(* Nothing polls once the NIC is up or failed.                             *)
NoPollAtEnd == ((nicState \in Terminal) /\ queue = << >>) => ~polling
TerminalIsFinal == [][(nicState \in Terminal) => (nicState' = nicState)]_vars
EveryWaitingStateLeft == \A s \in Waiting : (nicState = s) ~> (nicState # s)
===============================================================================
