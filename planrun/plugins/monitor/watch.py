"""The monitor's thread: sample, record, show, evaluate the alert rules, steer the run.

It runs on a connection of its own (autocommit, short statement timeout), so a sample never
waits behind the migration's locks and never holds a snapshot open.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from planrun.plugin import notify

from ..pg.connect import connect, migration_application_name
from .alerts import AlertTracker, Firing
from .config import MonitorConfig
from .events import AlertCleared, AlertFired, MonitorEnded, MonitorSampled, Throttled
from .sample import Sample, take_sample

MAX_THROTTLE = 16.0


class Monitor:
    def __init__(self, ctx, config: MonitorConfig, export=None):
        self.ctx = ctx
        self.config = config
        self.export = export
        self.app = migration_application_name(ctx.run_id)
        self.tracker = AlertTracker(list(config.alerts))
        self.samples = 0
        self.queries = 0
        self.start_size: int | None = None
        self.last: Sample | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._senders: list[threading.Thread] = []
        self._conn = None
        self._failed_once = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="planrun-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        for sender in self._senders:
            sender.join(timeout=30)
        if self._conn is not None:
            self._conn.close()
        self.ctx.journal.emit(MonitorEnded(samples=self.samples, queries=self.queries))

    def _loop(self) -> None:
        every = self.config.every.total_seconds()
        while True:
            started = time.monotonic()
            self.sample_once()
            if self._stop.wait(max(0.0, every - (time.monotonic() - started))):
                return

    def sample_once(self) -> Sample | None:
        try:
            if self._conn is None:
                self._conn = connect(
                    self.ctx.target_url,
                    application_name=f"planrun monitor {self.ctx.run_id}",
                    statement_timeout=timedelta(seconds=5),
                    autocommit=True,
                    connect_timeout=5,
                )
                self.queries += 1
            sample = take_sample(self._conn, self.app, self.start_size)
            self.queries += 1
        except Exception as exc:  # the monitor must never take the run down
            if not self._failed_once:
                self.ctx.reporter.warning(f"monitor: could not sample: {type(exc).__name__}: {str(exc).strip()[:200]}")
                self._failed_once = True
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            return None
        if self.start_size is None:
            self.start_size = sample.size
            sample.metrics["db_size_growth"] = 0.0
        self.samples += 1
        self._record(sample)
        self._steer(sample)
        self.last = sample
        return sample

    def _record(self, sample: Sample) -> None:
        rounded = {k: (round(v, 3) if v is not None else None) for k, v in sample.metrics.items()}
        self.ctx.journal.emit(
            MonitorSampled(
                metrics=rounded,
                migration=sample.migration,
                waits=sample.waits,
                blockers=sample.blockers,
                long_queries=sample.long_queries,
                size=sample.size,
                indexes=sample.indexes,
                replication=sample.replication,
            )
        )
        self.ctx.reporter.live("monitor", sample.lines(), size=sample.size, **rounded)
        if self.export is not None:
            try:
                self.export.update(sample.metrics)
            except Exception as exc:
                self.ctx.reporter.warning(f"monitor: metrics export failed: {exc}")
                self.export = None

    def _steer(self, sample: Sample) -> None:
        fired, ended = self.tracker.evaluate(sample.metrics)
        for firing in fired:
            self._fire(firing, sample)
        for rule in ended:
            self.ctx.journal.emit(AlertCleared(when=str(rule.when), do=rule.do))
            if rule.do == "pause":
                self.ctx.control.resume(f"alert {rule.when}")
        self._throttle(sample)

    def _fire(self, firing: Firing, sample: Sample) -> None:
        ctx = self.ctx
        message = firing.message(_detail(firing.rule.when.metric, sample))
        ctx.journal.emit(
            AlertFired(
                when=str(firing.rule.when),
                do=firing.rule.do,
                metric=firing.rule.when.metric,
                value=round(firing.value, 3),
                message=message,
            )
        )
        ctx.reporter.event(
            "alert",
            message,
            level="warn",
            metric=firing.rule.when.metric,
            value=round(firing.value, 3),
            action=firing.rule.do,
        )
        sender = threading.Thread(
            target=notify,
            args=(ctx, "alert", message),
            kwargs={"alert": {"when": str(firing.rule.when), "do": firing.rule.do, "value": firing.value}},
            name="planrun-alert",
            daemon=True,
        )
        sender.start()
        self._senders.append(sender)
        if firing.rule.do == "abort":
            ctx.control.abort(message)
        elif firing.rule.do == "pause":
            ctx.control.pause(f"alert {firing.rule.when}", message)

    def _throttle(self, sample: Sample) -> None:
        """Backfills slow down while sessions queue for locks or standbys fall behind."""
        previous = self.last.metrics.get("replication_lag") if self.last else None
        lag = sample.metrics.get("replication_lag")
        pressure = (sample.metrics.get("blocked_sessions") or 0) > 0 or (
            lag is not None and previous is not None and lag > previous
        )
        control = self.ctx.control
        before = control.throttle
        control.throttle = min(before * 2, MAX_THROTTLE) if pressure else max(1.0, before / 2)
        if control.throttle != before:
            self.ctx.journal.emit(
                Throttled(
                    factor=control.throttle,
                    blocked_sessions=sample.metrics.get("blocked_sessions"),
                    replication_lag=lag,
                )
            )


def _detail(metric: str, sample: Sample) -> str:
    mine = sample.migration["pid"] if sample.migration else None
    if metric in ("lock_wait", "blocked_sessions") and sample.waits:
        wait = max(sample.waits, key=lambda w: w["waited"] or 0)
        who = "the migration" if wait["pid"] == mine else f"pid {wait['pid']}"
        blockers = ", ".join("the migration" if b == mine else f"pid {b}" for b in wait["blockers"]) or "?"
        return f"{who} waits for {wait['mode']} on {wait['relation'] or wait['locktype']}, blocked by {blockers}"
    if metric == "query_runtime" and sample.long_queries:
        query = max(sample.long_queries, key=lambda q: q["runtime"] or 0)
        return f"pid {query['pid']} ({query['app'] or '?'}): {' '.join((query['query'] or '').split())[:120]}"
    if metric == "migration_runtime" and sample.migration:
        return " ".join((sample.migration["query"] or "").split())[:120]
    if metric == "db_size_growth":
        return f"database size {sample.size} bytes"
    return ""
