"""docs/explanation/job-lifecycle.md against the code: its transition table lists exactly the
engine's transitions, each documented function exists, and its glossary has every verb."""

import re
from pathlib import Path

from django_jobs import engine

PAGE = Path(__file__).resolve().parents[2] / "docs" / "explanation" / "job-lifecycle.md"
#: Data the transitions take or return, not transitions.
VALUES = {"CancelReport", "Completion", "LimitedClaim", "RescueReport"}


def _section(title: str) -> str:
    text = PAGE.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_the_transition_table_lists_every_engine_transition_and_nothing_else():
    rows = [line for line in _section("Transitions").splitlines() if line.startswith("| `engine.")]
    documented = {
        name for row in rows for name in re.findall(r"`engine\.(\w+)`", row.split("|")[1])
    }
    assert documented == set(engine.__all__) - VALUES


def test_the_glossary_defines_every_verb_of_the_engine():
    words = set(re.findall(r"^\| (\w+) \|", _section("Words"), re.MULTILINE))
    verbs = {"enqueue", "claim", "start", "heartbeat", "complete", "fail", "retry", "dead_letter",
             "replay", "release", "rescue", "cancel", "run_now", "prune"}  # fmt: skip
    assert verbs <= words
    writes = {"complete_many", "set_progress", "insert_call", "insert_job", "insert_jobs"}
    transitions = set(engine.__all__) - VALUES - writes
    assert transitions <= words
