"""Steering a run: the control's pause/resume/abort from the operator's control file, and alert
rules firing once per episode."""

from __future__ import annotations

import threading
import time

import pytest

from planrun.engine.control import Aborted, RunControl
from planrun.plugins.monitor.alerts import AlertTracker
from planrun.plugins.monitor.config import AlertRule
from planrun.plugins.operator import ControlFileWatcher, write_command


def test_checkpoint_waits_while_paused_by_the_operator_and_stops_on_abort(tmp_path):
    path = str(tmp_path / "control" / "run.json")
    control = RunControl()
    changes = []
    control.steering.when_changed(lambda what, why: changes.append(what))
    stop = ControlFileWatcher(path, control).start()
    write_command(path, "pause", by="ops@host")
    deadline = time.monotonic() + 3
    while not control.steering.paused and time.monotonic() < deadline:  # the watcher looks twice a second
        time.sleep(0.05)
    passed = threading.Event()

    def worker():
        control.checkpoint()
        passed.set()

    thread = threading.Thread(target=worker)
    thread.start()
    assert not passed.wait(1.0)  # paused: the worker waits at its checkpoint
    write_command(path, "resume", by="ops@host")
    assert passed.wait(3.0)
    thread.join()
    write_command(path, "abort", by="ops@host")
    with pytest.raises(Aborted, match=r"aborted by ops@host \(planrun abort\)"):
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            control.checkpoint()
            time.sleep(0.1)
    stop.set()
    assert changes == ["pause", "resume", "abort"]


def test_sleep_is_stretched_by_the_throttle_and_cut_short_by_abort():
    control = RunControl()
    control.throttle = 4.0
    started = time.monotonic()
    control.sleep(0.1)
    assert time.monotonic() - started >= 0.38
    threading.Timer(0.2, control.abort, args=("stop",)).start()
    started = time.monotonic()
    control.sleep(10)
    assert time.monotonic() - started < 10  # cut short: the whole sleep would have taken 10 s


def test_an_alert_fires_once_per_episode():
    rule = AlertRule(when="query_runtime > 60s", do="notify")
    tracker = AlertTracker([rule])
    fired = []
    for value in (1, 61, 90, 120, 30, 5, 70, 80):
        now, ended = tracker.evaluate({"query_runtime": float(value)})
        fired += [(f.value, "fired") for f in now] + [(value, "ended") for _ in ended]
    assert fired == [(61.0, "fired"), (30, "ended"), (70.0, "fired")]


def test_a_metric_not_measured_never_fires():
    tracker = AlertTracker([AlertRule(when="replication_lag > 30s", do="pause")])
    assert tracker.evaluate({"replication_lag": None}) == ([], [])
