"""The journal's contract: every record is a declared event type with its declared fields. A
reader (another plugin, ``recover``, ``status``) relies on a type, never on a word two plugins
must spell alike; these tests fail when a record is written without a type, when a type is
left undeclared, or when a field is recorded that its type does not have."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import pkgutil
from pathlib import Path

import pytest

import planrun
from planrun.engine.journal import Journal, read_run
from planrun.engine.journal_events import DeclaredEvents, JournalEvent, UndeclaredEvent
from planrun.engine.plugins import load_plugins
from planrun.engine.run_events import StepEnded, StepStarted

PACKAGE = Path(planrun.__file__).resolve().parent
JOURNALS = {"journal.py"}  # the journals themselves write what emit hands them


def _record_calls_with_a_name(source: str) -> list[int]:
    """Lines that call ``something.record(<name>, ...)``: a record written by its name alone."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "record"
            and isinstance(node.func.value, (ast.Attribute, ast.Name))
            and "journal" in ast.unparse(node.func.value)
        ):
            lines.append(node.lineno)
    return lines


def test_no_record_is_written_by_its_name_alone():
    found = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name not in JOURNALS
        for line in _record_calls_with_a_name(path.read_text(encoding="utf-8"))
    ]
    assert not found, f"journal records written by name, not through ctx.journal.emit(SomeEvent(...)): {found}"


def test_the_check_itself_finds_a_record_by_name():
    assert _record_calls_with_a_name('ctx.journal.record("swept", files=1)\n') == [1]


def _every_event_type() -> set[type]:
    for module in pkgutil.walk_packages([str(PACKAGE)], "planrun."):
        if ".tests" in module.name:
            continue
        try:
            importlib.import_module(module.name)
        except ImportError:  # an optional dependency's module (apprise ...) that is not installed
            continue
    kinds, todo = set(), [JournalEvent]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("planrun.") and dataclasses.is_dataclass(sub):
                kinds.add(sub)
            todo.append(sub)
    return kinds


def test_every_event_type_of_planrun_is_declared_by_the_engine_or_a_plugin():
    declared = set(load_plugins().journal_events().values())
    undeclared = sorted(f"{k.__module__}.{k.__qualname__}" for k in _every_event_type() - declared)
    assert not undeclared, f"event types no plugin returns from planrun_journal_events: {undeclared}"


def test_event_names_are_snake_case_or_kept_from_earlier_journals():
    names = load_plugins().journal_events()
    kept = {"restore-speed"}  # earlier journals' spelling, still read for the rollback estimate
    assert not [n for n in names if n not in kept and not n.replace("_", "").isalnum()], sorted(names)


@pytest.fixture
def journal(tmp_path):
    journal = Journal(str(tmp_path), "20261202T000000000-abcdef")
    journal.declare(DeclaredEvents(load_plugins().journal_events(), strict=True))
    return journal


def test_a_declared_event_is_recorded_and_read_back_by_type(journal, tmp_path):
    journal.emit(StepStarted("migrate", "change"))
    journal.emit(StepEnded("rollback-restore", "rollback", "ok", 1.5, method="restore"))
    records = read_run(str(tmp_path), journal.run_id)
    assert [e.method for e in StepEnded.all_in(records)] == ["restore"]
    assert StepStarted.last_in(records) == StepStarted("migrate", "change")


def test_an_undeclared_event_is_an_error_naming_it(journal):
    with pytest.raises(UndeclaredEvent, match="'migrate_plan_v2' is not declared"):
        journal.record("migrate_plan_v2", start=[])


def test_a_field_its_type_lacks_is_an_error_naming_the_field_and_the_type(journal):
    with pytest.raises(UndeclaredEvent, match="revison.*StepStarted"):
        journal.record("step_start", step="migrate", phase="change", revison="a1")


def test_outside_strict_mode_a_third_partys_word_is_a_warning_once_and_is_kept(tmp_path, capsys):
    journal = Journal(str(tmp_path), "20261202T000000000-fedcba")
    journal.declare(DeclaredEvents(load_plugins().journal_events(), strict=False))
    journal.record("my_plugin_did_it", n=1)
    journal.record("my_plugin_did_it", n=2)
    assert capsys.readouterr().err.count("'my_plugin_did_it' is not declared") == 1
    assert [r["n"] for r in read_run(str(tmp_path), journal.run_id)] == [1, 2]
