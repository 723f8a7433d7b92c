"""Queue limits in DJANGO_JOBS["QUEUES"] and concurrency options: checks and validators."""

import pytest
from django.test import override_settings

from django_jobs import job, validation
from django_jobs.checks import check_settings
from django_jobs.engine.queues import limited_queues, queue_limits
from django_jobs.exceptions import InvalidJobOptionsError

GOOD = {"default": None, "mail": {"concurrency": 2}, "sms": {"rate_limit": "10/s"}}


def messages(queues):
    with override_settings(DJANGO_JOBS={"QUEUES": queues}):
        return [(m.id, m.msg) for m in check_settings()]


def test_a_dict_of_queues_with_limits_passes_and_names_the_allowed_queues():
    assert messages(GOOD) == []
    with override_settings(DJANGO_JOBS={"QUEUES": GOOD}):
        assert limited_queues() == ("mail", "sms")
        assert queue_limits()["sms"] == validation.QueueLimits(None, 10, 1.0)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"concurrency": 0}, "concurrency must be an integer in 1.."),
        ({"concurrency": True}, "concurrency must be an integer"),
        ({"concurrency": "2"}, "concurrency must be an integer"),
        ({"rate_limit": "10/d"}, "rate_limit must be a string '<count>/<s|m|h>'"),
        ({"rate_limit": "0/s"}, "rate_limit must be"),
        ({"rate_limit": "10001/s"}, "rate_limit must be"),
        ({"rate_limit": 10}, "rate_limit must be"),
        ({"concurency": 2}, "unknown options ['concurency']"),
        (["concurrency", 2], "must be a dict"),
    ],
)
def test_bad_queue_options_are_e080_naming_the_queue_and_the_value(options, words):
    [(id_, msg)] = messages({"default": None, "mail": options})
    assert id_ == "django_jobs.E080"
    assert "queue 'mail'" in msg and words in msg, msg


def test_a_bad_queue_name_in_the_dict_is_still_e001():
    assert [id_ for id_, _ in messages({"default": None, "": {"concurrency": 1}})] == [
        "django_jobs.E001"
    ]


def test_a_bad_option_is_no_limit_for_the_claim_until_fixed():
    with override_settings(DJANGO_JOBS={"QUEUES": {"default": None, "mail": {"concurrency": 0}}}):
        assert limited_queues() == ()


@pytest.mark.parametrize(
    ("rate", "parsed"), [("5/s", (5, 1.0)), (" 90 / m ", (90, 60.0)), ("10000/h", (10000, 3600.0))]
)
def test_rate_limits_parse_to_a_count_and_a_period(rate, parsed):
    assert validation.parse_rate_limit(rate) == parsed


def test_a_bad_concurrency_limit_is_refused_at_decoration():
    with pytest.raises(InvalidJobOptionsError, match="concurrency_limit must be"):

        @job(concurrency_limit=-1)
        def nope() -> None: ...
