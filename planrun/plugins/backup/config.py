"""The plan's ``backup:`` section."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from planrun.plugin import Section


class Keep(Section):
    """Retention: a backup is kept while it is among the newest ``last`` or younger than
    ``days``; older ones that planrun wrote (and whose manifest it can read) are deleted."""

    last: int | None = Field(None, ge=1, le=1_000_000, description="Keep at least this many of the newest backups.")
    days: int | None = Field(None, ge=0, le=36_500, description="Keep every backup younger than this many days.")


PLACEHOLDERS = ("name", "run_id")


def _only_known_placeholders(template: str) -> None:
    """``{name}`` and ``{run_id}`` only, as written: no attribute, index, conversion or format."""
    import string

    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ValueError(f"{exc} (a literal brace is written {{{{ or }}}})") from None
    for field, spec, conversion in fields:
        if field not in PLACEHOLDERS or spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ValueError(f"unknown placeholder {shown}; only {{name}} and {{run_id}} are filled in")


class BackupConfig(Section):
    """A backup of the target before the migration, verified before anything changes."""

    to: str | None = Field(
        None,
        description="Where backups go: any fsspec URL; {name} and {run_id} are filled in. "
        "Default: backups/{name}/{run_id}/ under the state directory.",
    )
    format: Literal["custom", "directory"] = Field(
        "custom", description="pg_dump's archive format; directory dumps run in parallel."
    )
    compression: Literal["zstd", "gzip", "none"] = Field(
        "zstd", description="Done by planrun on the stream; zstd is multi-threaded."
    )
    compression_level: int | None = Field(
        None,
        ge=1,
        le=19,
        description="zstd 1-19 (default 1: measured here both faster and smaller than 3 on "
        "multi-threaded streams) or gzip 1-9 (default 6).",
    )
    jobs: int = Field(2, ge=1, le=64, description="Parallel jobs for directory dumps and for restores.")
    verify: Literal["checksum", "read", "restore"] = Field(
        "restore",
        description="checksum: re-read and compare sha256; read: also read every data block; "
        "restore: also restore into a scratch database and compare row counts and schema.",
    )
    scope: Literal["database", "touched", "touched!"] = Field(
        "database",
        description="database: every table; touched: the tables the pending revisions change (read from their SQL "
        "before the run; the tables whose foreign keys cascade from them and their sequences come along), with "
        "the whole schema, so the rollback (downgrade-then-restore) restores only their rows; when a revision's "
        "tables cannot be determined it falls back to database and says so (touched! refuses instead).",
    )
    keep: Keep | None = Field(None, description="Retention of older backups of this plan.")
    storage_options: dict[str, Any] = Field({}, description="Passed to fsspec for this URL (endpoint, profile...).")

    @field_validator("to")
    @classmethod
    def _run_id_in_path(cls, value: str | None) -> str | None:
        if value is not None:
            _only_known_placeholders(value)
        if value is not None and "{run_id}" not in value:
            value = value.rstrip("/") + "/{run_id}/"
        return value
