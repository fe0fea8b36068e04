"""The journal events a fleet worker records (typed: see ``planrun.plugin.JournalEvent``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from planrun.plugin import JournalEvent


@dataclass(frozen=True)
class FleetJoined(JournalEvent):
    """This worker joined ``fleet``, which has ``targets`` targets."""

    name = "fleet_join"
    fleet: str = ""
    worker: str = ""
    targets: int = 0


@dataclass(frozen=True)
class FleetClaimed(JournalEvent):
    """This worker claimed a target (its ``attempt``-th try on it)."""

    name = "fleet_claim"
    target: str = ""
    attempt: int = 0


@dataclass(frozen=True)
class FleetTargetBusy(JournalEvent):
    """The claimed target's lock was held by someone else: the claim goes back to the queue."""

    name = "fleet_target_busy"
    target: str = ""
    run_id: str | None = None


@dataclass(frozen=True)
class FleetClaimLost(JournalEvent):
    """Another worker took over this worker's claim while its run went on."""

    name = "fleet_claim_lost"
    target: str = ""
    run_id: str | None = None
    ok: bool = False


@dataclass(frozen=True)
class FleetTargetEnded(JournalEvent):
    """A target's run ended (``run_id``: its own journal)."""

    name = "fleet_target_end"
    target: str = ""
    ok: bool = False
    run_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class FleetControlLost(JournalEvent):
    """The control database could not be reached."""

    name = "fleet_control_lost"
    error: str = ""


@dataclass(frozen=True)
class FleetEnded(JournalEvent):
    """This worker found nothing more to claim."""

    name = "fleet_end"
    done: int = 0
    failed: list[str] = field(default_factory=list)
    not_run: int = 0


EVENTS = [FleetJoined, FleetClaimed, FleetTargetBusy, FleetClaimLost, FleetTargetEnded, FleetControlLost, FleetEnded]
