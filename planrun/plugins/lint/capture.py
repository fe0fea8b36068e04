"""The SQL of a revision that cannot be rendered offline (it reads the database in
``upgrade()``: ORM data migrations, inspection), taken from a real run instead. On a scratch
database brought to the revision's parent, with a few generated rows in each empty table, every
statement the run sends is recorded from the SQLAlchemy connection (parameters inlined,
transactions kept), upgrade then downgrade, and linted like rendered SQL. The scratch database
is made beside ``--url`` (never the database itself) or on a throwaway cluster, and only when a
revision needs it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .origins import Origins
from .statements import RevisionSQL, parse

ROWS = 20  # generated rows per empty table on the scratch database


class Recorder:
    """Every statement SQLAlchemy sends while recording, with BEGIN/COMMIT where they happen,
    and the line of the revision file ``path`` that sent it (see :mod:`.origins`)."""

    def __init__(self, path: str) -> None:
        self.sql: list[str] = []
        self.lines: list[int | None] = []
        self.origins = Origins(path)

    def _statement(self, _conn, cursor, statement, parameters, _context, executemany) -> None:
        try:  # recording must never break the run it watches
            texts = _inlined(cursor, statement, parameters, executemany)
        except Exception:
            texts = [statement]
        line = self.origins.running_line()
        self.sql += [text.strip().rstrip(";") for text in texts]
        self.lines += [line] * len(texts)

    def _begin(self, _conn) -> None:
        self.sql.append("BEGIN")
        self.lines.append(None)

    def _commit(self, _conn) -> None:
        self.sql.append("COMMIT")
        self.lines.append(None)

    def _rollback(self, _conn) -> None:
        self.sql.append("ROLLBACK")
        self.lines.append(None)

    @contextlib.contextmanager
    def recording(self) -> Iterator[Recorder]:
        from ..alembic_project.running import engine_events

        listeners = [
            ("before_cursor_execute", self._statement),
            ("begin", self._begin),
            ("commit", self._commit),
            ("rollback", self._rollback),
        ]
        with engine_events(listeners):
            yield self

    def text(self) -> str:
        """The statements as one script; ``self.origins`` then says which line sent which."""
        for statement, line in zip(self.sql, self.lines, strict=True):
            self.origins.note(statement + ";\n", line)
        return "".join(statement + ";\n" for statement in self.sql)


def _inlined(cursor, statement: str, parameters, executemany: bool) -> list[str]:
    """The statements the server runs, parameters inlined: one per parameter set of an
    executemany; SQLAlchemy's insertmanyvalues (``%(sku__0)s``...) numbered per row."""
    if executemany and isinstance(parameters, (list, tuple)) and parameters and isinstance(parameters[0], dict):
        if "__0)s" in statement:
            merged = {f"{key}__{n}": value for n, row in enumerate(parameters) for key, value in row.items()}
            return [_inline(cursor, statement, merged)]
        return [_inline(cursor, statement, row) for row in parameters]
    return [_inline(cursor, statement, parameters)]


def _inline(cursor, statement: str, parameters) -> str:
    """The statement with its parameters as literals (psycopg2's mogrify); as sent when the
    driver has no mogrify (asyncpg) or there are none."""
    if not parameters or not hasattr(cursor, "mogrify"):
        return statement
    try:
        text = cursor.mogrify(statement, parameters)
    except Exception:
        return statement
    return text.decode() if isinstance(text, bytes) else text


class ScratchRuns:
    """Runs revisions on one scratch database, oldest first, keeping it at the last parent."""

    def __init__(self, make_project, server_url: str | None, run_command, prepare=None) -> None:
        self.make_project = make_project  # () -> a fresh AlembicProject of the same folder
        self.server_url = server_url
        self.run_command = run_command  # (project, action, verb, url)
        self.prepare = prepare  # (url, project) -> None: the plan's test.prepare, on every new scratch database
        self.stack = contextlib.ExitStack()
        self.url: str | None = None
        self.unavailable: str | None = None
        self.project = None
        self.at: str | None = None  # the scratch database's revision; None: unknown (start again)
        self.rows = False  # generated rows were added since the scratch database was last made
        self.failed_with_rows = False  # the last capture failed while generated rows were there
        self.stuck: str | None = None  # why the history cannot be brought forward at all

    def close(self) -> None:
        self.stack.close()

    def _database(self) -> str | None:
        if self.url is None and self.unavailable is None:
            from ..clusters.scratch import scratch_database

            try:
                self.url = self.stack.enter_context(scratch_database(self.server_url, prefix="planrun_lint"))
            except Exception as exc:
                where = "beside --url" if self.server_url else "on a throwaway cluster"
                self.unavailable = f"no scratch database {where} to run it on ({type(exc).__name__}: {exc})"
            else:
                self.project = self.make_project()
                self.project.use_url(self.url)
                self.at = None  # prepared (test.prepare) before the first revision runs
        return self.url

    def _move(self, revision: str, verb: str, down: bool = False) -> None:
        from ..alembic_project.running import current_heads

        move = self.project.downgrade if down else self.project.upgrade
        self.run_command(self.project, lambda: move(revision), verb, self.url)
        heads = current_heads(self.url, self.project.version_table())
        if heads != (() if revision == "base" else (revision,)):
            raise RuntimeError(
                f"Alembic finished, but the scratch database is at {', '.join(heads) or 'base'}, not {revision}: "
                "the run did not change the database planrun gave it (env.py migrated another one, or the "
                "revision's own session committed or rolled back the migration's transaction)"
            )
        self.at = revision

    def capture(self, revision: str, parent: str | None, up: RevisionSQL, down: RevisionSQL) -> tuple:
        """``up`` and ``down`` again, the ones that could not be rendered now taken from a run.
        A run that fails while generated rows are in the database (a data migration that parses
        what it reads) is tried once more on a database without them. A history that cannot be
        brought to a parent without them is not tried again for the revisions after it."""
        problems = (up.problem, down.problem)
        first = self._capture(revision, parent, up, down, fill=True)
        if self.at is not None or not self.failed_with_rows:
            return first
        up.problem, down.problem = problems
        return self._capture(revision, parent, up, down, fill=False)

    def _capture(self, revision: str, parent: str | None, up: RevisionSQL, down: RevisionSQL, fill: bool) -> tuple:
        from ..clusters.scratch import recreate_database

        if self._database() is None:
            return _explained(up, self.unavailable), _explained(down, self.unavailable)
        if self.stuck is not None:
            return _explained(up, self.stuck), _explained(down, self.stuck)
        before = parent or "base"
        try:
            if self.at is None:
                recreate_database(self.url)
                self.rows = False
                if self.prepare is not None:
                    self.prepare(self.url, self.project)
                self.at = "base"
            if self.at != before:
                self._move(before, f"bring the scratch database to {before}")
            if fill:
                self.rows = self._fill() or self.rows
        except Exception as exc:
            self.at, self.failed_with_rows = None, self.rows
            reason = f"the scratch database could not be brought to {before}: {_first_line(exc)}"
            if self.prepare is None:
                reason += " (if the application creates tables before its first revision, name them in test.prepare)"
            if not self.rows:  # the history itself does not run: neither will it for the next revisions
                self.stuck = reason
            return _explained(up, reason), _explained(down, reason)
        self.failed_with_rows = False
        up = self._run(revision, "upgrade", revision, up)
        if self.at == revision:
            down = self._run(revision, "downgrade", before, down)
        else:
            down = _explained(down, "its upgrade did not run, so neither could its downgrade")
        return up, down

    def _fill(self) -> bool:
        """A few generated rows in every empty table, so that a data migration's loop over rows
        sends its statements (an empty table would hide them). Whether any row was added."""
        from ..datagen.generate import generate

        try:
            report = generate(self.url, ROWS, seed=0, edge_share=0.0, only_empty=True, strict_tables=False)
        except Exception:
            return False  # rows are a help, not a condition: the revision still runs on what is there
        return any(table.inserted for table in report.tables)

    def _run(self, revision: str, direction: str, to: str, rendered: RevisionSQL) -> RevisionSQL:
        recorder = Recorder(self.project.script.get_revision(revision).path)
        try:
            with recorder.recording():
                self._move(to, f"{direction} {revision} on the scratch database", down=direction == "downgrade")
        except Exception as exc:
            self.at, self.failed_with_rows = None, self.rows
            if rendered.problem is None:
                return rendered
            return _explained(rendered, f"it could not run on a scratch database either: {_first_line(exc)}")
        if rendered.problem is None:
            return rendered  # rendered offline: what was rendered is what is linted
        captured = parse(revision, direction, recorder.text(), self.project.version_table(), recorder.origins)
        captured.captured = True
        for statement in captured.statements:
            statement.captured = True
        return captured


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _explained(rendered: RevisionSQL, reason: str | None) -> RevisionSQL:
    if rendered.problem is not None and reason:
        rendered.problem = f"{rendered.problem}; {reason}"
    return rendered
