"""A damaged, half-written or killed backup is never trusted, never crashes planrun and never
leaves files behind: corruption is "backup invalid" (exit 1) at every depth, a failed backup
removes its folder, a killed one is swept by the next run, and no password file exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from corrupt_backup import damage

from conftest import current_revision, query, table_contents
from faults import kill9, leftover_secret_files, spawn_apply, wait_for_file, with_fault_plugin

BACKUP = 'backup: {{to: "{to}/{{run_id}}", verify: checksum}}\n'


def backup_plan(demo, to: Path, faults: bool = False, checks: bool = True) -> Path:
    text = demo.plan.read_text().replace("rollback:", BACKUP.format(to=to) + "rollback:", 1)
    if not checks:
        text = re.sub(r"(?m)^checks:\n(?:  .*\n)+", "", text)
    return demo.write_plan(with_fault_plugin(text) if faults else text, "backup.yaml")


@pytest.mark.parametrize("depth", ["checksum", "read", "restore"])
@pytest.mark.parametrize("mode", ["flip", "truncate"])
def test_a_damaged_backup_is_invalid_at_every_depth_never_an_internal_error(demo, run_cli, tmp_path, depth, mode):
    plan = backup_plan(demo, tmp_path / "b")
    assert run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
    (folder,) = (tmp_path / "b").iterdir()
    damage(str(folder), mode)
    code, out, err = run_cli("verify-backup", plan, "--backup", folder.name, "--depth", depth)
    if mode == "truncate" and depth == "checksum":
        assert code == 0  # the manifest was rewritten to match: only reading the archive can tell
        return
    assert code == 1, out + err
    assert "planrun: backup invalid: " in err, err
    assert "internal error" not in err


def test_a_failed_backup_leaves_no_partial_folder(demo, run_cli, tmp_path):
    """The target's server refuses pg_dump half-way (a table it may not read): the run stops
    before migrating and the backup's folder is gone."""
    from conftest import execute

    execute(
        demo.url,
        "CREATE ROLE dumper LOGIN PASSWORD 'dumper-pw'; GRANT USAGE ON SCHEMA public TO dumper; "
        "GRANT SELECT ON users, alembic_version TO dumper",
    )  # products is unreadable: pg_dump fails on it
    try:
        from urllib.parse import urlsplit

        parts = urlsplit(demo.url)
        url = f"postgresql://dumper:dumper-pw@{parts.hostname}:{parts.port}{parts.path}"
        plan = backup_plan(demo, tmp_path / "b", checks=False)
        import os

        os.environ["DATABASE_URL"], saved = url, os.environ["DATABASE_URL"]
        try:
            code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
        finally:
            os.environ["DATABASE_URL"] = saved
        assert code == 1, out + err
        assert "run failed at backup" in out and "it stopped before any step that changes the target" in out, out
        assert "dumper-pw" not in out + err
        assert not any((tmp_path / "b").iterdir()), list((tmp_path / "b").rglob("*"))
    finally:
        execute(demo.url, "DROP OWNED BY dumper; DROP ROLE dumper")


def test_a_killed_backup_is_swept_by_the_next_run(demo, run_cli, tmp_path):
    plan = backup_plan(demo, tmp_path / "b", faults=True)
    marker = tmp_path / "paused"
    # the backup step's own work is done by the time verify-backup starts; kill there, then
    # make its folder look half-written (no manifest), as a kill inside pg_dump leaves it
    runner = spawn_apply(demo, plan, "pause:verify-backup", marker)
    assert wait_for_file(marker)
    kill9(runner)
    (folder,) = (tmp_path / "b").iterdir()
    (folder / "manifest.json").unlink()
    (folder / "writing.json").write_text(json.dumps({"database": "elsewhere:1/x", "host": "h", "pid": 1}))
    stranger = tmp_path / "b" / "not-planruns"
    stranger.mkdir()
    (stranger / "keep.txt").write_text("a folder planrun did not write is never touched")
    assert leftover_secret_files() == []
    marker.unlink()
    (folder / "writing.json").write_text(json.dumps({"database": _target(demo), "host": "h", "pid": 1}))
    code, out, err = run_cli("recover", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0 and "it had not reached a step that changes the target" in out, out + err
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert "removed what killed runs left behind: 1 half-written backup(s)" in out
    assert not folder.exists()
    assert (stranger / "keep.txt").exists()
    assert current_revision(demo.url) == ["002"]


def _target(demo) -> str:
    from planrun.engine.redact import describe_url

    return describe_url(demo.url)


def test_a_full_disk_leaves_no_partial_dump(demo, run_cli, tmp_path):
    """The backup's filesystem fills up half-way through the dump (a 256 KiB tmpfs, 2 MB of
    incompressible rows): the run stops before migrating and nothing of the dump remains."""
    import subprocess

    from conftest import execute

    small = tmp_path / "small"
    small.mkdir()
    if (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)], capture_output=True).returncode
        != 0
    ):
        pytest.skip(
            "mounting a small tmpfs needs privileges this machine does not give; unreachable storage is covered in "
            "tests/plugins/test_backup.py"
        )
    try:
        execute(
            demo.url,
            "CREATE TABLE blobs (id int PRIMARY KEY, data bytea); "
            "INSERT INTO blobs SELECT g, decode(md5(g::text) || md5((g * 7)::text), 'hex') FROM generate_series(1, "
            "60000) g",
        )
        before = table_contents(demo.url)
        plan = backup_plan(demo, small / "b")
        code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
        assert code == 1, out + err
        assert "run failed at backup" in out and "No space left on device" in out, out
        assert "it stopped before any step that changes the target" in out
        assert not (small / "b").exists() or not any((small / "b").iterdir()), list((small / "b").rglob("*"))
        assert current_revision(demo.url) == ["000"] and table_contents(demo.url) == before
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)


def test_a_backup_that_disappears_before_the_rollback_is_refused_before_anything_is_dropped(demo, run_cli, tmp_path):
    """The verified backup is deleted from storage while the migration runs; the post-checks
    fail and the plan rolls back by restore only: the restore refuses before clearing anything,
    and the run says a human must act (exit 3)."""
    import shutil

    demo.add_revision(
        "003",
        "002",
        "    import shutil\n    if not op.get_context().as_sql:  # not while lint renders it\n        "
        f'shutil.rmtree({str(tmp_path / "b")!r})\n    op.add_column("users", sa.Column("nick", sa.Text()))\n',
        '    op.drop_column("users", "nick")\n',
    )
    text = (
        demo.plan.read_text()
        .replace("values: [active, suspended]", "values: [suspended]")
        .replace("strategy: downgrade", "strategy: restore")
    )
    plan = demo.write_plan(text.replace("rollback:", BACKUP.format(to=tmp_path / "b") + "rollback:", 1), "gone.yaml")
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 3, out + err
    assert "rollback: restore" in out and "backup invalid: dump.pgc.zst is missing from" in out, out
    assert "A human must act" in out
    assert current_revision(demo.url) == ["003"], "nothing was dropped for a restore that could not happen"
    assert query(demo.url, "SELECT count(*) FROM users") == [(5,)]
    shutil.rmtree(tmp_path / "b", ignore_errors=True)
