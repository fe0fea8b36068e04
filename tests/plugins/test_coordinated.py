"""Several databases in one plan: every target locked, checked and backed up before any
changes; a failure anywhere rolls back every target that moved, each proven; overlapping runs
never deadlock. Whole table contents are compared before and after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, copy_demo_migrations, current_revision, execute, schema_of, table_contents, upgrade

PLAN = """\
version: 1
name: pair
targets:
  billing: {{url: "${{BILLING_URL}}", alembic: {{config: ../migrations/alembic.ini}}}}
  orders: {{url: "${{ORDERS_URL}}", alembic: {{config: ../migrations/alembic.ini}}, migrate: {{to: "001"}}}}
coordinate: {coordinate}
checks:
  post:
    - {{name: every user has a status, sql: "SELECT count(*) FROM users WHERE status IS NULL", expect: 0}}
    - {{target: orders, name: orders keeps its users, sql: "SELECT count(*) FROM users", expect: "{expect}"}}
"""


class Pair:
    def __init__(self, root: Path, urls: dict[str, str], state_dir: str):
        self.root, self.urls, self.state_dir = root, urls, state_dir

    def plan(self, coordinate: str = "all-or-nothing", expect: str = "> 0", name: str = "pair.yaml") -> Path:
        path = self.root / "plans" / name
        path.write_text(PLAN.format(coordinate=coordinate, expect=expect))
        return path

    def looks(self) -> dict:
        return {name: (current_revision(url), schema_of(url), table_contents(url)) for name, url in self.urls.items()}


@pytest.fixture
def pair(tmp_path, pg_cluster, monkeypatch):
    """Two databases at the demo's base revision with its sample data, and the demo project."""
    root = tmp_path / "project"
    copy_demo_migrations(root / "migrations")
    (root / "plans").mkdir()
    urls = {}
    names = []
    for target in ("billing", "orders"):
        name = "t_" + uuid.uuid4().hex[:12]
        names.append(name)
        urls[target] = pg_cluster.create_database(name)
        upgrade(root / "migrations" / "alembic.ini", urls[target], "000")
        execute(urls[target], (ROOT / "tests" / "fixtures" / "sample_data.sql").read_text())
        monkeypatch.setenv(f"{target.upper()}_URL", urls[target])
    yield Pair(root, urls, str(tmp_path / "state"))
    for name in names:
        pg_cluster.drop_database(name)


def _records(state_dir: str) -> list[dict]:
    return [
        json.loads(line) for path in Path(state_dir, "runs").glob("*.jsonl") for line in path.read_text().splitlines()
    ]


def test_every_target_migrates_in_one_run(pair, run_cli):
    code, out, err = run_cli("apply", pair.plan(), "--yes", "--state-dir", pair.state_dir)
    assert code == 0, out + err
    assert current_revision(pair.urls["billing"]) == ["002"] and current_revision(pair.urls["orders"]) == ["001"]
    records = _records(pair.state_dir)
    assert len({r["run_id"] for r in records}) == 1  # one journal for the run
    ends = {r["target_key"]: r["outcome"] for r in records if r["event"] == "target_end"}
    assert ends == {"billing": "success", "orders": "success"}
    locked = [r["target_key"] for r in records if r["event"] == "step_end" and r["step"] == "lock"]
    migrated = [r["target_key"] for r in records if r["event"] == "step_end" and r["step"] == "migrate"]
    checked = [r["target_key"] for r in records if r["event"] == "step_end" and r["step"] == "pre-checks"]
    assert sorted(locked) == ["billing", "orders"] and migrated == ["billing", "orders"]
    first_migrate = next(i for i, r in enumerate(records) if r["event"] == "step_start" and r["step"] == "migrate")
    assert all(i < first_migrate for i, r in enumerate(records) if r["event"] == "step_end" and r["step"] == "lock")
    assert checked == [] or len(checked) == 2


def test_a_failure_on_the_second_target_rolls_both_back_proven(pair, run_cli):
    before = pair.looks()
    code, out, err = run_cli("apply", pair.plan(expect="0"), "--yes", "--state-dir", pair.state_dir)
    assert code == 1, out + err
    assert pair.looks() == before  # revision, schema and every row of both databases
    assert "orders: rollback: downgrade" in out and "billing: rollback: downgrade" in out
    records = _records(pair.state_dir)
    rollbacks = [r["target_key"] for r in records if r["event"] == "rollback_end" and r["ok"]]
    assert rollbacks == ["orders", "billing"]  # in reverse order
    ends = {r["target_key"]: r["outcome"] for r in records if r["event"] == "target_end"}
    assert ends == {"billing": "failed", "orders": "failed"}
    assert "orders: failed" in err or "orders: failed" in out


def test_independent_targets_roll_back_alone(pair, run_cli):
    before = pair.looks()
    code, out, err = run_cli("apply", pair.plan("independent", expect="0"), "--yes", "--state-dir", pair.state_dir)
    assert code == 1, out + err
    assert current_revision(pair.urls["billing"]) == ["002"]  # its run succeeded and stays
    assert pair.looks()["orders"] == before["orders"]
    ends = {r["target_key"]: r["outcome"] for r in _records(pair.state_dir) if r["event"] == "target_end"}
    assert ends == {"billing": "success", "orders": "failed"}


def test_a_check_naming_an_unknown_target_is_a_plan_error(pair, run_cli):
    plan = pair.plan()
    plan.write_text(plan.read_text().replace("target: orders", "target: ordres"))
    code, out, err = run_cli("validate", plan)
    assert code == 2
    assert err == f"{plan}:10:16: checks.post[1].target: unknown target 'ordres'; expected one of: billing, orders\n"


def test_two_overlapping_coordinated_runs_never_deadlock(pair, tmp_path):
    """The same two databases under other names, in the other order, started together and slowed
    down after each lock so that they interleave there: they never deadlock (the locks are taken
    in the databases' order, not the names'): one runs, then the other finds nothing to do."""
    slow = pair.root / "migrations" / "versions" / "001_add_user_status.py"
    slow.write_text(
        slow.read_text().replace("def upgrade():\n", "def upgrade():\n    op.execute('SELECT pg_sleep(2)')\n", 1)
    )
    first = pair.plan()
    first.write_text(first.read_text().replace("name: pair\n", "name: pair\nplugins: [fault_points]\n"))
    second = pair.root / "plans" / "swapped.yaml"
    second.write_text(
        "version: 1\nname: swapped\nplugins: [fault_points]\ntargets:\n"
        '  a_orders: {url: "${ORDERS_URL}", alembic: {config: ../migrations/alembic.ini}, migrate: {to: "001"}}\n'
        '  b_billing: {url: "${BILLING_URL}", alembic: {config: ../migrations/alembic.ini}}\n'
    )
    command = [
        sys.executable,
        "-m",
        "planrun.engine.cli",
        "apply",
        "--yes",
        "--wait",
        "20s",
        "--state-dir",
        pair.state_dir,
    ]
    runs = [
        subprocess.Popen(
            [*command[:4], str(plan), *command[4:]],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(ROOT / "tests" / "thirdparty"), PLANRUN_FAULT="linger:lock"),
        )
        for plan in (first, second)
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sum(out.count("nothing to do") for out in outputs) == 2  # the later run found both targets migrated
    assert sum(out.count("for another run's lock)") for out in outputs) >= 1  # ... after waiting for its locks


def test_a_database_named_twice_is_a_plan_error(pair, run_cli):
    plan = pair.plan()
    plan.write_text(plan.read_text().replace("${ORDERS_URL}", "${BILLING_URL}"))
    code, out, err = run_cli("validate", plan)
    assert code == 2
    assert err.startswith(f"{plan}:5:")
    assert "targets.orders.url: the same database as targets.billing" in err


ATOMIC = """\
version: 1
name: atomic-pair
plugins: [fault_points]
targets:
  billing: {url: "${BILLING_URL}", alembic: {config: ../migrations/alembic.ini}}
  orders: {url: "${ORDERS_URL}", alembic: {config: ../migrations/alembic.ini}}
coordinate: atomic
checks:
  post:
    - {name: every user has a nickname, sql: "SELECT count(*) FROM users WHERE nickname IS NULL", expect: 0}
"""


@pytest.fixture
def atomic(pair):
    """Both databases at 002, a transactional revision 003 pending, and an atomic plan."""
    from conftest import write_revision

    for url in pair.urls.values():
        upgrade(pair.root / "migrations" / "alembic.ini", url, "002")
    write_revision(
        pair.root / "migrations" / "versions",
        "003",
        "002",
        "    op.add_column('users', sa.Column('nickname', sa.Text()))\n"
        "    op.execute('UPDATE users SET nickname = name WHERE nickname IS NULL')\n",
        "    op.drop_column('users', 'nickname')\n",
    )
    plan = pair.root / "plans" / "atomic.yaml"
    plan.write_text(ATOMIC)
    pair.atomic_plan = plan
    return pair


def _prepared(url: str) -> list[tuple]:
    from conftest import query

    return query(url, "SELECT gid FROM pg_prepared_xacts WHERE database = current_database()")


def test_atomic_commits_every_target_together(atomic, run_cli):
    code, out, err = run_cli("apply", atomic.atomic_plan, "--yes", "--state-dir", atomic.state_dir)
    assert code == 0, out + err
    assert all(current_revision(url) == ["003"] for url in atomic.urls.values())
    assert "prepared as planrun-" in out and "committed planrun-" in out
    records = _records(atomic.state_dir)
    order = [(r["event"], r.get("target_key")) for r in records if r["event"] in ("prepared", "committed")]
    assert order == [("prepared", "billing"), ("prepared", "orders"), ("committed", "billing"), ("committed", "orders")]
    assert all(_prepared(url) == [] for url in atomic.urls.values())


def test_atomic_refuses_a_revision_that_commits_on_its_own(pair, run_cli):
    plan = pair.root / "plans" / "atomic.yaml"
    plan.write_text(ATOMIC.replace("alembic.ini}}\n  orders", 'alembic.ini}, migrate: {to: "001"}}\n  orders'))
    before = pair.looks()
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", pair.state_dir)
    assert code == 2, out + err
    assert "coordinate: atomic runs every migration in one transaction, and revision 001" in out + err
    assert "CONCURRENTLY" in out + err
    assert pair.looks() == before


def test_atomic_failure_on_the_second_target_commits_nowhere(atomic, run_cli):
    from conftest import execute

    execute(atomic.urls["orders"], "ALTER TABLE users ADD COLUMN nickname text")  # 003 fails there
    before = atomic.looks()
    code, out, err = run_cli("apply", atomic.atomic_plan, "--yes", "--state-dir", atomic.state_dir)
    assert code == 1, out + err
    assert atomic.looks() == before
    events = [(r["event"], r.get("target_key")) for r in _records(atomic.state_dir)]
    assert ("prepared", "billing") in events and ("prepared_rolled_back", "billing") in events
    assert ("committed", "billing") not in events
    assert all(_prepared(url) == [] for url in atomic.urls.values())


@pytest.mark.parametrize("fault, committed", [("pause:migrate@orders", False), ("pause:commit@orders", True)])
def test_atomic_killed_between_prepare_and_commit_is_settled_by_recover(atomic, run_cli, tmp_path, fault, committed):
    """kill -9 after the first PREPARE (nothing committed anywhere: every target rolls back) and
    after the first COMMIT PREPARED (committed on billing: orders must commit too); either way
    recover leaves both targets alike, then back where they started, proven."""
    from faults import kill9, wait_for_file

    before = atomic.looks()
    marker = tmp_path / "paused"
    env = dict(
        os.environ, PYTHONPATH=str(ROOT / "tests" / "thirdparty"), PLANRUN_FAULT=fault, PLANRUN_FAULT_MARKER=str(marker)
    )
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "planrun.engine.cli",
            "apply",
            str(atomic.atomic_plan),
            "--yes",
            "--state-dir",
            atomic.state_dir,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert wait_for_file(marker), runner.communicate(timeout=5)[0]
    kill9(runner)
    assert [g[0].split("-")[-1] for g in _prepared(atomic.urls["billing"])] == ([] if committed else ["billing"])
    assert current_revision(atomic.urls["billing"]) == (["003"] if committed else ["002"])
    code, out, err = run_cli("apply", atomic.atomic_plan, "--yes", "--state-dir", atomic.state_dir)
    assert code == 2, out + err  # refused while in doubt
    code, out, err = run_cli("recover", atomic.atomic_plan, "--yes", "--state-dir", atomic.state_dir)
    assert code == 0, out + err
    decision = "committing the rest" if committed else "rolling them all back"
    assert decision in out, out
    assert all(_prepared(url) == [] for url in atomic.urls.values())
    assert atomic.looks() == before  # then each target rolled back to where the run started, proven
    code, out, err = run_cli("apply", atomic.atomic_plan, "--yes", "--state-dir", atomic.state_dir)
    assert code == 0, out + err
    assert all(current_revision(url) == ["003"] for url in atomic.urls.values())


def test_a_commit_prepared_that_fails_is_left_in_doubt_named_and_settled(atomic, run_cli, monkeypatch):
    """COMMIT PREPARED fails on the second target (no kill): it once said "a: not changed" of
    the target that had committed, status exited 0, recover found nothing, later applies were
    refused and the rows stayed locked. Now: retried within rollback.within, each target's line
    is true, status names the prepared transaction (exit 1), recover commits it as decided."""
    atomic.atomic_plan.write_text(ATOMIC + "rollback: {within: 2s}\n")
    monkeypatch.setenv("PLANRUN_FAULT", "fail-commit:commit@orders")
    code, out, err = run_cli("apply", atomic.atomic_plan, "--yes", "--state-dir", atomic.state_dir)
    assert code == 3, out + err
    assert "billing: committed" in out, out
    assert "orders: in doubt: its change, kept open, could not be committed (OperationalError: server closed" in out
    assert "the run decided to commit: `planrun recover" in out
    records = _records(atomic.state_dir)
    events = [(r["event"], r.get("target_key")) for r in records]
    decided = [i for i, e in enumerate(events) if e[0] == "commit_decision"]
    first_commit = events.index(("committed", "billing"))
    assert {events[i][1] for i in decided} >= {"billing", "orders"} and max(decided) < first_commit
    assert ("commit_retry", "orders") in events
    assert current_revision(atomic.urls["billing"]) == ["003"] and len(_prepared(atomic.urls["orders"])) == 1
    from conftest import query

    stored = query(atomic.urls["orders"], "SELECT count(*) FROM planrun.events WHERE event = 'commit_decision'")
    assert stored == [(1,)]  # durable in the target's own store too

    monkeypatch.delenv("PLANRUN_FAULT")
    code, out, err = run_cli("status", atomic.atomic_plan)
    assert code == 1, out + err
    assert "in doubt" in out and "planrun-" in out

    code, out, err = run_cli("recover", atomic.atomic_plan, "--yes", "--state-dir", atomic.state_dir)
    assert code == 0, out + err
    assert "it had decided to commit: committing the rest" in out, out
    assert all(current_revision(url) == ["003"] for url in atomic.urls.values())
    assert all(_prepared(url) == [] for url in atomic.urls.values())
    code, out, err = run_cli("apply", atomic.atomic_plan, "--yes", "--state-dir", atomic.state_dir)
    assert code == 0, out + err


def test_a_commit_prepared_that_fails_once_is_retried(atomic, run_cli, monkeypatch):
    monkeypatch.setenv("PLANRUN_FAULT", "fail-commit-once:commit@orders")
    code, out, err = run_cli("apply", atomic.atomic_plan, "--yes", "--state-dir", atomic.state_dir)
    assert code == 0, out + err
    assert ("commit_retry", "orders") in [(r["event"], r.get("target_key")) for r in _records(atomic.state_dir)]
    assert all(current_revision(url) == ["003"] for url in atomic.urls.values())


def test_atomic_killed_between_commits_of_a_data_only_revision_commits_the_rest(atomic, run_cli, tmp_path):
    """The recorded decision settles it, not schema snapshots: a data-only revision changes no
    schema, and recover once decided "committed nowhere" and undid the committed target."""
    from conftest import write_revision
    from faults import spawn_apply, wait_for_file

    write_revision(
        atomic.root / "migrations" / "versions",
        "003",
        "002",
        "    op.execute(\"UPDATE users SET name = name || '!' WHERE id > 0\")\n",
        "    op.execute(\"UPDATE users SET name = rtrim(name, '!') WHERE id > 0\")\n",
    )
    atomic.atomic_plan.write_text(ATOMIC.split("checks:")[0])
    marker = tmp_path / "paused"

    class Demo:  # what spawn_apply needs
        url, state_dir = atomic.urls["billing"], atomic.state_dir

    runner = spawn_apply(Demo, atomic.atomic_plan, fault="pause:commit@orders", marker=marker)
    assert wait_for_file(marker), runner.communicate(timeout=5)[0]
    from faults import kill9

    kill9(runner)
    assert current_revision(atomic.urls["billing"]) == ["003"] and len(_prepared(atomic.urls["orders"])) == 1
    code, out, err = run_cli("recover", atomic.atomic_plan, "--yes", "--state-dir", atomic.state_dir)
    assert "it had decided to commit: committing the rest" in out, out + err
    assert all(_prepared(url) == [] for url in atomic.urls.values())
    # both alike: committed on both, then recovered (rolled back) both to where the run started
    assert current_revision(atomic.urls["billing"]) == current_revision(atomic.urls["orders"])


def test_lint_and_test_go_through_every_project_of_the_plan(pair, run_cli, pg_cluster):
    code, out, err = run_cli("lint", pair.plan())
    assert code == 0 and "3 revisions linted" in out, out + err  # the one project both targets share, once
    code, out, err = run_cli("test", pair.plan(), "--url", pg_cluster.url("postgres"))
    assert code == 0, out + err
    assert "3 of 3 revisions round-tripped" in out


def test_the_dry_run_and_status_go_through_every_target(pair, run_cli):
    before = pair.looks()
    code, out, err = run_cli("plan", pair.plan(), "--state-dir", pair.state_dir)
    assert code == 0, out + err
    assert "billing: lock: lock" in out and "orders: migrate: migrate" in out
    assert "billing: revisions" in out and "orders: revisions" in out
    code, out, err = run_cli("status", pair.plan())
    assert code == 0, out + err
    assert "billing: revisions:" in out and "orders: revisions:" in out
    assert pair.looks() == before


def test_a_lock_lost_on_one_target_stops_the_run_and_rolls_back_what_moved(pair, run_cli, monkeypatch):
    """The lock of billing (migrated first) is ended from outside right after its migration:
    the run must not go on unlocked anywhere, and billing is rolled back and proven."""
    before = pair.looks()
    plan = pair.plan()
    plan.write_text(plan.read_text().replace("name: pair\n", "name: pair\nplugins: [fault_points]\n"))
    monkeypatch.setenv("PLANRUN_FAULT", "drop-lock:migrate@billing")
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", pair.state_dir)
    assert code == 1, out + err
    assert "lock on" in out and "was lost" in out
    assert "billing: rollback: downgrade" in out and "proven" in out
    assert pair.looks() == before


def test_no_password_reaches_the_console_or_the_journal(pair, run_cli):
    from urllib.parse import urlsplit

    password = urlsplit(pair.urls["billing"]).password
    assert password and len(password) >= 8
    code, out, err = run_cli(
        "apply", pair.plan(expect="0"), "--yes", "--state-dir", pair.state_dir
    )  # fails, rolls back
    assert code == 1, out + err
    journals = "".join(path.read_text() for path in Path(pair.state_dir, "runs").glob("*.jsonl"))
    assert "billing" in journals and password not in out + err + journals


def test_atomic_refuses_to_prepare_what_env_py_committed_on_its_own_connection(atomic, run_cli):
    """An env.py that ignores config.attributes['connection'] commits its change alone: the run
    must say so instead of preparing an empty transaction, and roll every target back."""
    env_py = atomic.root / "migrations" / "env.py"
    text = env_py.read_text()
    assert 'config.attributes.get("connection") or ' in text
    env_py.write_text(text.replace('config.attributes.get("connection") or ', ""))
    before = atomic.looks()
    code, out, err = run_cli("apply", atomic.atomic_plan, "--yes", "--state-dir", atomic.state_dir)
    assert code == 1, out + err
    assert "env.py migrated on a connection of its own" in out + err
    assert atomic.looks() == before
    assert all(_prepared(url) == [] for url in atomic.urls.values())
