------------------------------ MODULE Template ------------------------------
(***************************************************************************)
(* The template machine (core/tmpl_fsm.c, "template"): one VM's view of   *)
(* the snapshot template of its key.  The rows are generated from the C   *)
(* (`kiln-fsm tla template`, tla/gen/TemplateRows.tla) and interpreted    *)
(* with the engine's rules from that module; the guards read the probe's  *)
(* result, the two fallible actions may fail (state kept, FAIL posted).   *)
(*                                                                         *)
(* The world: the probe saw the template ready on disk, took the flock, or *)
(* neither (another shim builds it); the VM reports SAVED, RESTORED or     *)
(* FAILED; the build's timer fires.  What matters: the lock is held only   *)
(* while BUILDING, and nothing ends with it held or a build dir left.     *)
(***************************************************************************)
EXTENDS Naturals, Sequences, TemplateRows

Fallible == {"tmpl_act_build", "tmpl_act_commit"}
Quiet == {"tmpl_act_use", "tmpl_act_cold"}
ASSUME Actions = Fallible \union Quiet \union {"tmpl_act_discard", "tmpl_act_stale"}
ASSUME Guards = {"tmpl_guard_found", "tmpl_guard_locked"}
ASSUME WaitingStatesTimeout

Disk == {"absent", "building", "ready"}   \* this key's directory

VARIABLES
  tState,     \* fsm.state
  found,      \* probe: a complete template was on disk (tmpl_guard_found)
  locked,     \* probe: the flock was ours (tmpl_guard_locked)
  lockHeld,   \* the flock is held now (lock_fd >= 0)
  disk,       \* what this VM's actions left on disk
  queue       \* events posted to this machine, not yet dispatched

vars == <<tState, found, locked, lockHeld, disk, queue>>

TypeOK ==
  /\ tState \in States
  /\ found \in BOOLEAN
  /\ locked \in BOOLEAN
  /\ lockHeld \in BOOLEAN
  /\ disk \in Disk
  /\ queue \in Seq(Events)

(* The probe ran before LOOKUP was posted (tmpl_probe).                    *)
Init ==
  /\ tState = Initial
  /\ \/ /\ found = TRUE /\ locked = FALSE /\ lockHeld = FALSE
        /\ disk = "ready"
     \/ /\ found = FALSE /\ locked = TRUE /\ lockHeld = TRUE
        /\ disk = "absent"
     \/ /\ found = FALSE /\ locked = FALSE /\ lockHeld = FALSE
        /\ disk = "absent"
  /\ queue = << "LOOKUP" >>

----------------------------------------------------------------------------
(* The engine over the generated rows.                                     *)
GS == (IF found THEN {"tmpl_guard_found"} ELSE {})
        \union (IF locked THEN {"tmpl_guard_locked"} ELSE {})
AfterFail(e) == IF PostsFail(e) THEN << FailEvent >> ELSE << >>

(* What each action leaves on disk and of the flock (core/tmpl.c):        *)
(* build makes the build dir; commit renames it into place and unlocks;   *)
(* discard removes the build dir and unlocks; stale removes the template. *)
DiskAfter(a) ==
  CASE a = "tmpl_act_build" -> "building"
    [] a = "tmpl_act_commit" -> "ready"
    [] a = "tmpl_act_discard" -> (IF disk = "building" THEN "absent" ELSE disk)
    [] a = "tmpl_act_stale" -> "absent"
    [] OTHER -> disk
LockAfter(a) ==
  IF a \in {"tmpl_act_commit", "tmpl_act_discard"} THEN FALSE ELSE lockHeld

Fire ==
  /\ queue # << >>
  /\ CanSelect(tState, Head(queue), GS)
  /\ LET i == Select(tState, Head(queue), GS)
         a == Rows[i].act
     IN /\ tState' = Target(i, tState)
        /\ disk' = DiskAfter(a)
        /\ lockHeld' = LockAfter(a)
        /\ queue' = Tail(queue)
  /\ UNCHANGED <<found, locked>>

(* mkdir/open, or the write/rename of the commit, failed: nothing moved.  *)
FireFails ==
  /\ queue # << >>
  /\ CanSelect(tState, Head(queue), GS)
  /\ Rows[Select(tState, Head(queue), GS)].act \in Fallible
  /\ queue' = Tail(queue) \o AfterFail(Head(queue))
  /\ UNCHANGED <<tState, found, locked, lockHeld, disk>>

Reject ==
  /\ queue # << >>
  /\ ~CanSelect(tState, Head(queue), GS)
  /\ queue' = Tail(queue)
  /\ UNCHANGED <<tState, found, locked, lockHeld, disk>>

Dispatch == Fire \/ FireFails \/ Reject

(* The VM's news (posted by the vm machine's actions), at most a few in   *)
(* flight.                                                                  *)
World_Vm ==
  /\ Len(queue) < 2
  /\ \E e \in {"SAVED", "RESTORED", "FAILED"} : queue' = Append(queue, e)
  /\ UNCHANGED <<tState, found, locked, lockHeld, disk>>

(* The build's timer fires between drains (a reactor callback).           *)
World_Timer ==
  /\ tState \in Waiting
  /\ queue = << >>
  /\ queue' = << TimeoutEvent >>
  /\ UNCHANGED <<tState, found, locked, lockHeld, disk>>

Next == Dispatch \/ World_Vm \/ World_Timer

Spec ==
  /\ Init
  /\ [][Next]_vars
  /\ WF_vars(Dispatch)
  /\ SF_vars(World_Timer)

----------------------------------------------------------------------------
(* The flock is held only while this VM builds: no shim waits on a dead one. *)
LockOnlyWhileBuilding == lockHeld => (tState \in {"NEW", "BUILDING"})

(* A terminal state leaves no build directory behind.                       *)
NoBuildLeft == (tState \in Terminal) => (disk # "building")

TerminalIsFinal == [][(tState \in Terminal) => tState' = tState]_vars

EveryWaitingStateLeft == \A s \in Waiting : (tState = s) ~> (tState # s)
=============================================================================
