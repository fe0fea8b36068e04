"""Errors users can catch, and the exit codes the CLI maps them to.

One base class, so the CLI catches planrun's own errors in one place and prints them without a
traceback; anything else is a crash and is reported as one.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1  # the run failed; the database is where it started (rolled back, or never touched)
EXIT_BAD_PLAN = 2  # bad plan or bad usage: nothing ran
EXIT_ROLLBACK_FAILED = 3  # the run failed and so did the rollback: a human must act
EXIT_INTERNAL = 4  # a bug in planrun or a plugin (the message says; --debug shows the traceback)
EXIT_UNREACHABLE = 5  # the database could not be reached before anything changed: try again later

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_FAILED: "the run failed; the database is where it started (rolled back and proven, or never touched)",
    EXIT_BAD_PLAN: "a bad plan or bad usage (a refusal, a missing file, a user mistake): nothing ran",
    EXIT_ROLLBACK_FAILED: "the run failed and the rollback is not proven: a human must look (planrun status, recover)",
    EXIT_INTERNAL: "an internal error (a bug): nothing more is known; run again with --debug",
    EXIT_UNREACHABLE: "the database could not be reached before the run could change it; try again when it is back",
}


class PlanrunError(Exception):
    """Base of every error planrun reports to the user as a message rather than a traceback."""

    exit_code = EXIT_FAILED


class UsageError(PlanrunError):
    """The command line asks for something that cannot be done (a missing file, a bad flag)."""

    exit_code = EXIT_BAD_PLAN


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a plan, located in its file."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class PlanError(PlanrunError):
    """The plan file is not a valid plan; every problem found is listed with its location."""

    exit_code = EXIT_BAD_PLAN

    SHOWN = 20  # problems printed; the rest are counted

    def __init__(self, problems: list[Problem], total: int | None = None):
        self.problems = problems
        self.total = max(total or 0, len(problems))
        lines = [str(p) for p in problems[: self.SHOWN]]
        if self.total > self.SHOWN:
            lines.append(f"... and {self.total - self.SHOWN:,} more problems")
        super().__init__("\n".join(lines))


class ProjectError(UsageError):
    """The project a plan names cannot be loaded (no alembic.ini, a revision file that does not
    compile, a target revision that does not exist): nothing ran."""


class StepFailed(PlanrunError):
    """A step could not do its job; the message says why in the user's words (no traceback)."""


class Unreachable(StepFailed):
    """The database could not be reached: the connection was refused or lost, the server is
    starting or shutting down. The same work may succeed once it is back, so a rollback tries
    again, with backoff, for as long as ``rollback.within`` allows. A run it stops before any
    change ends with its own exit code (after a change, the rollback's outcome decides)."""

    exit_code = EXIT_UNREACHABLE


class TargetBusy(PlanrunError):
    """Another run holds the target; this run stopped at the lock, before any step that changes it."""


def describe_error(exc: BaseException) -> str:
    """An error in one line: planrun's own as they are, others with their type and first line."""
    if isinstance(exc, PlanrunError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
