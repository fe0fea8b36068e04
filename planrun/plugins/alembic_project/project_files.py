"""A look at the Alembic project's files that needs no Alembic: run by ``validate`` (which must
stay fast and import neither Alembic nor SQLAlchemy), so a missing ``alembic.ini``, a missing
``script_location`` or a revision file that does not compile is a plan problem (exit 2, with
the file and line), not a failure half-way through a run.

It reads the ini as Alembic does (``%(here)s`` is the ini's folder) and compiles every revision
file of the static version locations; locations that env.py sets while it runs, and package
resources (``pkg:path``), are left to Alembic itself when the run loads the project.
"""

from __future__ import annotations

import configparser
import os
import re
from pathlib import Path

from planrun.plugin import describe_error


def problems(ini: Path, section: str, base: Path | None = None) -> list[str]:
    """What is wrong with the project at ``ini``, one message each (empty when nothing is).
    Paths in the messages are relative to ``base`` (the plan's folder), as the plan names them."""
    shown = (lambda path: os.path.relpath(path, base)) if base else str
    try:
        return _problems(ini, section, shown)
    except OSError as exc:  # a name too long, a folder it may not read...: said, never a crash
        return [f"{str(ini)[:200]} cannot be read: {exc.strerror or exc}"]


def _problems(ini: Path, section: str, shown) -> list[str]:
    if not ini.is_file():
        return [f"{shown(ini)} does not exist"]
    if ini.name == "pyproject.toml":
        return _toml_problems(ini, shown)
    parser = configparser.ConfigParser(defaults={"here": str(ini.parent)})
    try:
        parser.read(ini, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        return [f"{shown(ini)} cannot be read: {describe_error(exc)}"]
    if not parser.has_section(section):
        return [f"{shown(ini)} has no [{section}] section"]
    try:
        script_location = parser.get(section, "script_location", fallback=None)
        version_locations = parser.get(section, "version_locations", fallback=None)
        separator = parser.get(section, "version_path_separator", fallback=None)
    except configparser.Error as exc:
        return [f"{shown(ini)}: [{section}]: {describe_error(exc)}"]
    if not script_location:
        return [f"{shown(ini)}: [{section}] has no script_location"]
    if (
        ":" in script_location
        and not os.path.isabs(script_location)
        and not re.match(r"^[A-Za-z]:[\\/]", script_location)
    ):
        return []  # a package resource: Alembic finds it
    scripts = _resolve(ini, script_location)
    if not scripts.is_dir():
        return [f"{shown(ini)}: script_location {script_location} is not a folder ({shown(scripts)})"]
    if not (scripts / "env.py").is_file():
        return [f"{shown(ini)}: script_location {shown(scripts)} has no env.py"]
    folders = (
        [_resolve(ini, part) for part in _split(version_locations, separator)]
        if version_locations
        else [scripts / "versions"]
    )
    return [problem for folder in folders if folder.is_dir() for problem in _compile_all(folder, shown)]


def _toml_problems(path: Path, shown) -> list[str]:
    """Alembic's own pyproject.toml configuration (``[tool.alembic]``, Alembic 1.16+)."""
    import tomllib

    try:
        settings = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("alembic")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return [f"{shown(path)} cannot be read: {exc}"]
    if not isinstance(settings, dict):
        return [f"{shown(path)} has no [tool.alembic] table"]
    location = str(settings.get("script_location") or "").replace("%(here)s", str(path.parent))
    if not location:
        return [f"{shown(path)}: [tool.alembic] has no script_location"]
    scripts = _resolve(path, location)
    if not scripts.is_dir():
        return [f"{shown(path)}: script_location {location} is not a folder ({shown(scripts)})"]
    found = settings.get("version_locations")
    folders = (
        [_resolve(path, str(p).replace("%(here)s", str(path.parent))) for p in found]
        if isinstance(found, list)
        else [scripts / "versions"]
    )
    return [problem for folder in folders if folder.is_dir() for problem in _compile_all(folder, shown)]


def _resolve(ini: Path, location: str) -> Path:
    path = Path(location)
    return path if path.is_absolute() else (ini.parent / path).resolve()


def _split(value: str, separator: str | None) -> list[str]:
    if separator in (None, "", "space"):
        return [part for part in re.split(r"[\s,]+", value) if part]
    sep = {"os": os.pathsep, "newline": "\n", ":": ":", ";": ";"}.get(separator, separator)
    return [part.strip() for part in value.split(sep) if part.strip()]


def _compile_all(folder: Path, shown) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            found.append(f"revision file {shown(path)}:{exc.lineno}: does not compile: SyntaxError: {exc.msg}")
        except (ValueError, OSError) as exc:
            found.append(f"revision file {shown(path)}: cannot be read: {exc}")
    return found
