-------------------------------- MODULE Resize --------------------------------
(***************************************************************************)
(* The size of one resource of a VM (vCPUs, or memory in blocks) under    *)
(* Updates, as core/resize.c drives it with the cpu_resize and mem_resize *)
(* machines (their rows: tla/gen/CpuResizeRows.tla, MemResizeRows.tla).   *)
(* An Update is checked against the maximum before anything happens (a    *)
(* size above it is refused), raised to the boot size if below it, queued *)
(* and served one at a time: the machine moves the size one unit (one     *)
(* device_add / device_del, or the guest plugging blocks) at a time       *)
(* toward the target; any step may fail, after which the previous size is *)
(* the target once (restore).                                              *)
(*                                                                         *)
(* Why abstract: the two machines step through QMP and the agent one unit  *)
(* at a time with guards that read the guest (cpu_guard_more/fewer/        *)
(* ejecting/online, mem_guard_reached); interpreting their rows here would *)
(* need the guest's CPU and memory-block state and the resize queue of     *)
(* core/resize.c, a spec many times this size for what SPIN already checks *)
(* on the generated tables (t_spin.sh).  What this spec relies on of the   *)
(* rows is tied to the generated modules by the ASSUMEs below: every step  *)
(* can fail into IDLE (the failure row of each machine runs its _failed   *)
(* action from any state), and a request starts only from IDLE.            *)
(***************************************************************************)
EXTENDS Naturals, Sequences

Cpu == INSTANCE CpuResizeRows
Mem == INSTANCE MemResizeRows

(* "Any step may fail": QMP_FAILED, AGENT_FAILED, TIMEOUT, VM_GONE and     *)
(* FAIL have an FSM_ANY row into IDLE through the machine's _failed        *)
(* action, and RESIZE is taken in IDLE only.                               *)
StepFails(rows, failed) ==
  \A e \in {"QMP_FAILED", "AGENT_FAILED", "TIMEOUT", "VM_GONE", "FAIL"} :
    \E i \in DOMAIN rows :
      /\ rows[i].from = "ANY" /\ rows[i].ev = e
      /\ rows[i].act = failed /\ rows[i].to = "IDLE"
StartsIdle(rows) ==
  \A i \in DOMAIN rows : (rows[i].ev = "RESIZE") => (rows[i].from = "IDLE")
ASSUME StepFails(Cpu!Rows, "cpu_act_failed") /\ StepFails(Mem!Rows, "mem_act_failed")
ASSUME StartsIdle(Cpu!Rows) /\ StartsIdle(Mem!Rows)
ASSUME Cpu!WaitingStatesTimeout /\ Mem!WaitingStatesTimeout

CONSTANTS Boot, Max, MaxQueue
ASSUME Boot \in Nat /\ Max \in Nat /\ 0 < Boot /\ Boot <= Max

VARIABLES
  size,       \* what the guest has
  target,     \* what the step in progress moves toward
  prev,       \* the size before the Update in progress
  busy,       \* an Update is in progress
  restoring,  \* the previous size is being put back
  queue       \* accepted Updates, not yet served

vars == <<size, target, prev, busy, restoring, queue>>

TypeOK ==
  /\ size \in Nat /\ target \in Nat /\ prev \in Nat
  /\ busy \in BOOLEAN /\ restoring \in BOOLEAN
  /\ queue \in Seq(Boot..Max)

Init ==
  /\ size = Boot /\ target = Boot /\ prev = Boot
  /\ busy = FALSE /\ restoring = FALSE
  /\ queue = << >>

(* containerd asks for n; above Max it is refused and nothing changes.    *)
Update(n) ==
  /\ Len(queue) < MaxQueue
  /\ n <= Max
  /\ queue' = Append(queue, IF n < Boot THEN Boot ELSE n)
  /\ UNCHANGED <<size, target, prev, busy, restoring>>

Refused(n) == n > Max /\ UNCHANGED vars

Serve ==
  /\ ~busy /\ queue # << >>
  /\ busy' = TRUE /\ restoring' = FALSE
  /\ prev' = size /\ target' = Head(queue) /\ queue' = Tail(queue)
  /\ UNCHANGED size

Grow == busy /\ size < target /\ size' = size + 1
        /\ UNCHANGED <<target, prev, busy, restoring, queue>>
Shrink == busy /\ size > target /\ size' = size - 1
          /\ UNCHANGED <<target, prev, busy, restoring, queue>>

Settle == busy /\ size = target /\ busy' = FALSE
          /\ UNCHANGED <<size, target, prev, restoring, queue>>

(* A step fails: restore once; a failed restore ends the Update.          *)
Fail ==
  /\ busy
  /\ IF restoring
       THEN busy' = FALSE /\ UNCHANGED <<target, restoring>>
       ELSE target' = prev /\ restoring' = TRUE /\ UNCHANGED busy
  /\ UNCHANGED <<size, prev, queue>>

Next ==
  \/ \E n \in 0..(Max + 1) : Update(n) \/ Refused(n)
  \/ Serve \/ Grow \/ Shrink \/ Settle \/ Fail

Spec == Init /\ [][Next]_vars /\ WF_vars(Serve) /\ WF_vars(Grow)
        /\ WF_vars(Shrink) /\ WF_vars(Settle)
----------------------------------------------------------------------------
(* The guest's size never exceeds the limit and never drops below boot.   *)
SizeInBounds == Boot <= size /\ size <= Max
TargetInBounds == Boot <= target /\ target <= Max
(* An accepted Update is eventually served and its step ends.             *)
UpdatesEnd == busy ~> ~busy
===============================================================================
