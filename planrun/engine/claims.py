"""What a run may say about the target at its end: the one place that words it, from what the
proofs compared. "As before" is said of exactly what a snapshot compared equal, and of no
more: a proof by the schema alone says the data was not compared, a proof by a snapshot that
holds some tables only counts when every table the run wrote is among them, and a run that
stopped before changing anything says that, not that nothing changed (a check could have).

Every end-of-run sentence that speaks of the target's state comes from here; a test keeps
words such as "back where it started" out of every other module."""

from __future__ import annotations

from .facts import KeptOnPurpose, Written
from .snapshot import Snapshot

BEFORE_ANY_CHANGE = "it stopped before any step that changes the target"  # the end of a run that failed before
CANCELLED = "cancelled before anything ran"


def uncovered(before: dict[str, Snapshot], written: Written | None) -> str | None:
    """Why a proof by ``before`` cannot cover the run, or None when it can: a snapshot that
    holds some tables only, while the run wrote others (or its writes could not all be seen)."""
    for snap in before.values():
        if snap.covers is None:
            continue
        where = snap.covers_what or "the pre-run snapshot"
        if written is None or written.tables is None:
            why = f" ({written.why})" if written is not None and written.why else ""
            return f"not proven: the run's writes could not all be seen{why}, and {where} holds some tables only"
        outside = sorted(set(written.tables) - snap.covers)
        if outside:
            return f"not proven: the run wrote {', '.join(outside)}, outside {where}"
    return None


def proven(
    before: dict[str, Snapshot],
    written: Written | None,
    strategy: str,
    offered: dict[str, str],
    kept: KeptOnPurpose | None = None,
) -> str:
    """The sentence for a rollback whose proof passed. ``offered``: every proof the loaded
    rollback methods can make, with a method that makes it (to say what to add); ``kept``: what
    the method left different on purpose (named, never hidden)."""
    subjects = [snap.subject or name for name, snap in before.items()]
    text = f"proven: {_joined(subjects)} {'is' if len(subjects) == 1 else 'are'} as before"
    if any(snap.covers is not None for snap in before.values()):
        text += " (every table the run wrote is in it)"
    if kept is not None and kept.keys:
        text += f", except {_joined(list(kept.keys))}: {kept.why}"
    missing = [name for name in offered if name not in before]
    if missing:
        what = _joined(missing)
        adds = _joined(sorted({offered[name] for name in missing}))
        text += (
            f"; {what} {'was' if len(missing) == 1 else 'were'} not compared (strategy {strategy} proves "
            f"{_joined(subjects)} only; add {adds} to prove {what})"
        )
        text += "; " + wrote(written)
    return text


def wrote(written: Written | None) -> str:
    if written is None or written.tables is None:
        return "the run's writes could not all be seen"
    return f"the run wrote {', '.join(written.tables)}" if written.tables else "the run wrote no table"


def _joined(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
