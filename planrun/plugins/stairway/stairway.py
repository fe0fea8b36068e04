"""``planrun test``: the stairway. For every revision from base (or ``test.from``) to head, one
step at a time: upgrade, load the fixtures written for it, run the post-checks that apply,
fingerprint schema and data; downgrade and require both fingerprints to equal the ones from
before the upgrade, naming what differs; upgrade again and require the first upgrade's
fingerprints. Branches and merges are walked in topological order: a revision is downgraded
alone (``REV@-1``), a merge back to its parents.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import psycopg2.errors

from planrun.plugin import Snapshot, StepFailed, UsageError, describe_error, read_input_text

from ..alembic_project.command_io import Capture, captured
from ..alembic_project.project import AlembicProject
from ..alembic_project.revision_marks import irreversible_reason
from ..alembic_project.running import before_each_statement, run_command
from ..alembic_project.shared_connection import KeptConnection
from ..clusters.scratch import recreate_database
from ..facts import MigrationSettings, PostChecks
from ..pg.connect import connect
from ..pg.data_changes import varying_changed, without_varying
from ..pg.fingerprint import data_fingerprint, schema_fingerprint
from ..pg.table_hashes import TableHashes
from ..pg.write_watch import watch_writes
from .config import StairwayConfig
from .report import StairwayCase
from .volume import Volume

_FIXTURE_REVISION = re.compile(r"^--\s*planrun:\s*revision\s+(\S+)", re.M)
_NOT_APPLICABLE = ("UndefinedTable", "UndefinedColumn", "UndefinedObject", "UndefinedFunction")


def _snapshot(conn, cache: TableHashes | None = None) -> dict[str, Snapshot]:
    return {"schema": schema_fingerprint(conn), "data": data_fingerprint(conn, cache=cache, detail=True)}


def _compare(label: str, expected: dict[str, Snapshot], actual: dict[str, Snapshot]) -> list[str]:
    return [
        f"{label}: {line}"
        for name in expected
        for line in expected[name].differences(actual[name], limit=12)
        if expected[name] != actual[name]
    ]


class Stairway:
    def __init__(self, ctx, project: AlembicProject, config: StairwayConfig, url: str):
        self.ctx, self.project, self.config, self.url = ctx, project, config, url
        self.fixtures = self._fixtures()
        # every write between two snapshots is an Alembic command (watched) or a fixture (said)
        self.hashes = TableHashes(watched=True)
        # one read-only autocommit connection for every snapshot: idle between them, it holds no
        # lock a migration could wait on, and it saves a connection (and its auth) per snapshot
        self.conn = connect(url, application_name="planrun test fingerprint", readonly=True, autocommit=True)
        # one connection lent to env.py for every Alembic command of the climb (reset between
        # commands), where env.py takes config.attributes["connection"]
        self.kept = KeptConnection()
        self.snapshots = ThreadPoolExecutor(max_workers=1, thread_name_prefix="planrun-snapshot")
        self.in_flight: Future | None = None
        self.prepared: str | None = None  # test.prepare, run again after every rebuild
        self.output = Capture()  # what Alembic and env.py printed during the current case
        self.verbose = False
        self.volume: Volume | None = None  # at volume: generated rows, measured locks and clients

    def close(self) -> None:
        self.snapshots.shutdown(wait=True)
        self.conn.close()
        self.kept.close()

    def snapshot(self) -> Future:
        """The database as it is now, taken in the background: the next Alembic command loads
        env.py and connects meanwhile, and its first statement waits for the snapshot to end
        (:meth:`settle`), so the snapshot sees exactly the state between the two commands."""
        self.in_flight = self.snapshots.submit(_snapshot, self.conn, self.hashes)
        return self.in_flight

    def settle(self) -> None:
        """Wait for the snapshot in flight, if any (its error, if any, is raised where it is read)."""
        if self.in_flight is not None:
            wait([self.in_flight])

    def _fixtures(self) -> dict[str | None, list[Path]]:
        found: dict[str | None, list[Path]] = {}
        for fixture in self.config.fixtures:
            path = self.ctx.loaded.resolve(fixture.file)
            if not path.exists():
                raise StepFailed(f"test.fixtures: {path} does not exist")
            try:
                text = read_input_text(path, "test.fixtures:")
            except UsageError as exc:
                raise StepFailed(str(exc)) from None
            named = _FIXTURE_REVISION.search(text)
            found.setdefault(fixture.revision or (named[1] if named else None), []).append(path)
        return found

    def order(self) -> list:
        scripts = self.order_all()
        if self.config.from_:
            start = self.project.script.get_revision(self.config.from_).revision
            done = {s.revision for s in self.project.script.iterate_revisions(start, None)}
            scripts = [s for s in scripts if s.revision not in done]
        return scripts

    def alembic(self, verb: str, action, arrived) -> None:
        """Run an Alembic command on the scratch database; ``arrived(heads)`` says whether the
        database is where the command was to take it. A command that returns without moving it
        (an env.py that migrated elsewhere, or nothing) fails the case: a round trip is never
        passed on a database that did not change."""
        migrate = self.ctx.plan_facts.get(MigrationSettings) or MigrationSettings()
        with (
            captured(self.output, self.verbose),
            watch_writes() as watch,
            before_each_statement(self.settle),
        ):
            try:
                run_command(
                    self.project,
                    action,
                    verb=verb,
                    url=self.url,
                    lock_timeout=migrate.lock_timeout,
                    statement_timeout=migrate.statement_timeout,
                    application_name="planrun test",
                    url_env=self.config.url_env,
                    kept=self.kept,
                )
            finally:
                self.settle()  # (a command that ran no statement never waited for it)
                self.hashes.written(watch.written())
        heads = self._heads()
        if not arrived(heads):
            raise StepFailed(
                f"Alembic finished the {verb}, but the scratch database is at {', '.join(heads) or 'base'}: "
                "env.py did not migrate the database planrun gave it"
            )

    def _heads(self) -> tuple[str, ...]:
        """The scratch database's revisions, read on the snapshot connection (idle now: cheap)."""
        table = self.project.version_table()
        with self.conn.cursor() as cursor:
            try:  # one round trip; the connection is in autocommit, so a missing table costs nothing more
                cursor.execute(f'SELECT version_num FROM "{table}"')
            except psycopg2.errors.UndefinedTable:
                return ()
            return tuple(sorted(row[0] for row in cursor.fetchall()))

    def upgrade(self, revision: str, first: bool) -> None:
        self.alembic(f"upgrade to {revision}", lambda: self.project.upgrade(revision), lambda heads: revision in heads)
        for path in self.fixtures.get(revision, []) + (self.fixtures.get(None, []) if first else []):
            self._load(path)

    def downgrade(self, script) -> None:
        parents = script.down_revision
        target = parents[0] if isinstance(parents, tuple) else f"{script.revision}@-1"
        wanted = set(parents) if isinstance(parents, tuple) else ({parents} if parents else set())

        def arrived(
            heads,
        ) -> bool:  # the revision undone, its parents still applied (maybe below another branch's head)
            applied = {s.revision for s in self.project.script.iterate_revisions(heads, "base")} if heads else set()
            return script.revision not in applied and wanted <= applied

        self.alembic(f"downgrade of {script.revision}", lambda: self.project.downgrade(target), arrived)

    def prepare(self, what: str) -> StairwayCase:
        self.prepared = what
        return self._prepare(what)

    def _prepare(self, what: str) -> StairwayCase:
        """``test.prepare``: a .sql file, or a shell command with the scratch database's URL in
        its environment, run once on the empty database (tables the application creates itself
        before its first revision)."""
        from ..clusters.prepare import PrepareFailed, prepare_database

        started = time.monotonic()
        self.settle()
        self.hashes.written(None)
        try:
            prepare_database(
                self.url, what, self.ctx.loaded.path.parent, self.config.url_env, self.project.driver_url(self.url)
            )
        except PrepareFailed as exc:
            return StairwayCase("prepare", what, "failed", f"prepare failed: {exc}", seconds=time.monotonic() - started)
        return StairwayCase(
            "prepare", what, "passed", "the scratch database is prepared", seconds=time.monotonic() - started
        )

    def _load(self, path: Path) -> None:
        from ..clusters.prepare import PrepareFailed, prepare_database

        self.settle()
        self.hashes.written(None)
        try:
            prepare_database(self.url, str(path), path.parent)
        except PrepareFailed as exc:
            raise StepFailed(str(exc)) from exc

    def checks(self, final: bool) -> list[str]:
        """Post-checks that apply at this revision; a check whose table or column does not exist
        yet does not apply. Failures count only at the last revision (earlier ones are notes)."""
        problems = []
        for check in (self.ctx.plan_facts.get(PostChecks) or PostChecks()).checks:
            if check.target not in (None, self.ctx.target_key) or not check.applies_to("test"):
                continue  # another target's check, or one for real runs only (when: apply)
            try:
                result = check.run(self.ctx, check.baseline(self.ctx))
            except Exception as exc:
                if type(exc).__name__ in _NOT_APPLICABLE:
                    continue
                problems.append(f"check {check.label()}: {describe_error(exc)}")
                continue
            if not result.ok:
                problems.append(f"check {check.label()}: {result.message}")
        return problems if final else []

    def round_trip(self, script, final: bool, first: bool, before: Future | None = None) -> RoundTrip:
        """One step of the stairway; ``before`` is the state it starts from when the caller
        already has it (the previous step's last snapshot). Its last comparison (is the upgrade
        repeatable) is left to :meth:`RoundTrip.conclude`, so the next step can start while the
        last snapshot is being taken."""
        revision = script.revision
        info = self.project.revision(revision)
        trip = RoundTrip(
            script,
            StairwayCase(
                "stairway",
                f"{revision} {info.message}".strip(),
                "passed",
                revision=revision,
                description=os.path.relpath(info.path, self.project.folder),
            ),
        )
        case = trip.case
        started = time.monotonic()
        stage = "upgrade"
        self.output = Capture()
        measured = self.volume.measured if self.volume else lambda direction, case: contextlib.nullcontext()
        irreversible = irreversible_reason(info.path)
        if irreversible is not None:
            return self._irreversible(trip, first, final, irreversible, started)
        try:
            if self.volume is not None:
                stage = "generating rows"
                before = self._top_up(before)
                stage = "upgrade"
            before = before or self.snapshot()
            t = time.monotonic()
            with measured("upgrade", case):
                self.upgrade(revision, first)
            case.timings["up"] = time.monotonic() - t
            up = self.snapshot()
            case.details += self.checks(final)
            stage = "downgrade"
            t = time.monotonic()
            with measured("downgrade", case):
                self.downgrade(script)
            case.timings["down"] = time.monotonic() - t
            down = self.snapshot()
            stage = "upgrade again"
            t = time.monotonic()
            try:
                self.upgrade(revision, first)
            finally:
                case.details += _compare("downgrade left a trace", before.result(), down.result())
            case.timings["up_again"] = time.monotonic() - t
            trip.up, trip.last = up, self.snapshot()
        except StepFailed as exc:
            trip.failed(stage, exc)
        return self._ended(trip, started)

    def _irreversible(self, trip: RoundTrip, first: bool, final: bool, reason: str, started: float) -> RoundTrip:
        """A revision marked irreversible (:mod:`..alembic_project.revision_marks`): no
        downgrade to prove, so its upgrade runs, the post-checks that apply, and the upgrade is
        shown repeatable by running it again on a database rebuilt at its parents (prepared, in
        one command, fixtures loaded), the two results compared as a round trip's are."""
        script, case = trip.script, trip.case
        case.outcome = "irreversible"
        case.remarks.append(f"marked irreversible ({reason}): its upgrade and its repeatability are checked")
        stage = "upgrade"
        try:
            t = time.monotonic()
            self.upgrade(script.revision, first)
            case.timings["up"] = time.monotonic() - t
            up = self.snapshot()
            case.details += self.checks(final)
            if self.volume is not None:  # generated rows are not rebuilt alike: nothing to compare to
                case.remarks.append("repeatability not checked at volume (--data generated)")
                trip.up = trip.last = None
                self.settle()
                up.result()
            else:
                stage = "upgrade again, on a database rebuilt at its parents"
                self.settle()
                up.result()
                if not self._fresh():
                    raise StepFailed("test.prepare failed while rebuilding the scratch database")
                parents = script.down_revision
                self.reach(*(parents if isinstance(parents, tuple) else (parents,) if parents else ()))
                t = time.monotonic()
                self.upgrade(script.revision, first)
                case.timings["up_again"] = time.monotonic() - t
                trip.up, trip.last = up, self.snapshot()
        except StepFailed as exc:
            trip.failed(stage, exc)
        return self._ended(trip, started)

    def _ended(self, trip: RoundTrip, started: float) -> RoundTrip:
        trip.case.seconds = time.monotonic() - started
        trip.case.output = self.output.getvalue()
        return trip

    def _top_up(self, before: Future | None) -> Future | None:
        """Generated rows into the tables that have none (all of them at the start, then those
        the last revision created), and the clients' baseline on them; the state to start from
        is taken again when rows were added."""
        self.settle()  # the last snapshot must not see the new rows
        try:
            filled = self.volume.top_up()
        except Exception as exc:
            raise StepFailed(describe_error(exc)) from exc
        if filled:
            self.hashes.written(filled)
            before = None
        self.volume.measure_baseline()
        return before

    def start_at(self, revision: str) -> StairwayCase:
        """``test.from``: the scratch database brought to ``revision`` in one upgrade command (as
        a production database already there got there), then every fixture written for it or an
        earlier revision loaded in order, and the fixtures written for no revision."""
        started = time.monotonic()
        name = f"upgrade to {revision} in one command"
        self.output = Capture()
        try:
            self.reach(revision)
        except StepFailed as exc:
            return StairwayCase(
                "start",
                name,
                "failed",
                f"test.from: {exc}",
                seconds=time.monotonic() - started,
                output=self.output.getvalue(),
            )
        return StairwayCase(
            "start", name, "passed", f"the stairway starts after {revision}", seconds=time.monotonic() - started
        )

    def reach(self, *revisions: str) -> None:
        """``alembic upgrade REV`` for each of ``revisions``, one command each, from wherever the
        database is (how production gets there); then every fixture written for them or an
        earlier revision, in order, and those written for no revision: one command loads none."""
        for revision in revisions:
            self.alembic(
                f"upgrade to {revision} in one command",
                lambda revision=revision: self.project.upgrade(revision),
                lambda heads, revision=revision: revision in heads,
            )
        below = {s.revision for r in revisions for s in self.project.script.iterate_revisions(r, "base")}
        for step in self.order_all():
            for path in self.fixtures.get(step.revision, []) if step.revision in below else []:
                self._load(path)
        for path in self.fixtures.get(None, []) if revisions else []:
            self._load(path)

    def rebuild(self, script, upgrade_failed: bool = False) -> str | None:
        """After a failed round trip (--keep-going): a new scratch database, prepared again and
        brought to ``script`` so the next revision starts from a clean state and not from what
        the failure left. In one upgrade command from base, as ``alembic upgrade`` reaches it in
        production (one env.py load, where revision by revision costs one per revision); revision
        by revision when fixtures are to be loaded on the way, falling back to one command when
        a revision on the way does not upgrade on its own. Returns "in one command" when
        ``script``'s own upgrade failed (``upgrade_failed``) and one command reached it, None
        when it cannot be reached (the revisions built on it are then not reached either), else
        "rebuilt"."""
        if not self._fresh():
            return None
        wanted = {s.revision for s in self.project.script.iterate_revisions(script.revision, "base")}
        if not upgrade_failed and any(revision in wanted or revision is None for revision in self.fixtures):
            try:
                for index, step in enumerate(s for s in self.order_all() if s.revision in wanted):
                    self.upgrade(step.revision, first=index == 0)
                return "rebuilt"
            except StepFailed:
                if not self._fresh():
                    return None
        try:
            self.reach(script.revision)
        except StepFailed:
            return None
        return "in one command" if upgrade_failed else "rebuilt"

    def _fresh(self) -> bool:
        """A new, empty scratch database, prepared again (False when test.prepare fails)."""
        self.settle()
        self.conn.close()
        self.kept.close()
        recreate_database(self.url)
        self.conn = connect(self.url, application_name="planrun test fingerprint", readonly=True, autocommit=True)
        self.hashes = TableHashes(watched=True)
        return not (self.prepared and self._prepare(self.prepared).outcome == "failed")

    def order_all(self) -> list:
        return list(reversed(list(self.project.script.walk_revisions())))

    def reached(self, script) -> bool:
        """Whether the revisions ``script`` builds on are applied (a failed one may have cut it off)."""
        parents = script.down_revision
        wanted = set(parents) if isinstance(parents, tuple) else ({parents} if parents else set())
        heads = self._heads()
        applied = {s.revision for s in self.project.script.iterate_revisions(heads, "base")} if heads else set()
        return wanted <= applied


@dataclass
class RoundTrip:
    """A revision's round trip; ``last`` is the state it left the database in (None when a
    step failed), ``up`` the state after its first upgrade."""

    script: object
    case: StairwayCase
    up: Future | None = None
    last: Future | None = None
    failed_stage: str | None = None  # "upgrade", "downgrade", "upgrade again" when a step failed

    def failed(self, stage: str, exc: StepFailed) -> None:
        """A step of this round trip failed at ``stage``: the case says so first."""
        self.case.outcome, self.case.message = "failed", f"{stage} failed: {exc}"
        self.case.details.insert(0, self.case.message)
        self.failed_stage = stage

    def conclude(self) -> StairwayCase:
        """The case, with the repeatability comparison once the last snapshot is there."""
        case = self.case
        if self.last is not None:
            up, last = self.up.result(), self.last.result()
            steady = {**up, "data": without_varying(up["data"])}, {**last, "data": without_varying(last["data"])}
            found = _compare("upgrade is not repeatable", *steady)
            if any("values changed in place" in line for line in found):
                found.append(
                    "a revision or fixture that writes values that differ each time (random(), now() in an "
                    "UPDATE or INSERT...) is not repeatable: fixtures must be deterministic"
                )
            case.details += found
            left = varying_changed(up["data"], last["data"])
            if left and not found:
                case.remarks.append(
                    f"repeatable, compared without the values of {', '.join(left)}: filled by a default that is not a "
                    "constant (now(), a sequence, gen_random_uuid()...), compared by presence and type"
                )
        if case.outcome in ("passed", "irreversible") and case.details:
            case.outcome, case.message = "failed", case.details[0]
        return case
