------------------------------ MODULE Template ------------------------------
(***************************************************************************)
(* The template machine (core/tmpl_fsm.c, "template"): one VM's view of   *)
(* the snapshot template of its key.  One TLA+ action per table row, named *)
(* Tmpl_<FROM>_<EVENT>[_<guard>] (the guard suffix is the C guard minus   *)
(* "tmpl_guard_"); the rows themselves are tla/gen/TemplateRows.tla.      *)
(*                                                                         *)
(* The world: the probe saw the template ready on disk, took the flock, or *)
(* neither (another shim builds it); the VM reports SAVED, RESTORED or     *)
(* FAILED; the build's timer fires.  What matters: the lock is held only   *)
(* while BUILDING, and nothing ends with it held or a build dir left.     *)
(***************************************************************************)
EXTENDS Naturals, Sequences

States == {"NEW", "BUILDING", "READY", "USED", "STALE", "NONE"}
Events == {"LOOKUP", "SAVED", "RESTORED", "FAILED", "TIMEOUT", "FAIL"}
Waiting  == {"BUILDING"}
Terminal == {"USED", "STALE", "NONE"}
Disk == {"absent", "building", "ready"}   \* this key's directory

VARIABLES
  tState,     \* fsm.state
  found,      \* probe: a complete template was on disk
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
  /\ tState = "NEW"
  /\ \/ /\ found = TRUE /\ locked = FALSE /\ lockHeld = FALSE
        /\ disk = "ready"
     \/ /\ found = FALSE /\ locked = TRUE /\ lockHeld = TRUE
        /\ disk = "absent"
     \/ /\ found = FALSE /\ locked = FALSE /\ lockHeld = FALSE
        /\ disk = "absent"
  /\ queue = << "LOOKUP" >>

----------------------------------------------------------------------------
Recv(e) == queue # << >> /\ Head(queue) = e
Goto(s, posted) == tState' = s /\ queue' = Tail(queue) \o posted
Same == Goto(tState, << >>)

Tmpl_NEW_LOOKUP_found ==
  /\ Recv("LOOKUP") /\ tState = "NEW" /\ found
  /\ Goto("READY", << >>)
  /\ UNCHANGED <<found, locked, lockHeld, disk>>

Tmpl_NEW_LOOKUP_locked ==
  /\ Recv("LOOKUP") /\ tState = "NEW" /\ ~found /\ locked
  /\ \/ /\ Goto("BUILDING", << >>)        \* tmpl_act_build: the build dir
        /\ disk' = "building"
     \/ /\ Goto("NEW", << "FAIL" >>)      \* mkdir or open failed
        /\ UNCHANGED disk
  /\ UNCHANGED <<found, locked, lockHeld>>

Tmpl_NEW_LOOKUP ==
  /\ Recv("LOOKUP") /\ tState = "NEW" /\ ~found /\ ~locked
  /\ Goto("NONE", << >>)                  \* tmpl_act_cold: logged, traced
  /\ UNCHANGED <<found, locked, lockHeld, disk>>

(* tmpl_act_discard: the build dir removed, the flock dropped.             *)
Discard(e, from) ==
  /\ Recv(e) /\ tState = from
  /\ Goto("NONE", << >>)
  /\ lockHeld' = FALSE
  /\ disk' = IF disk = "building" THEN "absent" ELSE disk
  /\ UNCHANGED <<found, locked>>

Tmpl_NEW_FAIL          == Discard("FAIL", "NEW")
Tmpl_BUILDING_FAILED   == Discard("FAILED", "BUILDING")
Tmpl_BUILDING_TIMEOUT  == Discard("TIMEOUT", "BUILDING")
Tmpl_BUILDING_FAIL     == Discard("FAIL", "BUILDING")

Tmpl_BUILDING_SAVED ==
  /\ Recv("SAVED") /\ tState = "BUILDING"
  /\ \/ /\ Goto("READY", << >>)           \* tmpl_act_commit: rename, unlock
        /\ disk' = "ready"
        /\ lockHeld' = FALSE
     \/ /\ Goto("BUILDING", << "FAIL" >>) \* write or rename failed
        /\ UNCHANGED <<disk, lockHeld>>
  /\ UNCHANGED <<found, locked>>

Tmpl_READY_RESTORED ==
  /\ Recv("RESTORED") /\ tState = "READY"
  /\ Goto("USED", << >>)
  /\ UNCHANGED <<found, locked, lockHeld, disk>>

Tmpl_READY_FAILED ==
  /\ Recv("FAILED") /\ tState = "READY"
  /\ Goto("STALE", << >>)                 \* tmpl_act_stale: renamed, removed
  /\ disk' = "absent"
  /\ UNCHANGED <<found, locked, lockHeld>>

(* The FSM_ANY rows: late news, ignored.                                    *)
Tmpl_ANY_Late ==
  /\ queue # << >>
  /\ ~(tState = "NEW" /\ Head(queue) \in {"LOOKUP", "FAIL"})
  /\ ~(tState = "BUILDING" /\ Head(queue) \in {"SAVED", "FAILED", "TIMEOUT", "FAIL"})
  /\ ~(tState = "READY" /\ Head(queue) \in {"RESTORED", "FAILED"})
  /\ Head(queue) # "LOOKUP"
  /\ Same
  /\ UNCHANGED <<found, locked, lockHeld, disk>>

Dispatch ==
  \/ Tmpl_NEW_LOOKUP_found \/ Tmpl_NEW_LOOKUP_locked \/ Tmpl_NEW_LOOKUP
  \/ Tmpl_NEW_FAIL \/ Tmpl_BUILDING_SAVED \/ Tmpl_BUILDING_FAILED
  \/ Tmpl_BUILDING_TIMEOUT \/ Tmpl_BUILDING_FAIL \/ Tmpl_READY_RESTORED
  \/ Tmpl_READY_FAILED \/ Tmpl_ANY_Late

(* The VM's news, at most a few in flight.                                  *)
World_Vm ==
  /\ Len(queue) < 2
  /\ \E e \in {"SAVED", "RESTORED", "FAILED"} : queue' = Append(queue, e)
  /\ UNCHANGED <<tState, found, locked, lockHeld, disk>>

World_Timer ==
  /\ tState \in Waiting
  /\ \A i \in DOMAIN queue : queue[i] # "TIMEOUT"
  /\ queue' = Append(queue, "TIMEOUT")
  /\ UNCHANGED <<tState, found, locked, lockHeld, disk>>

Next == Dispatch \/ World_Vm \/ World_Timer

Spec ==
  /\ Init
  /\ [][Next]_vars
  /\ WF_vars(Dispatch)
  /\ WF_vars(World_Timer)

----------------------------------------------------------------------------
(* The flock is held only while this VM builds: no shim waits on a dead one. *)
LockOnlyWhileBuilding == lockHeld => tState \in {"NEW", "BUILDING"}

(* A terminal state leaves no build directory behind.                       *)
NoBuildLeft == tState \in Terminal => disk # "building"

TerminalIsFinal == [][(tState \in Terminal) => tState' = tState]_vars

EveryWaitingStateLeft == \A s \in Waiting : (tState = s) ~> (tState # s)
=============================================================================
