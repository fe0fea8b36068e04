"""A damaged, half-written or killed backup is never trusted, never crashes planrun and never
leaves files behind: corruption is "backup invalid" (exit 1) at every depth, a failed backup
removes its folder, a killed one is swept by the next run, and no password file exists."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import current_revision, table_contents
from corrupt_backup import damage
from faults import kill9, leftover_secret_files, spawn_apply, wait_for_file, with_fault_plugin

BACKUP = "backup: {{to: \"{to}/{{run_id}}\", verify: checksum}}\n"


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

    execute(demo.url, "CREATE ROLE dumper LOGIN PASSWORD 'dumper-pw'; GRANT USAGE ON SCHEMA public TO dumper; "
                      "GRANT SELECT ON users, alembic_version TO dumper")  # products is unreadable: pg_dump fails on it
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
        assert "run failed at backup" in out and "nothing was changed" in out, out
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
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert "removed what killed runs left behind: 1 half-written backup(s)" in out
    assert not folder.exists()
    assert (stranger / "keep.txt").exists()
    assert current_revision(demo.url) == ["002"]


def _target(demo) -> str:
    from planrun.engine.redact import describe_url

    return describe_url(demo.url)
