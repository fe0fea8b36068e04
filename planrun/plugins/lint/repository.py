"""Repository-wide lint defaults from ``[tool.planrun.lint]`` in the nearest ``pyproject.toml``
above the Alembic project: severities of non-destructive rules, paths to leave out, and
``since`` (the revision up to which a project adopting lint has old history). A plan's own
``lint:`` section overrides them; destructive rules stay plan-only."""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from planrun.plugin import UsageError


@dataclass
class RepositoryDefaults:
    rules: dict[str, str] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)  # globs, relative to the pyproject.toml's folder
    since: str | None = None
    root: Path | None = None  # the folder of the pyproject.toml

    def excluded(self, path: str) -> bool:
        if self.root is None:
            return False
        try:
            relative = Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return False
        return any(fnmatch.fnmatch(relative, pattern) for pattern in self.exclude)


def repository_defaults(start: Path, rules: dict) -> RepositoryDefaults:
    """``rules``: the rule book, to refuse unknown ids and destructive rules."""
    for folder in [start.resolve(), *start.resolve().parents]:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            return _read(pyproject, rules)
    return RepositoryDefaults()


def _read(pyproject: Path, RULES: dict) -> RepositoryDefaults:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{pyproject}: {exc}") from None
    section = data.get("tool", {}).get("planrun", {}).get("lint", {})
    where = f"{pyproject}: [tool.planrun.lint]"
    rules = section.get("rules", {})
    for rule, severity in rules.items():
        if rule not in RULES:
            raise UsageError(f"{where} rules.{rule}: no such rule (see planrun lint --rules)")
        if RULES[rule].destructive:
            raise UsageError(f"{where} rules.{rule}: a destructive rule can only be allowed by a plan (lint.allow)")
        if severity not in ("error", "warning", "off"):
            raise UsageError(f"{where} rules.{rule}: expected error, warning or off, got {severity!r}")
    since = section.get("since")
    return RepositoryDefaults(dict(rules), list(section.get("exclude", [])), since, pyproject.parent.resolve())
