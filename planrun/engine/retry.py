"""One way to try again, for every retry planrun makes (a rollback while the server restarts, a
deferred commit, a revision after a lock timeout, a notifier): tenacity drives the loop, and the
caller's ``on_retry`` says each retry where it belongs (the journal, the console) before the
pause. A retry loop written by hand would be the fifth shape of the same idea."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import tenacity

T = TypeVar("T")


@dataclass(frozen=True)
class Retry:
    """A failed attempt about to be tried again: its number (1: the first), its error, and the
    seconds until the next."""

    attempt: int
    error: BaseException
    pause: float


def doubling(first: float, cap: float) -> Callable[[int], float]:
    """Pauses that double after each failed attempt: ``first``, ``2*first`` ... up to ``cap``."""
    return lambda attempt: min(first * 2 ** (attempt - 1), cap)


def retrying(
    call: Callable[[], T],
    *,
    again: Callable[[BaseException], bool],
    pauses: Callable[[int], float],
    attempts: int | None = None,
    deadline: float | None = None,
    on_retry: Callable[[Retry], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()`` until it returns. An error ``again`` accepts is tried again after
    ``pauses(attempt)`` seconds (never past ``deadline``, a ``time.monotonic()`` value), at most
    ``attempts`` times in all; any other error, or the last one, is raised as it was."""
    import tenacity  # where a retry is made: ``planrun --help`` imports this module, not tenacity

    def stop(state: tenacity.RetryCallState) -> bool:
        if attempts is not None and state.attempt_number >= attempts:
            return True
        return deadline is not None and time.monotonic() >= deadline

    def wait(state: tenacity.RetryCallState) -> float:
        if stop(state):  # tenacity asks for the pause before it asks whether to stop
            return 0.0
        pause = pauses(state.attempt_number)
        return pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic()))

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None and state.next_action is not None:
            error = state.outcome.exception()
            assert error is not None  # only errors are retried
            on_retry(Retry(state.attempt_number, error, state.next_action.sleep))

    retryer = tenacity.Retrying(
        retry=tenacity.retry_if_exception(again),
        stop=stop,
        wait=wait,
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
    return retryer(call)
