"""The stairway at volume: generated rows in every table before each revision, an optional
client workload, and for every upgrade and downgrade the locks it held, the tables it
rewrote and what the clients waited, judged against ``test.max_lock_hold`` and
``test.max_client_wait``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from ..datagen.generate import generate
from .client_load import ClientLoad
from .config import ClientLoadConfig, GeneratedData
from .lock_sampler import LockSampler
from .report import StairwayCase

BASELINE_SECONDS = 0.5


@dataclass
class VolumeSettings:
    data: GeneratedData | None
    load: ClientLoadConfig | None
    max_lock_hold: timedelta | None
    max_client_wait: timedelta | None

    @property
    def wanted(self) -> bool:
        return any((self.data, self.load, self.max_lock_hold, self.max_client_wait))


class Volume:
    def __init__(self, url: str, settings: VolumeSettings, application_name: str):
        self.url, self.settings, self.application_name = url, settings, application_name
        self.baseline = None
        self.notes: list[str] = []  # tables generation could not fill, or not fully

    def top_up(self) -> set[str] | None:
        """Fill the tables that have no rows yet; the tables filled (``schema.table``), or an
        empty set when none was."""
        data = self.settings.data
        if data is None:
            return set()
        report = generate(
            self.url,
            data.rows,
            per_table=data.tables or None,
            seed=data.seed,
            edge_share=data.edge_share,
            only_empty=True,
            strict_tables=False,
        )
        self.notes += [f"generated rows: {t.table}: {t.note}" for t in report.tables if t.note]
        self.notes += [f"generated rows: {problem}" for problem in report.problems]
        return {t.table if "." in t.table else f"public.{t.table}" for t in report.tables if t.inserted}

    def measure_baseline(self) -> None:
        """The clients' latency with no migration running, on the tables as they are now."""
        if self.settings.load is None:
            return
        with self._load() as load:
            time.sleep(BASELINE_SECONDS)
        self.baseline = load.figures

    def _load(self):
        load = self.settings.load
        return ClientLoad(self.url, load.rate, load.clients) if load else contextlib.nullcontext()

    @contextlib.contextmanager
    def measured(self, direction: str, case: StairwayCase) -> Iterator[None]:
        """Measure what runs inside (one upgrade or downgrade) into ``case.measures[direction]``,
        and fail the case when a limit is exceeded."""
        started = time.monotonic()
        with self._load() as load, LockSampler(self.url, self.application_name) as sampler:
            yield
        figures = {"seconds": round(time.monotonic() - started, 3), "rewritten": sampler.rewritten}
        figures["locks"] = [
            {
                "table": h.table,
                "mode": h.mode,
                "ms": round(h.seconds * 1000, 1),
                "existed": h.existed,
                "statement": h.describe(),
            }
            for h in sampler.holds
        ]
        longest = sampler.longest()
        limit = self.settings.max_lock_hold
        if limit is not None and longest is not None and longest.seconds > limit.total_seconds():
            case.details.append(f"{direction} {longest.describe()} (max_lock_hold {_ms(limit.total_seconds())})")
        if load is not None:
            self._judge_clients(direction, case, load.figures, figures)
        case.measures[direction] = figures

    def _judge_clients(self, direction: str, case: StairwayCase, during, figures: dict) -> None:
        figures["clients"] = {
            "transactions": during.transactions,
            "errors": during.errors,
            "p99_ms": round(during.percentile(0.99) * 1000, 2),
            "longest_ms": round(during.longest * 1000, 1),
            "baseline_p99_ms": round(self.baseline.percentile(0.99) * 1000, 2) if self.baseline else None,
        }
        limit = self.settings.max_client_wait
        if limit is not None and during.longest > limit.total_seconds():
            case.details.append(
                f"{direction}: a client transaction waited {_ms(during.longest)} "
                f"(max_client_wait {_ms(limit.total_seconds())})"
            )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"
