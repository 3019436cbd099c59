------------------------------- MODULE MC_TaskVM -------------------------------
(***************************************************************************)
(* A bounded model of TaskVM.tla for TLC's liveness check, which on the   *)
(* whole state space did not finish in an hour (EventuallyDeletedOrLive). *)
(* The state constraint leaves out pause and resume (PAUSING, PAUSED,     *)
(* RESUMING: a PAUSE that would reach them is cut there) and keeps the    *)
(* deferred FIFO short; everything else of TaskVM is checked as is.       *)
(* Pause and resume keep their invariants in TaskVM.cfg (PauseAnswered)   *)
(* and their liveness in Task.cfg (EveryWaitingStateLeft, open world).    *)
(* TLC explores only behaviours that stay inside the constraint, so a     *)
(* liveness verdict here is about those behaviours.                       *)
(***************************************************************************)
EXTENDS TaskVM

NoPause == taskState \notin {"PAUSING", "PAUSED", "RESUMING"}
ShortDeferred == Len(deferred) <= 2
MCConstraint == NoPause /\ ShortDeferred
===============================================================================
