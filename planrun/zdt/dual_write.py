"""Keeping an old and a new column equal while old and new application versions run side by
side: a trigger copies whichever side a write changed to the other, on INSERT and UPDATE.

Rows are locked by the UPDATE that changes them, and the trigger runs on the newest row
version, so concurrent writers through either column leave the two equal.
"""

from __future__ import annotations

from alembic import op

from .locks import retry_on_lock_timeout
from .sql import quote_name


def _names(table: str, old: str, new: str) -> tuple[str, str]:
    short = table.split(".")[-1]
    base = f"planrun_dw_{short}_{old}_{new}"[:55]
    return base, base + "_trg"


def dual_write(
    table: str, old: str, new: str, *, to_new: str = "{value}", to_old: str = "{value}", lock_timeout: str = "2s"
) -> None:
    """Install the trigger. ``to_new``/``to_old`` convert a value between the columns' types
    (``{value}`` is the source value, e.g. ``to_new="{value}::bigint"``)."""
    function, trigger = _names(table, old, new)
    o, n = quote_name(old), quote_name(new)
    copy_to_new = to_new.format(value=f"NEW.{o}")
    copy_to_old = to_old.format(value=f"NEW.{n}")
    op.execute(f"""CREATE OR REPLACE FUNCTION {quote_name(function)}() RETURNS trigger LANGUAGE plpgsql AS $planrun$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.{n} IS NULL THEN
            NEW.{n} := {copy_to_new};
        ELSIF NEW.{o} IS NULL THEN
            NEW.{o} := {copy_to_old};
        END IF;
    ELSIF NEW.{n} IS DISTINCT FROM OLD.{n} THEN
        NEW.{o} := {copy_to_old};
    ELSIF NEW.{o} IS DISTINCT FROM OLD.{o} THEN
        NEW.{n} := {copy_to_new};
    END IF;
    RETURN NEW;
END
$planrun$""")
    op.execute(f"DROP TRIGGER IF EXISTS {quote_name(trigger)} ON {quote_name(table)}")
    retry_on_lock_timeout(
        f"CREATE TRIGGER {quote_name(trigger)} BEFORE INSERT OR UPDATE ON {quote_name(table)} "
        f"FOR EACH ROW EXECUTE FUNCTION {quote_name(function)}()",
        timeout=lock_timeout,
    )


def drop_dual_write(table: str, old: str, new: str) -> None:
    function, trigger = _names(table, old, new)
    op.execute(f"DROP TRIGGER IF EXISTS {quote_name(trigger)} ON {quote_name(table)}")
    op.execute(f"DROP FUNCTION IF EXISTS {quote_name(function)}()")
