"""Fleet runs: one plan over 50 tenant databases, three worker processes started at once
through one control database; one tenant's data fails its post-check, one worker is killed
with SIGKILL mid-target. Afterwards every other tenant is migrated, the failing one is back and
proven, and the control database shows each target migrated exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import ROOT, copy_demo_migrations, current_revision, execute, query, table_contents, upgrade
from faults import kill9, wait_for_file

TENANTS = [f"t{index:02d}" for index in range(50)]
POISONED = "t07"

PLAN = """\
version: 1
name: tenants
plugins: [fault_points]
target: {url: "${SERVER_URL}/{name}", alembic: {config: ../migrations/alembic.ini}}
migrate: {to: "001"}
fleet:
  targets: {file: tenants.txt}
  control: "${CONTROL_URL}"
  canary: 1
  batch: 50%
  concurrency: 2
  max_failures: 3
  lease: 3s
checks:
  post:
    - {name: no poisoned user, sql: "SELECT count(*) FROM users WHERE name = 'poison'", expect: 0}
"""


@pytest.fixture
def fleet(tmp_path, pg_cluster, request):
    """The tenants (all 50, or the first N a test names with ``@pytest.mark.tenants(N)``), a
    control database, the fleet plan and the workers' environment."""
    marker = request.node.get_closest_marker("tenants")
    tenants = TENANTS[: marker.args[0]] if marker else TENANTS
    root = tmp_path / "project"
    copy_demo_migrations(root / "migrations")
    (root / "plans").mkdir()
    prefix = "f" + uuid.uuid4().hex[:6]
    names = {tenant: f"{prefix}_{tenant}" for tenant in tenants}
    urls = {}
    for tenant, name in names.items():
        urls[tenant] = pg_cluster.create_database(name)
        upgrade(root / "migrations" / "alembic.ini", urls[tenant], "000")
        execute(urls[tenant], (ROOT / "tests" / "fixtures" / "sample_data.sql").read_text())
    if POISONED in urls:
        execute(urls[POISONED], "INSERT INTO users (name, email) VALUES ('poison', 'poison@example.com')")
    control = pg_cluster.create_database(f"{prefix}_control")
    (root / "plans" / "tenants.txt").write_text("\n".join(names.values()) + "\n")
    plan = root / "plans" / "tenants.yaml"
    plan.write_text(PLAN)
    env = dict(
        os.environ,
        SERVER_URL=control.rsplit("/", 1)[0],
        CONTROL_URL=control,
        PYTHONPATH=str(ROOT / "tests" / "thirdparty"),
        TMPDIR=str(tmp_path),  # a worker killed with -9 leaves its folder of plans and logs here, not in /tmp
    )
    yield {"plan": plan, "urls": urls, "names": names, "control": control, "env": env, "state": str(tmp_path / "state")}
    for name in [*names.values(), f"{prefix}_control"]:
        pg_cluster.drop_database(name)


def _worker(fleet, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "planrun.engine.cli",
            "fleet-apply",
            str(fleet["plan"]),
            "--yes",
            "--state-dir",
            fleet["state"],
        ],
        env=dict(fleet["env"], **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _claimed_by(state_dir: str, pid: int) -> set[str]:
    """The targets a worker claimed, from its journal (found by the pid in its worker name)."""
    import json
    from pathlib import Path

    for path in Path(state_dir, "runs").glob("*.jsonl"):
        records = [json.loads(line) for line in path.read_text().splitlines()]
        joined = next((r for r in records if r["event"] == "fleet_join"), None)
        if joined and f":{pid}:" in joined["worker"]:
            return {r["target"] for r in records if r["event"] == "fleet_claim"}
    return set()


def test_three_workers_one_killed_one_tenant_failing(fleet, tmp_path, run_cli, monkeypatch):
    poisoned_before = table_contents(fleet["urls"][POISONED])
    for name in ("SERVER_URL", "CONTROL_URL"):
        monkeypatch.setenv(name, fleet["env"][name])
    code, out, err = run_cli("apply", fleet["plan"], "--yes", "--state-dir", fleet["state"])
    assert code == 2 and "is a fleet plan" in err and "`planrun fleet-apply PLAN` does" in err, out + err
    code, out, err = run_cli("fleet-plan", fleet["plan"])  # the dry run: the waves, nothing changed
    assert code == 0, out + err
    names = sorted(fleet["names"].values())
    assert f"canary: {names[0]} (" in out and f"wave 1: {names[1]} (" in out and f"wave 2: {names[26]} (" in out
    assert "a full planrun run: lock, pre-checks, migrate, post-checks" in out
    assert query(fleet["control"], "SELECT to_regclass('planrun_fleet.targets') IS NULL") == [(True,)]
    marker = tmp_path / "paused"
    doomed = _worker(fleet, PLANRUN_FAULT="pause:migrate", PLANRUN_FAULT_MARKER=str(marker))
    workers = [_worker(fleet), _worker(fleet)]
    assert wait_for_file(marker, timeout=60), doomed.communicate(timeout=5)[0]
    doomed_pid = doomed.pid  # the worker itself (fleet-apply runs no project code of its own: not supervised)
    kill9(doomed)  # mid-target: its run dies with it, its claim expires after the lease
    outputs = [worker.communicate(timeout=240)[0] for worker in workers]
    password = urlsplit(fleet["control"]).password
    journals = "".join(path.read_text() for path in Path(fleet["state"], "runs").glob("*.jsonl"))
    assert password and password not in "".join(outputs) + journals  # no secret printed, by any run of the fleet
    assert [worker.returncode for worker in workers] == [1, 1], outputs
    assert all(f"failed: {fleet['names'][POISONED]} (" in out for out in outputs), outputs
    for tenant, url in fleet["urls"].items():
        if tenant == POISONED:
            assert current_revision(url) == ["000"] and table_contents(url) == poisoned_before
        else:
            assert current_revision(url) == ["001"], tenant
    rows = dict(query(fleet["control"], "SELECT name, state || ':' || migrations FROM planrun_fleet.targets"))
    expected = {name: "done:1" for name in fleet["names"].values()}
    expected[fleet["names"][POISONED]] = "failed:0"
    assert rows == expected  # every target migrated exactly once; the poisoned one never
    taken_over = {
        name for (name,) in query(fleet["control"], "SELECT name FROM planrun_fleet.targets WHERE attempts > 1")
    }
    assert taken_over and taken_over == _claimed_by(fleet["state"], doomed_pid)  # what the killed worker had claimed
    for name in ("SERVER_URL", "CONTROL_URL"):
        monkeypatch.setenv(name, fleet["env"][name])
    code, out, err = run_cli("fleet-status", fleet["plan"])
    assert code == 1, out + err
    assert f"FAILED: {fleet['names'][POISONED]}: " in out and "0 pending, 0 claimed, 49 done, 1 failed of 50" in out
    again = _worker(fleet)  # the same command again: what is done is skipped, the failure stays named
    out = again.communicate(timeout=120)[0]
    assert again.returncode == 1 and f"failed: {fleet['names'][POISONED]} (" in out, out
    assert "49 of 50 targets done, 1 failed, 0 not run" in out
    assert dict(query(fleet["control"], "SELECT name, state || ':' || migrations FROM planrun_fleet.targets")) == rows
    code, out, err = run_cli("status", fleet["plan"])  # not the template target's: the fleet's own verb says
    assert code == 2 and "`planrun fleet-status PLAN` does" in err, out + err
    from planrun.plugins.fleet.status import fleet_status

    lines, complete = fleet_status(str(fleet["plan"]), bar=True)
    assert not complete and lines[1] == "[" + "#" * 39 + "x" * 1 + "] 49 done, 1 failed of 50"


def _small_fleet(fleet, count: int) -> None:
    """The fleet's plan over its first ``count`` tenants only (none poisoned)."""
    names = [fleet["names"][t] for t in TENANTS[:count] if t != POISONED]
    (fleet["plan"].parent / "tenants.txt").write_text("\n".join(names) + "\n")
    fleet["plan"].write_text(PLAN.replace("canary: 1", "canary: 0").replace("concurrency: 2", "concurrency: 1"))


@pytest.mark.tenants(3)
def test_a_worker_stopped_past_its_lease_is_not_a_failure(fleet):
    """A worker stopped (SIGSTOP) past its lease while its target's run holds the target: the
    worker that takes the target over finds it busy, not failed, and tries again later; the
    stopped worker, back, finds its claim gone and records nothing. Every target ends done,
    migrated once, and a failure budget of 1 is never touched."""
    import signal

    _small_fleet(fleet, 3)
    fleet["plan"].write_text(fleet["plan"].read_text().replace("max_failures: 3", "max_failures: 1"))
    marker = fleet["plan"].parent / "paused"
    stopped = _worker(fleet, PLANRUN_FAULT="pause:migrate", PLANRUN_FAULT_MARKER=str(marker), PLANRUN_FAULT_SECONDS="8")
    assert wait_for_file(marker, timeout=60), stopped.communicate(timeout=5)[0]
    worker = stopped.pid  # the worker itself, not its target's run
    os.kill(worker, signal.SIGSTOP)  # its target's run (a child of its own) goes on, holding the target
    try:
        taker = _worker(fleet)
        out = taker.communicate(timeout=240)[0]
    finally:
        os.kill(worker, signal.SIGCONT)
    back = stopped.communicate(timeout=120)[0]
    assert taker.returncode == 0, out
    assert "busy" in out, out
    rows = dict(query(fleet["control"], "SELECT name, state || ':' || migrations FROM planrun_fleet.targets"))
    assert set(rows.values()) == {"done:1"}, (rows, out, back)
    for tenant in TENANTS[:3]:
        if tenant != POISONED:
            assert current_revision(fleet["urls"][tenant]) == ["001"]
    assert "taken over by another worker" in back, back


@pytest.mark.tenants(10)
def test_workers_wait_for_the_control_database_to_come_back(fleet):
    """The control database refuses connections for a few seconds mid-fleet (a failover, a
    restart): the workers once exited 4; they wait (saying so) and finish the fleet."""
    import threading
    import time

    _small_fleet(fleet, 10)
    control_db = fleet["control"].rsplit("/", 1)[1]
    admin = fleet["control"].rsplit("/", 1)[0] + "/postgres"
    workers = [_worker(fleet, PLANRUN_FAULT="linger:migrate") for _ in range(2)]

    def outage() -> None:
        from planrun.plugins.clusters.cluster import wait_for

        done = (  # once a target is done (the table may not exist yet)
            "SELECT to_regclass('planrun_fleet.targets') IS NOT NULL AND (SELECT count(*) > 0 FROM pg_class "
            "WHERE oid = to_regclass('planrun_fleet.targets'))"
        )
        assert wait_for(lambda: query(fleet["control"], done)[0][0], timeout=120)
        assert wait_for(
            lambda: query(fleet["control"], "SELECT count(*) FROM planrun_fleet.targets WHERE state = 'done'")[0][0],
            timeout=120,
        )
        execute(admin, f'ALTER DATABASE "{control_db}" ALLOW_CONNECTIONS false')
        execute(admin, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{control_db}'")
        time.sleep(5)
        execute(admin, f'ALTER DATABASE "{control_db}" ALLOW_CONNECTIONS true')

    thread = threading.Thread(target=outage)
    thread.start()
    outputs = [worker.communicate(timeout=240)[0] for worker in workers]
    thread.join()
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    assert any("the fleet's control database cannot be reached" in out for out in outputs), outputs
    rows = dict(query(fleet["control"], "SELECT name, state || ':' || migrations FROM planrun_fleet.targets"))
    assert set(rows.values()) == {"done:1"}, rows


@pytest.mark.tenants(8)
def test_a_rerun_tries_a_failed_target_again(fleet):
    """The fleet once said failed forever: the same command again never retried a target. Now
    a rerun (no worker left) tries it again; fixed meanwhile, it is done, migrated once."""
    names = [fleet["names"]["t06"], fleet["names"][POISONED]]
    (fleet["plan"].parent / "tenants.txt").write_text("\n".join(names) + "\n")
    fleet["plan"].write_text(PLAN.replace("canary: 1", "canary: 0").replace("concurrency: 2", "concurrency: 1"))
    first = _worker(fleet)
    out = first.communicate(timeout=240)[0]
    assert first.returncode == 1 and f"failed: {fleet['names'][POISONED]} (" in out, out
    execute(fleet["urls"][POISONED], "DELETE FROM users WHERE name = 'poison'")  # the data fixed
    again = _worker(fleet)
    out = again.communicate(timeout=240)[0]
    assert again.returncode == 0, out
    rows = dict(query(fleet["control"], "SELECT name, state || ':' || migrations FROM planrun_fleet.targets"))
    assert rows == {name: "done:1" for name in names}, rows
    assert current_revision(fleet["urls"][POISONED]) == ["001"]
