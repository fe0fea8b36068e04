"""planrun's memory lives in the database it migrates: the record of every applied revision
(its file's sha256) is written in the revision's own transaction and checked by every apply,
wherever it runs, with whatever state directory."""

from __future__ import annotations

from conftest import current_revision, query

RECORDS = "SELECT revision, how FROM planrun.applied_revisions ORDER BY revision"


def test_revisions_applied_before_planrun_are_adopted_then_the_rest_recorded(demo, run_cli):
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert "created schema planrun in " in out
    assert "first contact: recorded 1 revision(s) applied without planrun as adopted (000)" in out
    assert query(demo.url, RECORDS) == [("000", "adopted"), ("001", "planrun"), ("002", "planrun")]
    sha = dict(query(demo.url, "SELECT revision, sha256 FROM planrun.applied_revisions"))
    import hashlib

    assert sha["001"] == hashlib.sha256((demo.versions / "001_add_user_status.py").read_bytes()).hexdigest()


def test_an_edited_applied_revision_is_refused_from_a_fresh_checkout_and_state_dir(demo, run_cli, tmp_path):
    assert run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
    path = demo.versions / "001_add_user_status.py"
    path.write_text(path.read_text() + "\n# edited after it was applied\n")
    demo.add_revision("003", "002", '    op.execute("SELECT 1")\n')
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", tmp_path / "another-machine")
    assert code == 2, out + err
    assert "revision 001 (versions/001_add_user_status.py) was applied by run " in out
    assert "but its file has changed since (sha256 " in out and "the migration history must not be rewritten" in out
    assert current_revision(demo.url) == ["002"]


def test_an_edited_adopted_revision_is_refused_too(demo, run_cli, tmp_path):
    assert run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
    path = demo.versions / "000_base.py"
    path.write_text(path.read_text() + "\n# rewritten history\n")
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", tmp_path / "fresh")
    assert code == 2, out + err
    assert "revision 000 (versions/000_base.py) was adopted at " in out and "but its file has changed since" in out


def test_a_failed_revision_leaves_no_record_and_a_downgrade_removes_records(demo, run_cli):
    demo.add_revision("003", "002", '    op.execute("SELECT 1/0")\n')
    path = demo.versions / "002_add_products_description_new.py"
    path.write_text(
        path.read_text().replace(
            "def downgrade() -> None:\n", "def downgrade() -> None:\n    raise RuntimeError('this downgrade fails')\n"
        )
    )
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 3, out + err
    # 003 failed (its transaction, record included, rolled back); 002's downgrade failed (same)
    assert current_revision(demo.url) == ["002"]
    assert query(demo.url, RECORDS) == [("000", "adopted"), ("001", "planrun"), ("002", "planrun")]


def test_a_rolled_back_run_leaves_the_records_where_they_were(demo, run_cli):
    demo.add_revision("003", "002", '    op.execute("SELECT 1/0")\n')
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err
    assert current_revision(demo.url) == ["000"]
    assert query(demo.url, RECORDS) == [("000", "adopted")]


def test_history_can_be_switched_off(demo, run_cli):
    plan = demo.write_plan(demo.plan.read_text() + "history: {enabled: false}\n")
    assert run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
    assert query(demo.url, "SELECT to_regnamespace('planrun')") == [(None,)]


def test_records_commit_with_their_revisions_even_when_the_runner_is_killed(demo):
    """kill -9 while revision 003 runs: 001 and 002 were committed, each with its record in the
    same transaction, so the records say exactly what alembic_version says."""
    from faults import kill9, no_planrun_backends, spawn_apply
    from planrun.plugins.clusters.cluster import wait_for

    demo.add_revision("003", "002", '    op.execute("SELECT pg_sleep(60)")\n')
    runner = spawn_apply(demo, demo.plan)
    assert wait_for(
        lambda: query(demo.url, "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'")[0][0],
        timeout=30,
    )
    kill9(runner)
    assert no_planrun_backends(demo.url)
    assert current_revision(demo.url) == ["002"]
    assert query(demo.url, RECORDS) == [("000", "adopted"), ("001", "planrun"), ("002", "planrun")]


def test_the_version_is_printed_and_in_every_run_record_and_notification(demo, run_cli, recorder, capsys):
    import json
    from pathlib import Path

    import pytest

    from planrun import __version__

    with pytest.raises(SystemExit) as exit_info:
        run_cli("--version")
    assert exit_info.value.code == 0 and capsys.readouterr().out == f"planrun {__version__}\n"
    plan = demo.write_plan(
        demo.plan.read_text().replace(
            "notify:\n", f"notify:\n  - webhook: {{url: '{recorder.url}/hook', on: [success]}}\n", 1
        )
    )
    assert run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
    (journal,) = Path(demo.state_dir, "runs").glob("*.jsonl")
    start = json.loads(journal.read_text().splitlines()[0])
    assert start["event"] == "run_start" and start["planrun_version"] == __version__
    assert [r.json()["planrun_version"] for r in recorder.requests] == [__version__]
