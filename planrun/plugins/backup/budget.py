"""Whether a rollback by restore can meet ``rollback.within``, estimated before anything
changes: the bytes a restore would load (the whole database, or the tables of a scoped backup)
at the restore speed planrun last measured on this target (its verifications by restore, kept
in the journal), or at a conservative default when it has measured none."""

from __future__ import annotations

from .events import RestoreSpeed

# half the speed planrun's restore measured here (1.22 GiB in 11.9 s, bench/backup_restore.py):
# a first estimate that errs towards refusing
DEFAULT_BYTES_PER_SECOND = 50 * 1024 * 1024
FIXED_SECONDS = 2.0  # connections, the scratch database, the proofs


def measured_speed(ctx) -> float | None:
    """Bytes per second of the last verification by restore on this target (from the journal)."""
    speeds = [
        measured.bytes_per_second
        for measured in RestoreSpeed.all_in(ctx.past_records(RestoreSpeed.name))
        if measured.target == ctx.target_name
    ]
    return float(speeds[-1]) if speeds and speeds[-1] else None


def remember_speed(ctx, size: int, seconds: float) -> None:
    if seconds > 0 and size > 0:
        ctx.journal.emit(
            RestoreSpeed(target=ctx.target_name, bytes=size, seconds=round(seconds, 3), bytes_per_second=size / seconds)
        )


def estimate(size: int, speed: float | None) -> float:
    return FIXED_SECONDS + size / (speed or DEFAULT_BYTES_PER_SECOND)


def size_text(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"
