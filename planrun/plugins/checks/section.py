"""The plan's ``checks:`` section: the phases' lists of checks (any registered check type), the
checks' timeouts, the functions they may call on the reviewer's word, and their own URL."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, create_model

from planrun.plugin import Duration, Section


class TrustedFunction(Section):
    """A function the plan's checks may call although planrun cannot see what it does: the
    reviewer's word, in the pull request, that it only reads."""

    function: str = Field(
        ...,
        max_length=1000,
        pattern=r"^[^()]+\(.*\)$",
        description="The function's signature as PostgreSQL reads it: schema.name(argument types), "
        "e.g. app.balance_ok(int).",
    )
    reason: str = Field(..., min_length=1, max_length=2000, description="Why it can only read.")


def checks_model(check_item):
    """The ``checks:`` section, its items any registered check type."""
    return create_model(
        "Checks",
        __base__=Section,
        __doc__="SQL checks run before and after the migration, each in a READ ONLY transaction.",
        gate=(
            list[check_item],
            Field(
                [],
                description="For phase: contract, checks that prove the contract is safe now "
                "(e.g. zero rows where the old and new columns differ); run first.",
            ),
        ),
        pre=(list[check_item], Field([], description="Checks that must pass before anything changes.")),
        post=(
            list[check_item],
            Field([], description="Checks that must pass after the migration, or it is rolled back."),
        ),
        statement_timeout=(
            Duration,
            Field(
                timedelta(seconds=60),
                description="Longest any one check may run; a slower "
                "check fails (Postgres statement_timeout on the checks' connection).",
            ),
        ),
        lock_timeout=(
            Duration,
            Field(
                timedelta(seconds=5),
                description="Longest a check may wait for a lock; a check "
                "stuck behind another session fails instead of waiting (Postgres lock_timeout).",
            ),
        ),
        trust=(
            list[TrustedFunction],
            Field(
                [],
                description="User functions checks may call: planrun refuses a check that reaches (directly, "
                "through a view or an operator) any function not known to be read-only, unless it is named here. "
                "Functions of extensions that open connections or reach files (dblink, postgres_fdw, adminpack) "
                "are refused even here.",
            ),
        ),
        url=(
            str | None,
            Field(
                None,
                description="Run checks through this URL instead of the target's (the same database, "
                "reached as a role that can only read, e.g. one granted pg_read_all_data). Write it as ${VAR}.",
            ),
        ),
    )
