------------------------------- MODULE Scaler -------------------------------
(***************************************************************************)
(* The scaler machine (core/scaler_fsm.c, "scaler"; its actions in         *)
(* core/scaler.c): while the task runs, sample the guest's metrics every   *)
(* tick and resize the VM (core_resize_scale) when the policy says so.     *)
(* The rows are generated from the C (`kiln-fsm tla scaler`,               *)
(* tla/gen/ScalerRows.tla) and interpreted with the engine's rules from    *)
(* that module: Select picks the first row whose guard holds               *)
(* (sc_guard_runs reads `runs`: the task RUNNING on a live VM), "SAME"     *)
(* keeps the state, no row is a rejection, a failed action keeps the state *)
(* and posts FAIL at the tail of the run queue.                            *)
(*                                                                         *)
(* The world: the task posts RUN (started, resumed) and HALT (paused,      *)
(* exited) when it likes; the tick and deadline timers fire between        *)
(* drains; GetMetrics is answered (a sample, or SAMPLE_FAILED) and a       *)
(* resize ends (RESIZED, RESIZE_FAILED) in their own time.                 *)
(***************************************************************************)
EXTENDS Naturals, Sequences, ScalerRows

(* What the actions do.                                                    *)
Arms == {"sc_act_arm", "sc_act_steady", "sc_act_resized",
         "sc_act_resize_failed"}         \* scaler_arm: deadline off, tick on
Samples == {"sc_act_sample"}             \* GetMetrics sent, deadline on
Scales == {"sc_act_scale"}               \* core_resize_scale, deadline on
Stops == {"sc_act_stop"}                 \* both timers off, the call cancelled
(* scaler_sample fails when the agent channel is closed; the others       *)
(* return 0.                                                               *)
Fallible == {"sc_act_sample"}

ASSUME Actions = Arms \union Samples \union Scales \union Stops
ASSUME Fallible \subseteq Actions
ASSUME Guards = {"sc_guard_runs"}
(* fsm_check's rule over the generated rows (a constant formula).         *)
ASSUME WaitingStatesTimeout

VARIABLES
  scState,    \* fsm.state
  runs,       \* scaler_task_runs(): the task RUNNING, its VM not stopped
  tick,       \* the tick timer is armed
  deadline,   \* the deadline timer is armed
  sampling,   \* a GetMetrics call is in flight
  resizing,   \* a resize the scaler asked for is in flight
  queue       \* events posted to this machine, not yet dispatched

vars == <<scState, runs, tick, deadline, sampling, resizing, queue>>

TypeOK ==
  /\ scState \in States
  /\ runs \in BOOLEAN
  /\ tick \in BOOLEAN
  /\ deadline \in BOOLEAN
  /\ sampling \in BOOLEAN
  /\ resizing \in BOOLEAN
  /\ queue \in Seq(Events)

Init ==
  /\ scState = Initial
  /\ runs \in BOOLEAN
  /\ tick = FALSE /\ deadline = FALSE
  /\ sampling = FALSE /\ resizing = FALSE
  /\ queue = << >>

----------------------------------------------------------------------------
(* The engine over the generated rows.                                     *)
GS == IF runs THEN {"sc_guard_runs"} ELSE {}
AfterFail(e) == IF PostsFail(e) THEN << FailEvent >> ELSE << >>

Fire ==
  /\ queue # << >>
  /\ CanSelect(scState, Head(queue), GS)
  /\ LET i == Select(scState, Head(queue), GS)
         a == Rows[i].act
     IN /\ scState' = Target(i, scState)
        /\ tick' = IF a \in Arms THEN TRUE
                   ELSE IF a \in Stops THEN FALSE ELSE tick
        /\ deadline' = (a \in Samples \union Scales)
                       \/ (deadline /\ a \notin Arms \union Stops)
        /\ sampling' = (a \in Samples) \/ (sampling /\ a \notin Stops)
        /\ resizing' = (resizing \/ a \in Scales)
        /\ queue' = Tail(queue)
  /\ UNCHANGED runs

FireFails ==
  /\ queue # << >>
  /\ CanSelect(scState, Head(queue), GS)
  /\ Rows[Select(scState, Head(queue), GS)].act \in Fallible
  /\ queue' = Tail(queue) \o AfterFail(Head(queue))
  /\ UNCHANGED <<scState, runs, tick, deadline, sampling, resizing>>

Reject ==
  /\ queue # << >>
  /\ ~CanSelect(scState, Head(queue), GS)
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<scState, runs, tick, deadline, sampling, resizing>>

Dispatch == Fire \/ FireFails \/ Reject

----------------------------------------------------------------------------
(* The world: reactor callbacks, between drains.                           *)
Between == queue = << >>

Owner ==                                   \* core_scaler_run / _halt
  /\ Between
  /\ \E e \in {"RUN", "HALT"} : queue' = << e >>
  /\ UNCHANGED <<scState, runs, tick, deadline, sampling, resizing>>

TaskMoves ==                               \* the task leaves or enters RUNNING
  /\ runs' = ~runs
  /\ UNCHANGED <<scState, tick, deadline, sampling, resizing, queue>>

Tick ==
  /\ Between /\ tick
  /\ tick' = FALSE
  /\ queue' = << "TICK" >>
  /\ UNCHANGED <<scState, runs, deadline, sampling, resizing>>

Deadline ==
  /\ Between /\ deadline
  /\ deadline' = FALSE
  /\ queue' = << TimeoutEvent >>
  /\ UNCHANGED <<scState, runs, tick, sampling, resizing>>

Sampled ==                                 \* scaler_sample_cb
  /\ Between /\ sampling
  /\ sampling' = FALSE
  /\ \E e \in {"STEADY", "SCALE", "SAMPLE_FAILED"} : queue' = << e >>
  /\ UNCHANGED <<scState, runs, tick, deadline, resizing>>

Resized ==                                 \* scaler_resize_done
  /\ Between /\ resizing
  /\ resizing' = FALSE
  /\ \E e \in {"RESIZED", "RESIZE_FAILED"} : queue' = << e >>
  /\ UNCHANGED <<scState, runs, tick, deadline, sampling>>

Next == Dispatch \/ Owner \/ TaskMoves \/ Tick \/ Deadline \/ Sampled \/ Resized

(* The loop runs and armed timers fire (only between drains: strong       *)
(* fairness).  The guest and the resize may stay silent.                   *)
Spec == Init /\ [][Next]_vars /\ WF_vars(Dispatch) /\ SF_vars(Tick)
        /\ SF_vars(Deadline)

----------------------------------------------------------------------------
(* A stopped scaler has no timer armed: nothing wakes it but RUN.          *)
OffMeansQuiet == (scState = "OFF") => (~tick /\ ~deadline)
(* Between drains each state that waits has its timer: SAMPLING and      *)
(* RESIZING the deadline, WAITING the tick (a fired timer's event is in   *)
(* the queue until it is dispatched).                                      *)
WaitingHasDeadline == ((scState \in Waiting) /\ queue = << >>) => deadline
WaitingForTick == ((scState = "WAITING") /\ queue = << >>) => tick
EveryWaitingStateLeft == \A s \in Waiting : (scState = s) ~> (scState # s)
===============================================================================
