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
start                running (attempt +1)      lease token, ``started_at IS NULL``
heartbeat            running (lease renewed)   lease token
complete             running -> done           lease token
fail                 running -> queued | dead  lease token (rescue: and lease expired)
release              running -> queued         lease token, ``started_at IS NULL`` (no attempt used)
snooze               running -> queued         lease token, ``snoozes < MAX_SNOOZES`` (attempt -1,
                                               snoozes +1); past the limit: ``fail``
rescue               running -> queued | dead  expired lease, SKIP LOCKED; ``release`` or ``fail``
cancel               queued -> cancelled       ``status = 'queued'``
run_now              queued (run_at = now)     ``status = 'queued'``
update_queued        queued (run_at, priority  ``status = 'queued'``
                     or queue changed)
set_progress         running (progress)        lease token
replay               dead -> queued (new job)  the dead row's lock, ``replayed_job_id IS NULL``
prune                done|cancelled -> (gone)  status and ``finished_at``
prune_dead_jobs      dead -> (gone)            ``failed_at``
prune_schedule_runs  ledger row -> (gone)      ``created_at``, a newer row of its schedule
===================  ========================  ================================================
"""

# Eager on purpose: each ``from .x import x`` rebinds the package attribute from the submodule
# to the function. Modules that must import without the app registry (``enqueue``) import the
# engine inside their functions.
from .claim import claim, start
from .complete import Completion, complete, complete_many
from .control import cancel, run_now, set_progress, update_queued
from .fail import dead_letter, fail
from .insert import insert_call, insert_job, insert_jobs
from .lease import RescueReport, heartbeat, release, rescue
from .prune import prune, prune_dead_jobs, prune_schedule_runs
from .replay import replay
from .snooze import snooze
from .unique import debounce, insert_unique

__all__ = [
    "Completion",
    "RescueReport",
    "cancel",
    "claim",
    "complete",
    "complete_many",
    "dead_letter",
    "debounce",
    "fail",
    "heartbeat",
    "insert_call",
    "insert_job",
    "insert_jobs",
    "insert_unique",
    "prune",
    "prune_dead_jobs",
    "prune_schedule_runs",
    "release",
    "replay",
    "rescue",
    "run_now",
    "set_progress",
    "snooze",
    "start",
    "update_queued",
]
