---------------------------- MODULE MC_AgentProcess ----------------------------
(***************************************************************************)
(* A bounded model of AgentProcess.tla for TLC (the whole space of two    *)
(* processes and the container, 37 M states with the old spec, did not   *)
(* finish in 15 minutes).  The state constraint makes the exec start only *)
(* once the init process runs (the host's ExecProcess needs an ACTIVE     *)
(* container, which this narrows to a running init) and keeps the run    *)
(* queue short; the exec's own rows, the container's freezer and every    *)
(* property are checked as in AgentProcess.cfg.  TLC explores only the    *)
(* behaviours that stay inside the constraint.                            *)
(***************************************************************************)
EXTENDS AgentProcess

ExecAfterInit ==
  (procState["exec"] # "NEW")
    => (procState["init"] \in {"RUNNING", "DRAINING", "STOPPED"})
ShortQueue == Len(queue) <= 3
MCConstraint == ExecAfterInit /\ ShortQueue
===============================================================================
