"""The monitor during ``apply`` on a real PostgreSQL: alerts that abort and roll back, alerts that
notify once per episode, operator abort from another terminal, metrics for Prometheus, and
plain structured lines when stdout is not a terminal."""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import time
import urllib.request
from pathlib import Path

import psycopg2
import pytest

from conftest import current_revision, query, table_contents
from planrun.engine import api
from planrun.engine.cli import main
from planrun.engine.context import RunOptions


def monitored_plan(demo, recorder, monitor: str, extra: str = "") -> Path:
    text = demo.plan.read_text().replace("lock_timeout: 3s", "lock_timeout: 60s")
    text = text.replace("notify:\n  - log: {on: [start, success, failure, rollback]}\n", "")
    text += f"monitor:\n{monitor}\nnotify:\n  - webhook: {{url: '{recorder.url}/hook', on: [alert, failure]}}\n{extra}"
    return demo.write_plan(text)


def journal(state_dir: str) -> list[dict]:
    (path,) = sorted(Path(state_dir, "runs").glob("*.jsonl"))[-1:]
    return [json.loads(line) for line in path.read_text().splitlines()]


def wait_for_migration(url: str, timeout: float = 20, statement: str = "") -> int:
    """The pid of the migration's backend once it is active (and running ``statement``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = query(
            url,
            "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'planrun migrate %%' "
            "AND state = 'active' AND query LIKE %s",
            (f"%{statement}%",),
        )
        if rows:
            return rows[0][0]
        time.sleep(0.05)
    raise AssertionError("the migration never started")


def test_lock_wait_alert_cancels_the_migration_and_rolls_back(demo, recorder):
    plan = monitored_plan(demo, recorder, "  every: 200ms\n  alerts:\n    - {when: lock_wait > 1s, do: abort}\n")
    before = table_contents(demo.url)
    other = psycopg2.connect(demo.url)
    try:
        cursor = other.cursor()
        cursor.execute(
            "INSERT INTO users (email, name) VALUES ('late@example.com', 'Late')"
        )  # holds a lock on users, uncommitted
        out = io.StringIO()
        result = api.apply(str(plan), options=RunOptions(state_dir=demo.state_dir), stream=out)
        assert other.status == psycopg2.extensions.STATUS_IN_TRANSACTION  # the other session is untouched
        other.commit()
    finally:
        other.close()
    assert result.exit_code == 1, out.getvalue()
    assert "lock timeout" not in (result.error or "")  # stopped by the alert, not by the 60s lock_timeout
    assert "alert lock_wait > 1s: lock_wait is" in result.error
    assert "the migration waits for AccessExclusiveLock on users" in result.error
    assert current_revision(demo.url) == ["000"]
    after = table_contents(demo.url)
    late = [row for row in after["public.users"]["rows"] if row[1] == "late@example.com"]
    assert len(late) == 1  # the other session's row landed
    assert after["public.users"]["rows"] == sorted(before["public.users"]["rows"] + late, key=repr)
    assert after["public.products"] == before["public.products"]
    records = journal(demo.state_dir)
    alerts = [r for r in records if r["event"] == "alert"]
    assert [(a["metric"], a["do"]) for a in alerts] == [("lock_wait", "abort")]
    assert any(r["event"] == "migration_cancelled" and r["backends"] for r in records)
    assert next(r for r in records if r["event"] == "rollback_end")["ok"] is True
    sent = recorder.payloads("/hook")
    assert [s["event"] for s in sent] == ["alert", "failure"]


def test_long_query_notifies_once_per_episode(demo, recorder):
    demo.add_revision("003", "002", '    op.execute("SELECT pg_sleep(5)")\n')
    plan = monitored_plan(
        demo, recorder, "  every: 100ms\n  alerts:\n    - {when: query_runtime > 700ms, do: notify}\n"
    )
    ran: list[float] = []

    def two_long_queries():
        wait_for_migration(demo.url, statement="pg_sleep")
        conn = psycopg2.connect(demo.url, application_name="reporting job")
        conn.autocommit = True
        try:
            for _ in range(2):
                conn.cursor().execute("SELECT pg_sleep(1.5)")
                ran.append(time.monotonic())
                time.sleep(0.6)  # the episode ends: no long query for several samples
        finally:
            conn.close()

    thread = threading.Thread(target=two_long_queries)
    thread.start()
    result = api.apply(str(plan), options=RunOptions(state_dir=demo.state_dir), stream=io.StringIO())
    thread.join()
    assert result.exit_code == 0, result.error
    assert len(ran) == 2
    alerts = [p for p in recorder.payloads("/hook") if p["event"] == "alert"]
    assert len(alerts) == 2, [a["message"] for a in alerts]
    for alert in alerts:
        assert alert["message"].startswith("alert query_runtime > 700ms: query_runtime is ")
        assert "(reporting job): SELECT pg_sleep(1.5)" in alert["message"]
        assert alert["alert"]["do"] == "notify"
    records = journal(demo.state_dir)
    assert len([r for r in records if r["event"] == "alert"]) == 2
    assert len([r for r in records if r["event"] == "alert_cleared"]) == 2
    samples = [r for r in records if r["event"] == "monitor_sample"]
    assert len(samples) > 20
    assert any(s["migration"] and "pg_sleep(5)" in s["migration"]["query"] for s in samples)


def test_operator_abort_from_another_terminal(demo, capsys):
    demo.add_revision("003", "002", '    op.execute("SELECT pg_sleep(60)")\n')
    before = table_contents(demo.url)
    outcome = {}

    def apply():
        outcome["result"] = api.apply(
            str(demo.plan), options=RunOptions(state_dir=demo.state_dir), stream=io.StringIO()
        )

    thread = threading.Thread(target=apply)
    thread.start()
    wait_for_migration(demo.url, statement="pg_sleep(60)")
    run_id = next(Path(demo.state_dir, "runs").glob("*.jsonl")).stem
    started = time.monotonic()
    from conftest import planrun_process

    code, said = planrun_process("abort", run_id, "--state-dir", demo.state_dir)  # another terminal: a process
    assert code == 0 and f"asked run {run_id} to abort" in said, said
    thread.join(timeout=60)
    assert time.monotonic() - started < 15
    result = outcome["result"]
    assert result.exit_code == 1 and result.rollback.ok
    assert "aborted by" in result.error and "(planrun abort)" in result.error
    assert current_revision(demo.url) == ["000"]
    assert table_contents(demo.url) == before
    assert main(["abort", run_id, "--state-dir", demo.state_dir]) == 2  # it has ended
    assert "has already ended (failed)" in capsys.readouterr().err
    assert main(["pause", "no-such-run", "--state-dir", demo.state_dir]) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_metrics_are_served_for_prometheus(demo):
    pytest.importorskip("prometheus_client")
    demo.add_revision("003", "002", '    op.execute("SELECT pg_sleep(2)")\n')
    port = _free_port()
    scraped = {}

    def runtime(text: str) -> float:
        found = [i for i in text.splitlines() if i.startswith("planrun_migration_runtime_seconds{")]
        return float(found[0].rsplit(" ", 1)[1]) if found else 0.0

    def scrape():
        # scraped again and again while the 2 s statement runs, until the runtime has moved: no
        # wall-clock threshold (a loaded machine once sampled it at 0.00008 s after 0.5 s)
        wait_for_migration(demo.url, statement="pg_sleep")
        while not done.is_set():
            try:  # the server starts with the monitor, at the migrate step: maybe a moment after it
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            except OSError:
                text = ""
            if runtime(text) > runtime(scraped.get("text", "")) or "text" not in scraped:
                scraped["text"] = text
            if runtime(text) > 0.001:
                return
            time.sleep(0.1)

    done = threading.Event()
    thread = threading.Thread(target=scrape)
    thread.start()
    plan = demo.write_plan(demo.plan.read_text() + "monitor: {every: 100ms}\n")
    try:
        result = api.apply(
            str(plan), options=RunOptions(state_dir=demo.state_dir, flags={"metrics_port": port}), stream=io.StringIO()
        )
    finally:
        done.set()
    thread.join()
    assert result.exit_code == 0
    line = next(item for item in scraped["text"].splitlines() if item.startswith("planrun_migration_runtime_seconds{"))
    assert 'plan="demo-users-products"' in line and f'run_id="{result.run_id}"' in line
    assert runtime(scraped["text"]) > 0.001  # it counted the running statement


LOGFMT = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|[^ "]*)(?: |$)')


def parse_logfmt(line: str) -> dict[str, str]:
    fields, position = {}, 0
    for match in LOGFMT.finditer(line):
        assert match.start() == position, f"not logfmt at {position}: {line!r}"
        value = match[2]
        fields[match[1]] = json.loads(value) if value.startswith('"') else value
        position = match.end()
    assert position == len(line), f"not logfmt: {line!r}"
    return fields


def test_output_off_a_terminal_is_one_parseable_line_per_event(demo):
    demo.add_revision("003", "002", "    pass\n")
    out = io.StringIO()
    result = api.apply(
        str(demo.write_plan(demo.plan.read_text() + "monitor: {every: 100ms}\n")),
        options=RunOptions(state_dir=demo.state_dir),
        stream=out,
    )
    assert result.exit_code == 0
    lines = out.getvalue().splitlines()
    events = [parse_logfmt(line) for line in lines]
    assert all({"ts", "level", "event", "msg"} <= set(e) for e in events)
    steps = {e["step"]: e for e in events if e["event"] == "step"}
    assert list(steps) == ["lock", "pre-checks", "migrate", "post-checks"]
    assert steps["migrate"]["outcome"] == "ok" and float(steps["migrate"]["seconds"]) >= 0
    samples = [e for e in events if e["event"] == "monitor"]
    assert samples and all("lock_wait" in s and "size" in s for s in samples)
