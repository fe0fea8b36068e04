"""Problems found when the project or the state directory is loaded are exit 2 from validate,
plan and apply alike, with the file (and line) to fix, never an internal error; the database
is not touched."""

from __future__ import annotations

import os

import pytest

from conftest import current_revision, table_contents


def _run_all(run_cli, demo, plan, *commands):
    results = {}
    for command in commands:
        extra = ["--yes"] if command == "apply" else []
        results[command] = run_cli(command, plan, *extra, "--state-dir", demo.state_dir)
    return results


def test_a_revision_that_does_not_compile(demo, run_cli):
    demo.add_revision("003", "002", '    op.execute("SELECT 1"\n')
    before = table_contents(demo.url)
    for command, (code, out, err) in _run_all(run_cli, demo, demo.plan, "validate", "plan", "apply").items():
        assert code == 2, (command, out, err)
        assert (
            "target.alembic.config: revision file ../migrations/versions/003_test.py:14: does not compile: "
            "SyntaxError: " in err
        ), (command, err)
    assert table_contents(demo.url) == before and current_revision(demo.url) == ["000"]


def test_a_missing_script_location(demo, run_cli):
    ini = demo.root / "migrations" / "alembic.ini"
    ini.write_text(ini.read_text().replace("script_location", "# script_location"))
    for command, (code, out, err) in _run_all(run_cli, demo, demo.plan, "validate", "plan", "apply").items():
        assert code == 2, (command, out, err)
        assert "target.alembic.config: ../migrations/alembic.ini: [alembic] has no script_location" in err


@pytest.mark.parametrize(
    "problem, message",
    [
        ("two-heads", "migrate.to: head is ambiguous, the project has 2 heads"),
        ("unknown-target", "migrate.to: zzz: "),
    ],
)
def test_graph_problems_are_refusals_not_failures(demo, run_cli, problem, message):
    plan = demo.plan
    if problem == "two-heads":
        demo.add_revision("003a", "002", '    op.execute("SELECT 1")\n')
        demo.add_revision("003b", "002", '    op.execute("SELECT 2")\n')
    else:
        plan = demo.write_plan(demo.plan.read_text().replace("  to: head", '  to: "zzz"'))
    before = table_contents(demo.url)
    results = _run_all(run_cli, demo, plan, "plan", "apply")
    for command, (code, out, err) in results.items():
        assert code == 2, (command, out, err)
        assert message in out + err, (command, out, err)
        assert "internal error" not in err
    assert table_contents(demo.url) == before and current_revision(demo.url) == ["000"]


@pytest.mark.parametrize("shape", ["a-file", "read-only"])
def test_an_unusable_state_directory(demo, run_cli, tmp_path, shape):
    state = tmp_path / "state-here"
    if shape == "a-file":
        state.write_text("not a folder")
    else:
        (state / "runs").mkdir(parents=True)
        os.chmod(state / "runs", 0o555)  # enough for a user; root writes anywhere, so it gets a read-only mount
    try:
        if shape == "read-only" and os.geteuid() == 0:
            code, out, err = _read_only_mount_apply(demo, run_cli, state)
        else:
            code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", state)
    finally:
        if (state / "runs").exists():
            os.chmod(state / "runs", 0o755)
    assert code == 2, out + err
    assert f"planrun: state directory {state}" in err and "cannot write the run's journal there" in err
    assert current_revision(demo.url) == ["000"]


def _read_only_mount_apply(demo, run_cli, state):
    """Root ignores file modes: bind-mount the folder read-only (skipped where mounting is not allowed)."""
    import subprocess

    if subprocess.run(["mount", "--bind", str(state), str(state)], capture_output=True).returncode != 0:
        pytest.skip("cannot bind-mount here (no privilege for mount): the a-file case covers the path")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(state)], check=True, capture_output=True)
        return run_cli("apply", demo.plan, "--yes", "--state-dir", state)
    finally:
        subprocess.run(["umount", str(state)], capture_output=True)
