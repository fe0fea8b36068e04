"""A plugin in tests/ adds a command, a plan section and a rollback method without touching
planrun: the seam is real only if a third party can do what the built-ins do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, current_revision, schema_of, table_contents
from planrun.engine.plugins import PluginError, load_plugins

THIRDPARTY = Path(__file__).resolve().parents[1] / "thirdparty"

PLAN = """\
version: 1
name: undo
target: {{url: "${{DATABASE_URL}}", alembic: {{config: ../migrations/alembic.ini}}}}
rollback: {{strategy: {strategy}}}
undo:
  sql: |
    ALTER TABLE users DROP COLUMN IF EXISTS nickname;
    UPDATE alembic_version SET version_num = '002';
checks:
  post:
    - {{name: no user is called bob, sql: "SELECT count(*) FROM users WHERE name = 'bob'", expect: 0}}
"""


def _installed(tmp_path: Path) -> dict:
    """The plugin installed as a distribution would be: an entry point in the planrun group."""
    info = tmp_path / "undo_script_planrun-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: undo-script-planrun\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[planrun]\nundo-script = undo_script\n")
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(THIRDPARTY), os.environ.get("PYTHONPATH", "")])
    )
    env.pop("PLANRUN_DISABLE_PLUGIN_AUTOLOAD", None)
    return env


def _planrun(env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "planrun.engine.cli", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_plugin_adds_a_command_that_help_lists(demo, tmp_path):
    env = _installed(tmp_path)
    plan = demo.write_plan(PLAN.format(strategy="undo-script"))
    help_text = _planrun(env, "--help").stdout
    assert "undo-script" in help_text and "print the plan's undo script" in help_text
    shown = _planrun(env, "undo-script", plan)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == "ALTER TABLE users DROP COLUMN IF EXISTS nickname;"
    without = dict(env, PLANRUN_DISABLE_PLUGIN_AUTOLOAD="1")
    assert "undo-script" not in _planrun(without, "--help").stdout


def test_its_section_and_rollback_method_are_validated_like_builtin_ones(demo, tmp_path):
    env = _installed(tmp_path)
    plan = demo.write_plan(PLAN.format(strategy="undo-scrpt"))
    refused = _planrun(env, "validate", plan)
    assert refused.returncode == 2
    assert refused.stderr == (
        f"{plan}:4:22: rollback.strategy: expected 'downgrade', 'undo-script', 'restore', "
        "'downgrade-then-restore' or 'undo-script-then-restore', got 'undo-scrpt'\n"
    )
    unknown = _planrun(
        dict(env, PLANRUN_DISABLE_PLUGIN_AUTOLOAD="1"), "validate", demo.write_plan(PLAN.format(strategy="downgrade"))
    )
    assert unknown.returncode == 2 and "undo: unknown key" in unknown.stderr


def test_its_rollback_method_undoes_a_failed_run_and_is_proven(demo, tmp_path):
    env = _installed(tmp_path)
    plan = demo.write_plan(
        PLAN.format(strategy="undo-script").replace(
            "UPDATE alembic_version", "DELETE FROM users WHERE name = 'bob';\n    UPDATE alembic_version"
        )
    )
    ok = _planrun(
        env, "apply", demo.plan, "--yes", "--state-dir", demo.state_dir
    )  # to 002 first: the undo returns there
    assert ok.returncode == 0, ok.stdout + ok.stderr
    demo.add_revision(
        "003",
        "002",
        "    op.add_column('users', sa.Column('nickname', sa.Text()))\n"
        "    op.execute(\"INSERT INTO users (name, email) VALUES ('bob', 'bob@example.com')\")\n",
        "    op.drop_column('users', 'nickname')\n",
    )
    schema, contents = schema_of(demo.url), table_contents(demo.url)
    result = _planrun(env, "apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "rollback: undo-script" in result.stdout and "ran the plan's undo script" in result.stdout
    assert "proven" in result.stdout
    assert current_revision(demo.url) == ["002"]
    assert schema_of(demo.url) == schema and table_contents(demo.url) == contents


def test_a_misspelled_hook_is_an_error_naming_the_plugin(demo, monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(THIRDPARTY))
    with pytest.raises(PluginError, match=r"plugin misspelled_hook: .*planrun_preflght"):
        load_plugins(autoload=False).load_module("misspelled_hook")
    plan = demo.write_plan(
        PLAN.format(strategy="downgrade")
        .replace("undo:\n", "plugins: [misspelled_hook]\nx:\n", 1)
        .replace(
            "x:\n  sql: |\n    ALTER TABLE users DROP COLUMN IF EXISTS nickname;\n"
            "    UPDATE alembic_version SET version_num = '002';\n",
            "",
        )
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(THIRDPARTY), os.environ.get("PYTHONPATH", "")]))
    refused = _planrun(env, "validate", plan)
    assert refused.returncode == 2
    assert "plugins[0]: cannot load plugin 'misspelled_hook': PluginError: plugin misspelled_hook: " in refused.stderr
    assert "planrun_preflght" in refused.stderr


def test_planrun_plugins_lists_each_plugin_with_its_hooks_and_names_a_broken_one(tmp_path):
    env = _installed(tmp_path)
    broken = tmp_path / "broken_planrun-1.0.dist-info"
    broken.mkdir()
    (broken / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-planrun\nVersion: 1.0\n")
    (broken / "entry_points.txt").write_text("[planrun]\nmisspelled = misspelled_hook\n")
    listed = _planrun(env, "plugins")
    assert listed.returncode == 1, listed.stdout + listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert rows["undo-script"].split(None, 3)[1:] == [
        "undo-script-planrun",
        "1.0",
        "commands, plan_sections, rollback_methods",
    ]
    assert "run_started" in rows["operator"] and "rollback_methods" in rows["migrate"]
    assert "misspelled" not in rows
    assert (
        "FAILED: plugin misspelled (broken-planrun 1.0) failed to load: PluginError: plugin misspelled:"
        in listed.stdout
    )


def test_every_public_name_resolves_and_lint_names_load_no_parser_until_used():
    """``planrun.plugin`` and ``planrun.plugin.lint`` load names on first use: each must exist
    where the map says, and importing the lint module alone imports no pglast."""
    import subprocess
    import sys

    import planrun.plugin
    import planrun.plugin.lint

    for module in (planrun.plugin, planrun.plugin.lint):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
    code = "import sys, planrun.plugin.lint; print('pglast' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _package_of(path: Path) -> str:
    """The built-in plugin a source file belongs to: its folder under planrun/plugins (or the
    module's own name for a one-file plugin)."""
    parts = path.relative_to(ROOT / "planrun" / "plugins").parts
    return parts[0] if len(parts) > 1 else path.stem


def test_no_built_in_plugin_reads_another_plugins_plan_section():
    """What one plugin needs of another's settings is a plan fact the other states
    (``planrun_plan_facts``: MigrationSettings, BackupPolicy, ReleasePhase ...), never a read of
    the other's section: its shape is the other's to change. Every ``plan.SECTION`` and
    ``getattr(plan, "SECTION"`` in a plugin's source is checked against who owns SECTION."""
    import re

    plugins = load_plugins(autoload=False)
    owners = {}
    for name, sections in plugins.by_plugin("planrun_plan_sections", items=_items()):
        source = Path(plugins.manager.get_plugin(name).__file__)
        for section in sections or {}:
            if "." not in section:  # target.alembic extends the engine's own target
                owners[section] = _package_of(source)
    assert {"migrate", "backup", "test", "lint", "checks", "phase"} <= set(owners), owners
    reads = re.compile(r"plan\.(\w+)\b|getattr\((?:ctx\.)?plan, \"(\w+)\"")
    crossed = []
    for path in sorted((ROOT / "planrun" / "plugins").rglob("*.py")):
        reader = _package_of(path)
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in reads.finditer(line):
                section = match[1] or match[2]
                if section in owners and owners[section] != reader:
                    crossed.append(f"{path.relative_to(ROOT)}:{number}: {reader} reads {owners[section]}'s {section}")
    assert not crossed, "\n".join(crossed)


def _items():
    from planrun.engine.plan.model import PlanItems

    return PlanItems(check=object)
