"""The one retry idiom (planrun.engine.retry, on tenacity): tried again only for the errors the
caller names, at most as often as it says, each retry told before its pause, the last error
raised as it was. Sleeping is the caller's (recorded here, never waited for)."""

from __future__ import annotations

import time

import pytest

from planrun.engine.retry import doubling, retrying


class Flaky(Exception):
    pass


def failing(times: int, error: type[Exception] = Flaky):
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= times:
            raise error(f"failure {len(calls)}")
        return "done"

    return call, calls


def test_it_tries_again_with_doubling_pauses_and_tells_each_retry():
    call, calls = failing(3)
    told, slept = [], []
    result = retrying(
        call,
        again=lambda e: isinstance(e, Flaky),
        pauses=doubling(0.5, 1.5),
        attempts=5,
        on_retry=lambda r: told.append((r.attempt, str(r.error), r.pause)),
        sleep=slept.append,
    )
    assert result == "done" and len(calls) == 4
    assert told == [(1, "failure 1", 0.5), (2, "failure 2", 1.0), (3, "failure 3", 1.5)]
    assert slept == [0.5, 1.0, 1.5]


def test_the_last_error_is_raised_after_the_last_attempt_and_no_pause_is_asked_for_it():
    call, calls = failing(10)
    asked = []

    def pauses(attempt: int) -> float:
        asked.append(attempt)
        return 0.0

    with pytest.raises(Flaky, match="failure 3"):
        retrying(call, again=lambda e: True, pauses=pauses, attempts=3, sleep=lambda s: None)
    assert len(calls) == 3 and asked == [1, 2]


def test_an_error_it_was_not_told_to_retry_is_raised_at_once():
    call, calls = failing(1, ValueError)
    with pytest.raises(ValueError):
        retrying(call, again=lambda e: isinstance(e, Flaky), pauses=doubling(1, 1), attempts=5, sleep=lambda s: None)
    assert len(calls) == 1


def test_a_deadline_in_the_past_means_one_attempt_and_pauses_never_pass_the_deadline():
    call, calls = failing(10)
    with pytest.raises(Flaky):
        retrying(call, again=lambda e: True, pauses=doubling(5, 5), deadline=time.monotonic() - 1, sleep=lambda s: None)
    assert len(calls) == 1
    call, calls = failing(1)
    slept = []
    retrying(
        call, again=lambda e: True, pauses=doubling(3600, 3600), deadline=time.monotonic() + 30, sleep=slept.append
    )
    assert len(slept) == 1 and 0 < slept[0] <= 30
