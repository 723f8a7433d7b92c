"""The engine: every write of a job's state, lease and dead letter, and nothing else.

Each transition is one named function, fenced or guarded in its WHERE clause; nothing outside
this package writes ``Job.status``, ``Job.lease_*`` or ``DeadJob`` rows (``tests/unit/
test_architecture.py`` holds the tree to that). The shape follows Oban's engine (fetch, complete,
error, discard, cancel, prune side by side) and Procrastinate's ``JobManager``.

===================  ========================  ================================================
transition           from -> to                guard
===================  ========================  ================================================
insert               (new) -> queued           the idempotency key's partial unique index
insert_unique        (new) -> queued           as insert, and no done job with the key within
                                               ``unique_for`` seconds (the database's clock)
debounce             queued (call, run_at) or  ``status = 'queued'``; enqueuers of a key take
                     (new) -> queued           turns on its advisory lock
claim                queued -> running         ready, SKIP LOCKED; new lease token, not yet started
claim_limited        queued -> running         as claim, and started; under each key's and limited
                                               queue's advisory lock, below its limit (counted
                                               in the same transaction)
start                running (attempt +1)      lease token, ``started_at IS NULL``
heartbeat            running (lease renewed)   lease token
complete             running -> done           lease token
complete_member      running -> done (+next)   lease token; the workflow row's lock orders
                                               members, ``pending > 0``; inserts the step or
                                               callback made due in the same transaction
insert_workflow      (new) -> queued           a new workflow row with its first jobs
fail                 running -> queued | dead  lease token, no cancel request (rescue: and
                                               lease expired); asked: ``acknowledge_cancel``
release              running -> queued         lease token, ``started_at IS NULL`` (no attempt used)
snooze               running -> queued         lease token, ``snoozes < MAX_SNOOZES``, no cancel
                                               request (attempt -1, snoozes +1); past the limit:
                                               ``fail``; asked: ``acknowledge_cancel``
rescue               running -> queued | dead  expired lease, SKIP LOCKED; ``release`` or ``fail``
cancel               queued -> cancelled       ``status = 'queued'``; also claimed, unstarted
                     running (cancel asked)    ``status = 'running'``, started, not yet asked
acknowledge_cancel   running -> cancelled      lease token; a request (or ``JobCancelled``)
run_now              queued (run_at = now)     ``status = 'queued'``
update_queued        queued (run_at, priority  ``status = 'queued'``
                     or queue changed)
set_progress         running (progress)        lease token
replay               dead -> queued (new job)  the dead row's lock, ``replayed_job_id IS NULL``
prune                done|cancelled -> (gone)  status and ``finished_at``
prune_dead_jobs      dead -> (gone)            ``failed_at``
prune_schedule_runs  ledger row -> (gone)      ``created_at``, a newer row of its schedule
prune_workflows      workflow -> (gone)        finished before the cut-off, or cannot finish
===================  ========================  ================================================
"""

# Eager on purpose: each ``from .x import x`` rebinds the package attribute from the submodule
# to the function. Modules that must import without the app registry (``enqueue``) import the
# engine inside their functions.
from .cancel import CancelReport, acknowledge_cancel, cancel
from .claim import claim, start
from .complete import Completion, complete, complete_many
from .control import run_now, set_progress, update_queued
from .fail import dead_letter, fail
from .insert import insert_call, insert_job, insert_jobs
from .lease import RescueReport, heartbeat, release, rescue
from .limits import LimitedClaim, claim_limited
from .prune import prune, prune_dead_jobs, prune_schedule_runs
from .replay import replay
from .snooze import snooze
from .unique import debounce, insert_unique
from .workflow import complete_member, insert_workflow, prune_workflows

__all__ = [
    "CancelReport",
    "Completion",
    "LimitedClaim",
    "RescueReport",
    "acknowledge_cancel",
    "cancel",
    "claim",
    "claim_limited",
    "complete",
    "complete_many",
    "complete_member",
    "dead_letter",
    "debounce",
    "fail",
    "heartbeat",
    "insert_call",
    "insert_job",
    "insert_jobs",
    "insert_unique",
    "insert_workflow",
    "prune",
    "prune_dead_jobs",
    "prune_schedule_runs",
    "prune_workflows",
    "release",
    "replay",
    "rescue",
    "run_now",
    "set_progress",
    "snooze",
    "start",
    "update_queued",
]
