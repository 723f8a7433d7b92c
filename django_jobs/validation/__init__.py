"""One validator per job option and setting, shared by every place a value can be given.

``enqueue``, ``@job``, ``Task.using``, the ``django.tasks`` backend, the system checks, the
scheduler's schedule checks and ``runworker`` all call these, so the same bad value gets the same
message wherever it is given. Each validator returns the value in the form that is stored and
raises ``InvalidJobOptionsError`` (``SerializationError`` for call data and results); checks wrap
the message into a ``checks.Error`` with their id. Bounds are what the columns hold
(``PositiveIntegerField``: 2147483647) or a documented maximum (docs/reference/settings.md).
``options`` holds the validators of options and settings, ``data`` those of call data and
results.

Nothing here touches the database or reads settings except where a function says so.
"""

from .data import (
    check_size,
    encode_call,
    encode_json,
    encode_result,
)
from .limits import (
    CONCURRENCY_KEY_MAX_LENGTH,
    QueueLimits,
    check_concurrency_key,
    check_concurrency_limit,
    check_queue_options,
    parse_rate_limit,
    resolve_concurrency,
)
from .options import (
    ARGUMENTS_LIMIT_NAME,
    DAY_SECONDS,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    MAX_BACKOFF_SECONDS,
    MAX_DELAY_SECONDS,
    MAX_JSON_BYTES,
    MAX_POSITIVE_INT,
    MAX_SNOOZE_SECONDS,
    MAX_TIMEOUT_SECONDS,
    MAX_UNIQUE_SECONDS,
    PRIORITY_MAX,
    PRIORITY_MIN,
    QUEUE_MAX_LENGTH,
    RESULT_LIMIT_NAME,
    TASK_PATH_MAX_LENGTH,
    WORKER_ID_MAX_LENGTH,
    check_backoff_seconds,
    check_debounce_seconds,
    check_delay,
    check_idempotency_key,
    check_jitter,
    check_max_attempts,
    check_max_bytes,
    check_max_snoozes,
    check_module_prefixes,
    check_priority,
    check_queue,
    check_queue_name,
    check_run_at,
    check_seconds,
    check_snooze_seconds,
    check_task_path,
    check_timeout_seconds,
    check_unique_for,
    check_worker_id,
    resolve_run_at,
)

__all__ = [
    "ARGUMENTS_LIMIT_NAME",
    "CONCURRENCY_KEY_MAX_LENGTH",
    "DAY_SECONDS",
    "IDEMPOTENCY_KEY_MAX_LENGTH",
    "MAX_BACKOFF_SECONDS",
    "MAX_DELAY_SECONDS",
    "MAX_JSON_BYTES",
    "MAX_POSITIVE_INT",
    "MAX_SNOOZE_SECONDS",
    "MAX_TIMEOUT_SECONDS",
    "MAX_UNIQUE_SECONDS",
    "PRIORITY_MAX",
    "PRIORITY_MIN",
    "QUEUE_MAX_LENGTH",
    "RESULT_LIMIT_NAME",
    "TASK_PATH_MAX_LENGTH",
    "WORKER_ID_MAX_LENGTH",
    "QueueLimits",
    "check_backoff_seconds",
    "check_concurrency_key",
    "check_concurrency_limit",
    "check_debounce_seconds",
    "check_delay",
    "check_idempotency_key",
    "check_jitter",
    "check_max_attempts",
    "check_max_bytes",
    "check_max_snoozes",
    "check_module_prefixes",
    "check_priority",
    "check_queue",
    "check_queue_name",
    "check_queue_options",
    "check_run_at",
    "check_seconds",
    "check_size",
    "check_snooze_seconds",
    "check_task_path",
    "check_timeout_seconds",
    "check_unique_for",
    "check_worker_id",
    "encode_call",
    "encode_json",
    "encode_result",
    "parse_rate_limit",
    "resolve_concurrency",
    "resolve_run_at",
]
