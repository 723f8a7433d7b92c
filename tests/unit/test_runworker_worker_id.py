"""runworker refuses a --worker-id that Job.worker_id cannot hold, at start, before any claim."""

import signal

import pytest
from django.core.management import CommandError, call_command


@pytest.fixture(autouse=True)
def keep_signal_handlers():
    # runworker installs its own SIGTERM/SIGINT handlers first; give pytest its own back.
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize(
    ("worker_id", "words"),
    [("w" * 129, "129 characters"), ("", "1..128"), ("bad\x00id", "printable"), ("a\nb", "")],
)
def test_a_worker_id_the_column_cannot_hold_is_a_command_error(worker_id, words):
    with pytest.raises(CommandError, match="--worker-id") as info:
        call_command("runworker", "--burst", f"--worker-id={worker_id}", skip_checks=True)
    assert "1..128 printable characters" in str(info.value) and words in str(info.value)
