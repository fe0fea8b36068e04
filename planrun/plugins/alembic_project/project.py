"""An Alembic project as planrun sees it: its config, its revisions and their files.

Alembic resolves relative paths (script_location, prepend_sys_path) against the working
directory, and env.py files import the application's own package; so every Alembic call runs
with the working directory set to the folder of alembic.ini and that folder on sys.path.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.script import Script, ScriptDirectory

from planrun.plugin import ProjectError

from .revision_target import RevisionTarget


@dataclass(frozen=True)
class RevisionInfo:
    revision: str
    message: str
    path: str
    sha256: str


@contextlib.contextmanager
def project_directory(folder: Path) -> Iterator[None]:
    previous = os.getcwd()
    added = str(folder) not in sys.path
    if added:
        sys.path.insert(0, str(folder))
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)
        if added and str(folder) in sys.path:
            sys.path.remove(str(folder))


def _config(path: Path, section: str, output) -> Config:
    """Alembic's configuration: an ini file, Alembic's ``[tool.alembic]`` in a pyproject.toml
    (1.16+), or both (an ini with a pyproject.toml beside it)."""
    import inspect

    reads_toml = "toml_file" in inspect.signature(Config.__init__).parameters  # Alembic 1.16+
    if path.name == "pyproject.toml":
        if not reads_toml:
            raise ProjectError(f"{path}: [tool.alembic] needs Alembic 1.16 or later; {_alembic_version()} is installed")
        return Config(toml_file=str(path), ini_section=section, output_buffer=output)
    beside = path.parent / "pyproject.toml"
    toml = (
        str(beside)
        if reads_toml and beside.is_file() and "[tool.alembic]" in beside.read_text(encoding="utf-8", errors="replace")
        else None
    )
    if toml is None:  # (an Alembic before 1.16 has no toml_file at all)
        return Config(str(path), ini_section=section, output_buffer=output)
    return Config(str(path), toml_file=toml, ini_section=section, output_buffer=output)


def _alembic_version() -> str:
    from importlib.metadata import version

    return f"Alembic {version('alembic')}"


class AlembicProject:
    def __init__(self, ini_path: Path, section: str = "alembic", setup: str | None = None):
        """``setup``: the application's own setup (``module:function``), run before the
        revisions are imported (see :mod:`.app_setup`)."""
        if not ini_path.is_file():
            raise ProjectError(f"target.alembic.config: {ini_path} does not exist")
        self.ini_path = ini_path
        self.section = section
        self.folder = ini_path.parent
        self.output = io.StringIO()
        with project_directory(self.folder):
            if setup:
                from .app_setup import run_setup

                run_setup(setup, self.folder)
            self.config = _config(ini_path, section, self.output)
            self.script = self._scripts()
            if not any(True for _ in self.script.walk_revisions()):
                self._locations_from_env_py()

    def _scripts(self) -> ScriptDirectory:
        try:
            script = ScriptDirectory.from_config(self.config)
            _ = script.revision_map.heads  # load every revision now: a broken file is a project error
            return script
        except SyntaxError as exc:
            raise ProjectError(
                f"revision file {exc.filename}:{exc.lineno}: does not compile: SyntaxError: {exc.msg}"
            ) from exc
        except (SystemExit, KeyboardInterrupt) as exc:  # a revision module that ends the process on import
            raise ProjectError(
                f"{self._file_in(exc) or self.ini_path}: ended the process ({type(exc).__name__}({exc})) while "
                "Alembic imported it; revision files must not call sys.exit() or raise KeyboardInterrupt"
            ) from exc
        except Exception as exc:
            raise ProjectError(
                f"{self.ini_path}: cannot read the Alembic project: {type(exc).__name__}: {exc}"
            ) from exc

    def _file_in(self, exc: BaseException) -> str | None:
        """The project file deepest in ``exc``'s traceback, relative to the project's folder."""
        import traceback

        found = None
        for frame in traceback.extract_tb(exc.__traceback__):
            path = Path(frame.filename).resolve()
            if path.is_relative_to(self.folder.resolve()):
                found = f"{os.path.relpath(path, self.folder)}:{frame.lineno}"
        return found

    def _locations_from_env_py(self) -> None:
        """No revision where the configuration says: some env.py files set ``version_locations``
        while they run (one folder per database dialect, say). Run env.py once, offline and
        migrating nothing, and look again where it left them."""
        from alembic.runtime.environment import EnvironmentContext

        before = self.config.get_main_option("version_locations")
        if not self.config.get_main_option("sqlalchemy.url"):
            self.config.set_main_option("sqlalchemy.url", "postgresql://offline/none")

        def run_env() -> None:
            with EnvironmentContext(
                self.config,
                self.script,
                fn=lambda rev, context: [],
                as_sql=True,
                starting_rev=None,
                destination_rev="heads",
            ):
                self.script.run_env()

        try:
            from .running import run_in

            run_in(self.runner, run_env)  # (an env.py written for an AnyIO worker thread runs in one)
        except Exception:
            return  # env.py cannot run offline: Alembic will not find more than we did
        if self.config.get_main_option("version_locations") != before:
            self.script = self._scripts()

    runner = "direct"  # where Alembic's commands run: see the plan's target.alembic.runner

    @classmethod
    def for_plan(cls, loaded) -> AlembicProject:
        alembic = loaded.plan.target.alembic
        project = cls(loaded.resolve(alembic.config), alembic.section, alembic.setup)
        project.runner = alembic.runner
        if project.runner != "direct" and not any(True for _ in project.script.walk_revisions()):
            project._locations_from_env_py()  # again, where env.py can run: inside the project's runner
        return project

    def ini_url(self) -> str | None:
        return self.config.get_main_option("sqlalchemy.url")

    def use_url(self, url: str) -> str:
        """Point the project at ``url`` (driver-qualified: :meth:`driver_url`)."""
        effective = self.driver_url(url)
        self.config.set_main_option("sqlalchemy.url", effective.replace("%", "%%"))
        return effective

    def driver_url(self, url: str) -> str:
        """``url`` as SQLAlchemy should get it, in the ini and in the url_env variables alike:
        when it names no driver, the one the ini names (an async env.py needs its
        ``+asyncpg``), else psycopg2; SQLAlchemy 2.1 would pick psycopg 3, which planrun does
        not install."""
        scheme, rest = url.split("://", 1)
        if "+" not in scheme:
            ini_scheme = (self.ini_url() or "").split("://", 1)[0]
            scheme = ini_scheme if "+" in ini_scheme else f"{scheme}+psycopg2"
        return f"{scheme}://{rest}"

    def version_table(self) -> str:
        return self.config.get_main_option("version_table") or "alembic_version"

    @contextlib.contextmanager
    def inside(self) -> Iterator[None]:
        with project_directory(self.folder):
            yield

    def upgrade(self, revision: str, sql: bool = False) -> None:
        """``alembic upgrade REVISION`` (``FROM:TO`` with ``sql``), reusing this project's parsed
        revisions: alembic.command re-reads every revision file on every call, which made a
        stairway over n revisions cost n^2 file loads."""
        self._run(revision, sql, lambda target, rev: self.script._upgrade_revs(target, rev))

    def downgrade(self, revision: str, sql: bool = False) -> None:
        self._run(revision, sql, lambda target, rev: self.script._downgrade_revs(target, rev))

    def stamp(self, revision: str) -> None:
        """Record ``revision`` as applied without running it (``alembic stamp``)."""
        self._run(revision, False, lambda target, rev: self.script._stamp_revs(target, rev))

    def _run(self, revision: str, sql: bool, step) -> None:
        from alembic.runtime.environment import EnvironmentContext

        starting = None
        if ":" in revision:
            starting, revision = revision.split(":", 1)
        with EnvironmentContext(
            self.config,
            self.script,
            fn=lambda rev, context: step(revision, rev),
            as_sql=sql,
            starting_rev=starting,
            destination_rev=revision,
        ):
            self.script.run_env()

    def probe(self) -> None:
        """Run env.py online without running any revision, and without creating the version
        table (Alembic's ``dont_mutate``): to see where it connects before anything changes."""
        from alembic.runtime.environment import EnvironmentContext

        with EnvironmentContext(self.config, self.script, fn=lambda rev, context: [], dont_mutate=True):
            self.script.run_env()

    def revision(self, revision: str) -> RevisionInfo:
        script = self.script.get_revision(revision)
        return self._info(script)

    def _info(self, script: Script) -> RevisionInfo:
        path = Path(script.path)
        digest = self._digest(path)
        message = (script.doc or "").strip().splitlines()[0] if script.doc else ""
        return RevisionInfo(script.revision, message, str(path), digest)

    def _digest(self, path: Path) -> str:
        """A revision file's sha256, read once per project (one run): the records written at
        every commit of a migration then cost no file reads, and they name the file as it was
        loaded, not as it may have been edited since."""
        digests = self.__dict__.setdefault("_digests", {})
        if path not in digests:
            digests[path] = hashlib.sha256(path.read_bytes()).hexdigest()
        return digests[path]

    def revision_paths(self) -> dict[str, str]:
        """Real path of each revision file -> its revision id."""
        return {os.path.realpath(s.path): s.revision for s in self.script.walk_revisions()}

    def heads(self) -> list[str]:
        return list(self.script.get_heads())

    def resolve_target(self, target: RevisionTarget, current: tuple[str, ...]) -> str:
        """The concrete revision ``target`` names from ``current``; ``heads`` (Alembic's own
        word) when it names every head of a project that has several."""
        try:
            if target.kind in ("head", "heads"):
                heads = self.heads()
                if len(heads) > 1 and target.kind == "heads":
                    return "heads"
                if len(heads) != 1:
                    raise ProjectError(
                        f"migrate.to: head is ambiguous, the project has {len(heads)} heads ({', '.join(heads)}); "
                        "name one, or write migrate.to: heads to upgrade them all"
                    )
                return heads[0]
            if target.kind == "revision":
                return self.script.get_revision(target.revision).revision
            upgrades = self.pending(current, "heads")
            if len(upgrades) < target.steps:
                raise ProjectError(f"migrate.to: +{target.steps} goes past head ({len(upgrades)} revisions pending)")
            return upgrades[target.steps - 1].revision
        except ProjectError:
            raise
        except Exception as exc:
            raise ProjectError(f"migrate.to: {target}: {exc}") from exc

    def heads_at(self, target: str) -> tuple[str, ...]:
        """The version table's rows once at ``target`` (sorted, as ``current_heads`` reads them)."""
        return tuple(sorted(self.heads())) if target == "heads" else (target,)

    def pending(self, current: tuple[str, ...], upper: str) -> list[RevisionInfo]:
        """Revisions from ``current`` (exclusive) to ``upper`` (inclusive), oldest first."""
        lower = current[0] if len(current) == 1 else (None if not current else current)
        try:
            scripts = list(self.script.iterate_revisions(upper, lower))
        except Exception as exc:  # Alembic's RangeNotAncestorError and kin: the target is not ahead
            raise ProjectError(self._not_ahead(current, upper, exc)) from None
        return [self._info(s) for s in reversed(scripts)]

    def _not_ahead(self, current: tuple[str, ...], upper: str, exc: Exception) -> str:
        """Why ``upper`` cannot be upgraded to from ``current``, in the words a release needs."""
        shown = ", ".join(current) or "base"
        try:
            behind = any(
                s.revision == self.script.get_revision(upper).revision
                for s in self.script.iterate_revisions(current if len(current) > 1 else current[0], "base")
            )
        except Exception:
            behind = False
        if behind:
            return (
                f"migrate.to: {upper} is behind the database's current revision ({shown}): apply only upgrades. "
                f"To roll back a release that succeeded: planrun rollback PLAN --to {upper} (the same lock, backup, "
                "checks and proof as apply)"
            )
        return f"migrate.to: {upper} cannot be reached from the current revision ({shown}): {exc}"

    def applied(self, current: tuple[str, ...]) -> list[RevisionInfo]:
        """Revisions from base to ``current`` (inclusive), oldest first."""
        if not current:
            return []
        scripts = list(self.script.iterate_revisions(current[0] if len(current) == 1 else current, "base"))
        return [self._info(s) for s in reversed(scripts)]
