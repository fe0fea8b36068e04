"""planrun test at volume: generated rows before every revision, the locks each revision held
measured from pg_locks, clients timed, and test.max_lock_hold failing the revision that holds
ACCESS EXCLUSIVE through a full-table UPDATE, while the safe route for the same change passes."""

from __future__ import annotations

import json

from conftest import write_revision

CREATE = '    op.create_table("items", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("n", sa.Integer))\n'
DROP = '    op.drop_table("items")\n'
ROUTES = {
    # ADD COLUMN takes ACCESS EXCLUSIVE, and the UPDATE of every row runs while the
    # transaction still holds it: every reader and writer of items waits for the whole UPDATE
    "dangerous": '    op.add_column("items", sa.Column("flag", sa.Boolean))\n'
    '    op.execute("UPDATE items SET flag = true")\n',
    # the column added alone (the lock for a moment), then batches committed one by one
    "safe": '    op.add_column("items", sa.Column("flag", sa.Boolean))\n'
    '    zdt.batched_backfill("items", set={"flag": "true"}, batch_size=5000)\n',
}


def _project(tmp_path, route: str):
    from conftest import copy_demo_migrations

    root = copy_demo_migrations(tmp_path / route)
    for old in (root / "versions").glob("*.py"):
        old.unlink()
    write_revision(root / "versions", "a1", None, CREATE, DROP)
    write_revision(root / "versions", "a2", "a1", ROUTES[route], '    op.drop_column("items", "flag")\n')
    plan = root / "plan.yaml"
    plan.write_text(
        "version: 1\nname: volume\ntarget: {url: '${DATABASE_URL}', alembic: {config: alembic.ini}}\n"
        "test:\n  data: {rows: 300000, seed: 3}\n  load: {rate: 100, clients: 2}\n"
        "  max_lock_hold: 150ms\n  max_client_wait: 5s\n  drift: false\n"
    )
    return plan


def _run(run_cli, pg_cluster, tmp_path, route):
    plan = _project(tmp_path, route)
    report_path = tmp_path / f"{route}.json"
    code, out, err = run_cli("test", plan, "--url", pg_cluster.url("postgres"), "--json-report", report_path)
    cases = {c["revision"]: c for c in json.loads(report_path.read_text())["cases"] if c["suite"] == "stairway"}
    return code, out, err, cases


def test_the_lock_held_through_a_full_update_fails_with_its_measure(run_cli, pg_cluster, tmp_path):
    code, out, err, cases = _run(run_cli, pg_cluster, tmp_path, "dangerous")
    assert code == 1, out + err
    failed = cases["a2"]
    assert failed["outcome"] == "failed"
    message = failed["message"]
    assert message.startswith("upgrade ACCESS EXCLUSIVE on items held ") and "(max_lock_hold 150 ms)" in message
    held_ms = float(message.split(" held ")[1].split(" ms")[0])
    assert held_ms > 150
    assert "taken at: ALTER TABLE items ADD COLUMN flag BOOLEAN" in message
    assert "held through: UPDATE items SET flag = true" in message
    # measured on generated rows: the table held them before the revision ran
    upgrade = failed["measures"]["upgrade"]
    assert upgrade["locks"][0]["mode"] == "ACCESS EXCLUSIVE" and upgrade["locks"][0]["existed"] is True
    assert upgrade["clients"]["transactions"] > 0 and upgrade["clients"]["baseline_p99_ms"] is not None
    # the first revision created the table: its own locks on it block no one and are not judged
    assert cases["a1"]["outcome"] == "passed"
    assert "at volume: locks and clients" in out


def test_the_safe_route_for_the_same_change_passes_and_keeps_every_row(run_cli, pg_cluster, tmp_path):
    code, out, err, cases = _run(run_cli, pg_cluster, tmp_path, "safe")
    assert code == 0, out + err
    upgrade = cases["a2"]["measures"]["upgrade"]
    longest = max((lock["ms"] for lock in upgrade["locks"] if lock["existed"]), default=0)
    assert longest < 150, upgrade["locks"]
    assert upgrade["seconds"] > 0.1  # it did update 300,000 rows, in batches
    # the round trip compared every row of the 300,000: the downgrade kept them all
    assert "2 of 2 revisions round-tripped; all passed" in out
