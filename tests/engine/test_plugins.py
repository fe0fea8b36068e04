"""Plugins: a third-party check from the plan's ``plugins:`` list and from the entry-point
group, isolation of a broken plugin, and the autoload switch."""

from __future__ import annotations

import json
import textwrap

from conftest import current_revision
from planrun.engine.plugins import load_plugins

PLAN = """\
version: 1
name: acme
target: {{url: "${{DATABASE_URL}}", alembic: {{config: ../migrations/alembic.ini}}}}
plugins: [acme_checks]
checks:
  post:
    - {{max_rows: {{table: users, limit: {limit}}}}}
"""


def plan_with_plugins(demo, tmp_path, monkeypatch, plugins: list[str], **sources: str):
    """The test plan, its ``plugins:`` list ``plugins``; each of ``sources`` (module name -> its
    code) written to a module importable from the plan."""
    for module, code in sources.items():
        (tmp_path / f"{module}.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    return demo.write_plan(PLAN.format(limit=10).replace("[acme_checks]", f"[{', '.join(plugins)}]"))


def test_third_party_check_runs(demo, run_cli):
    plan = demo.write_plan(PLAN.format(limit=10))
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert "✓ max_rows users 10: 5 rows, limit 10" in out


def test_third_party_check_failure_rolls_back(demo, run_cli):
    plan = demo.write_plan(PLAN.format(limit=2))
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err
    assert "max_rows users 2: 5 rows, limit 2" in out
    assert current_revision(demo.url) == ["000"]


def test_third_party_check_config_errors_read_like_builtin_ones(demo, run_cli):
    plan = demo.write_plan(PLAN.format(limit="many") + "    - {max_rows: {table: users, limit: 1, tabel: x}}\n")
    code, out, err = run_cli("validate", plan)
    assert code == 2
    assert err == (
        f"{plan}:7:40: checks.post[0].max_rows.limit: expected a whole number, got 'many'\n"
        f"{plan}:8:43: checks.post[1].max_rows.tabel: unknown key (did you mean 'table'?)\n"
    )


def _fake_distribution(folder, name: str, entry_points: str) -> None:
    info = folder / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


def test_entry_point_plugins_load_in_isolation(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, "acme_planrun", "[planrun]\nacme = acme_checks\n")
    _fake_distribution(tmp_path, "broken_planrun", "[planrun]\nbroken = no_such_module_for_planrun\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = load_plugins(autoload=True)
    assert [str(f) for f in plugins.failures] == [
        "plugin broken (broken_planrun 1.0) failed to load: ModuleNotFoundError: No module named "
        "'no_such_module_for_planrun'"
    ]
    assert "max_rows" in plugins.registry("planrun_check_types", "check type")
    assert "sql" in plugins.registry("planrun_check_types", "check type")


def test_autoload_switch_keeps_only_builtins(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, "acme_planrun", "[planrun]\nacme = acme_checks\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PLANRUN_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins = load_plugins()
    types = plugins.registry("planrun_check_types", "check type")
    assert "max_rows" not in types
    assert {"sql", "row_count_unchanged", "no_nulls", "values_in"} <= set(types)


def test_the_readme_plugin_example_is_this_tested_plugin():
    """The example a newcomer copies is the code these tests run."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    example = re.search(
        r"```python\n# my_company/checks.py\n(.*?)```", (root / "docs" / "plugins.md").read_text(), re.S
    )
    module = (root / "tests" / "thirdparty" / "acme_checks.py").read_text()
    assert example and module.endswith(example.group(1))
    assert "from planrun.plugin import" in example.group(1) and "planrun.plugins" not in example.group(1)


def test_a_check_type_without_its_run_is_refused_naming_it(demo, run_cli, tmp_path, monkeypatch):
    plan = plan_with_plugins(
        demo,
        tmp_path,
        monkeypatch,
        ["half_done_checks"],
        half_done_checks=(
            "from planrun.plugin import CheckConfig, hookimpl\n\n\n"
            "class Unfinished(CheckConfig):\n    unfinished: str\n\n\n"
            "@hookimpl\ndef planrun_check_types():\n    return {'unfinished': Unfinished}\n"
        ),
    )
    code, out, err = run_cli("validate", plan)
    assert code == 2
    assert err == "planrun: check type 'unfinished' (half_done_checks.Unfinished) has no run()\n"


def test_a_plugin_failing_at_the_end_of_a_step_does_not_keep_the_others_from_hearing_it(
    demo, run_cli, tmp_path, monkeypatch
):
    """step_finished is where plugins stop what they started (the monitor's thread): each plugin
    is told, whatever the one called before it raised."""
    heard = tmp_path / "heard"
    (tmp_path / "cleanup_listener.py").write_text(
        "from planrun.plugin import hookimpl\n\n\n"
        f"@hookimpl\ndef planrun_step_finished(ctx, step, outcome, error):\n"
        f"    with open({str(heard)!r}, 'a') as out:\n        out.write(step.name + '\\n')\n"
    )
    (tmp_path / "broken_cleanup.py").write_text(
        "from planrun.plugin import hookimpl\n\n\n"
        "@hookimpl\ndef planrun_step_finished(ctx, step, outcome, error):\n    raise RuntimeError('cleanup bug')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plan = demo.write_plan(
        PLAN.format(limit=10).replace("[acme_checks]", "[acme_checks, cleanup_listener, broken_cleanup]")
    )
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err  # a plugin's cleanup never changes the outcome
    assert heard.read_text().split() == ["lock", "pre-checks", "migrate", "post-checks"]
    assert "after migrate (broken_cleanup): RuntimeError: cleanup bug" in out + err


def test_a_reader_that_stops_reading_is_not_an_internal_error(tmp_path):
    """``planrun lint --rules | head -1`` once ended in BrokenPipeError, exit 4."""
    import subprocess
    import sys

    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {sys.executable} -m planrun.engine.cli lint --rules | true"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_a_plugin_registering_a_check_type_another_has_fails_loudly_naming_both(demo, run_cli, tmp_path, monkeypatch):
    """A plan plugin with its own `sql` check type used to be dropped without a word (the first
    answer won); a duplicate key is an error naming both plugins and where they come from."""
    plan = plan_with_plugins(
        demo,
        tmp_path,
        monkeypatch,
        ["own_sql_check"],
        own_sql_check=(
            "from planrun.plugin import CheckConfig, hookimpl\n\n\n"
            "class OwnSql(CheckConfig):\n    sql: str\n\n"
            "    def run(self, ctx, baseline):\n        raise AssertionError\n\n\n"
            "@hookimpl\ndef planrun_check_types():\n    return {'sql': OwnSql}\n"
        ),
    )
    code, out, err = run_cli("validate", plan)
    assert code == 2, out + err
    assert err == (
        "planrun: check type 'sql' is registered by plugin check-sql (planrun 0.1.0) and by plugin own_sql_check "
        "(the plan's plugins: list): rename one, or leave one out (PLANRUN_DISABLE_PLUGINS=own_sql_check)\n"
    )


def test_plugins_are_left_out_by_name_and_hook_calls_traced(run_cli, monkeypatch):
    from conftest import ROOT

    monkeypatch.setenv("PLANRUN_DISABLE_PLUGINS", "")  # -p no:NAME sets it for the process: restored after
    code, out, err = run_cli("plugins")
    assert code == 0 and "\nnotify-slack " in "\n" + out
    code, out, err = run_cli("plugins", "-p", "no:notify-slack", "-p", "no:notify-webhook")
    assert code == 0 and "notify-slack" not in out and "notify-webhook" not in out and "notify-log" in out, out
    monkeypatch.setenv("PLANRUN_DISABLE_PLUGINS", "notify-log")
    code, out, err = run_cli("plugins")
    assert "notify-log" not in out and "notify-slack" in out
    monkeypatch.setenv("PLANRUN_TRACE_PLUGINS", "1")
    monkeypatch.setenv("PLANRUN_DISABLE_PLUGINS", "")
    code, out, err = run_cli("validate", ROOT / "plans" / "demo.yaml")
    assert code == 0 and "planrun_check_types" in err and "planrun_plan_sections" in err, err[:2000]


def test_a_plugin_subscribes_to_another_plugins_typed_event_and_receives_it(demo, run_cli, tmp_path, monkeypatch):
    heard = tmp_path / "heard.jsonl"
    monkeypatch.setenv("PLANRUN_WATCHER_FILE", str(heard))
    plan = demo.write_plan(PLAN.format(limit=10).replace("[acme_checks]", "[acme_checks, release_watcher]"))
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert [json.loads(line) for line in heard.read_text().splitlines()] == [
        {"start": ["000"], "target": "002", "pending": ["001", "002"]}
    ]
    monkeypatch.setenv("PLANRUN_WATCHER_FAILS", "1")  # a subscriber's bug is told and never stops the run
    demo.add_revision("003", "002", '    op.execute("SELECT 1")\n')
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0 and "journal event migrate_plan: subscriber " in err and "RuntimeError: watcher bug" in err


def test_an_event_name_two_plugins_declare_is_refused(demo, run_cli, tmp_path, monkeypatch):
    plan = plan_with_plugins(
        demo,
        tmp_path,
        monkeypatch,
        ["acme_checks", "own_events"],
        own_events=(
            "from dataclasses import dataclass\n\nfrom planrun.plugin import JournalEvent, hookimpl\n\n\n"
            "@dataclass(frozen=True)\nclass Mine(JournalEvent):\n    name = 'migrate_plan'\n\n\n"
            "@hookimpl\ndef planrun_journal_events():\n    return [Mine]\n"
        ),
    )
    code, out, err = run_cli("validate", plan)
    assert code == 2 and "journal event 'migrate_plan' is registered by plugin migrate (planrun 0.1.0)" in err, err


def test_planrun_plugins_shows_each_plugins_events_and_facts(run_cli):
    code, out, err = run_cli("plugins", "--format", "json")
    (migrate,) = [p for p in json.loads(out)["plugins"] if p["name"] == "migrate"]
    assert {"migrate_plan", "revision_applied"} <= set(migrate["events"]) and "Revisions" in migrate["facts"]


def test_a_missing_dependency_a_plugin_imports_where_used_is_named_not_an_internal_error(
    demo, run_cli, tmp_path, monkeypatch
):
    plan = plan_with_plugins(
        demo,
        tmp_path,
        monkeypatch,
        ["acme_checks", "lazy_dependency"],
        lazy_dependency=(
            "from planrun.plugin import hookimpl\n\n\n"
            "@hookimpl\ndef planrun_validate_plan(plan, plan_file):\n"
            "    import no_such_module_for_planrun  # noqa: F401\n    return []\n"
        ),
    )
    code, out, err = run_cli("validate", plan)
    assert (code, err) == (
        2,
        "planrun: plugin lazy_dependency needs the Python module 'no_such_module_for_planrun', which is not "
        "installed here: install it where planrun runs, or leave the plugin out (-p no:lazy_dependency)\n",
    )


def test_a_command_loads_its_plugins_once_and_the_next_command_afresh(demo, run_cli, tmp_path, monkeypatch):
    """The command line loads the plugins for its parser; the verb's plan and run use the same
    ones (they were loaded twice per command). The next command in the process loads again, so
    a plan's ``plugins:`` registered for one command never reach the next."""
    import planrun.engine.plugins as plugins_module

    scans = []
    real = plugins_module.entry_points
    monkeypatch.setattr(plugins_module, "entry_points", lambda **kw: scans.append(kw) or real(**kw))
    plan = demo.write_plan(PLAN.format(limit=10))
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert len(scans) == 1, scans
    code, out, err = run_cli("plugins")
    assert code == 0 and len(scans) == 2
    assert "acme_checks" not in out  # the first command's plan plugin stayed with it


def test_what_the_plan_says_stays_out_of_the_runs_record(demo, run_cli):
    """Plan facts (the migration's settings, the checks ...) are read by plugins through
    ``ctx.plan_facts``; the run's end records only what the run learnt. They were once
    published among the run's facts, and every journal's end held the plan's checks as text."""
    from planrun.engine.journal import read_journals

    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    (end,) = [r for records in read_journals(demo.state_dir) for r in records if r.get("event") == "run_end"]
    assert "Revisions" in end["facts"]  # what the run learnt is there
    stated = {"MigrationSettings", "BackupPolicy", "ReleasePhase", "ScratchDatabase", "PostChecks"}
    assert not stated & set(end["facts"]), sorted(end["facts"])
