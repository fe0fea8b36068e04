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
from pathlib import Path
from typing import Iterator

from planrun.engine.errors import StepFailed
from planrun.engine.redact import url_password
from planrun.engine.snapshot import Snapshot
from planrun.engine.testreport import TestCase, TestReport

from ..pg.connect import connect
from ..pg.fingerprint import data_fingerprint, schema_fingerprint
from ..pg.scratch import scratch_database
from .alembic_run import current_heads, run_command
from .graph_checks import graph_checks
from .project import AlembicProject
from .test_config import TestConfig

_FIXTURE_REVISION = re.compile(r"^--\s*planrun:\s*revision\s+(\S+)", re.M)
_NOT_APPLICABLE = ("UndefinedTable", "UndefinedColumn", "UndefinedObject", "UndefinedFunction")


def _snapshot(conn, cache: dict | None = None) -> dict[str, Snapshot]:
    return {"schema": schema_fingerprint(conn), "data": data_fingerprint(conn, cache=cache)}


def describe_changes(before: Snapshot, after: Snapshot, limit: int = 12) -> list[str]:
    """``changed column public.users.status: character varying(20) null -> text null``,
    ``left behind: index public.ix_users_status``, ``lost: table public.audit``."""
    def keyed(items):
        return dict(item.split(": ", 1) if ": " in item else (item, "") for item in items)

    old, new = keyed(before.items), keyed(after.items)
    lines = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            lines.append(f"lost: {key}")
        elif key not in old:
            lines.append(f"left behind: {key}")
        elif old[key] != new[key]:
            lines.append(f"changed {key}: {old[key]} -> {new[key]}")
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


def _compare(label: str, expected: dict[str, Snapshot], actual: dict[str, Snapshot]) -> list[str]:
    return [f"{label}: {line}" for name in expected for line in describe_changes(expected[name], actual[name]) if expected[name] != actual[name]]


class Stairway:
    def __init__(self, ctx, project: AlembicProject, config: TestConfig, url: str):
        self.ctx, self.project, self.config, self.url = ctx, project, config, url
        self.fixtures = self._fixtures()
        self.hashes: dict = {}  # data fingerprint cache, see data_fingerprint
        # one read-only autocommit connection for every snapshot: idle between them, it holds no
        # lock a migration could wait on, and it saves a connection (and its auth) per snapshot
        self.conn = connect(url, application_name="planrun test fingerprint", readonly=True, autocommit=True)

    def close(self) -> None:
        self.conn.close()

    def snapshot(self) -> dict[str, Snapshot]:
        return _snapshot(self.conn, self.hashes)

    def _fixtures(self) -> dict[str | None, list[Path]]:
        found: dict[str | None, list[Path]] = {}
        for fixture in self.config.fixtures:
            path = self.ctx.loaded.resolve(fixture.file)
            if not path.is_file():
                raise StepFailed(f"test.fixtures: {path} does not exist")
            named = _FIXTURE_REVISION.search(path.read_text(encoding="utf-8"))
            found.setdefault(fixture.revision or (named[1] if named else None), []).append(path)
        return found

    def order(self) -> list:
        scripts = list(reversed(list(self.project.script.walk_revisions())))
        if self.config.from_:
            start = self.project.script.get_revision(self.config.from_).revision
            done = {s.revision for s in self.project.script.iterate_revisions(start, None)}
            scripts = [s for s in scripts if s.revision not in done]
        return scripts

    def alembic(self, verb: str, action) -> None:
        migrate = self.ctx.plan.migrate
        with _environment({name: self.url for name in self.config.url_env}):
            run_command(self.project, action, verb=verb, url=self.url, lock_timeout=migrate.lock_timeout,
                        statement_timeout=migrate.statement_timeout, application_name="planrun test")

    def upgrade(self, revision: str, first: bool) -> None:
        self.alembic(f"upgrade to {revision}", lambda: self.project.upgrade(revision))
        for path in self.fixtures.get(revision, []) + (self.fixtures.get(None, []) if first else []):
            self._load(path)

    def downgrade(self, script) -> None:
        parents = script.down_revision
        target = parents[0] if isinstance(parents, tuple) else f"{script.revision}@-1"
        self.alembic(f"downgrade of {script.revision}", lambda: self.project.downgrade(target))

    def _load(self, path: Path) -> None:
        conn = connect(self.url, application_name="planrun test fixture")
        try:
            with conn.cursor() as cursor:
                cursor.execute(path.read_text(encoding="utf-8"))
            conn.commit()
        except Exception as exc:
            raise StepFailed(f"fixture {path.name} failed to load: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}") from exc
        finally:
            conn.close()

    def checks(self, final: bool) -> list[str]:
        """Post-checks that apply at this revision; a check whose table or column does not exist
        yet does not apply. Failures count only at the last revision (earlier ones are notes)."""
        problems = []
        for check in self.ctx.plan.checks.post:
            try:
                result = self.ctx.hook.planrun_run_check(ctx=self.ctx, check=check, baseline=self.ctx.hook.planrun_check_baseline(ctx=self.ctx, check=check))
            except Exception as exc:
                if type(exc).__name__ in _NOT_APPLICABLE:
                    continue
                problems.append(f"check {check.label()}: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}")
                continue
            if result is not None and not result.ok:
                problems.append(f"check {check.label()}: {result.message}")
        return problems if final else []

    def round_trip(self, script, final: bool, first: bool, before: dict[str, Snapshot] | None = None) -> TestCase:
        """One step of the stairway; ``before`` is the state it starts from when the caller
        already has it (the previous step's last snapshot). Sets ``self.last`` to the state it
        leaves the database in (None when unknown)."""
        revision = script.revision
        info = self.project.revision(revision)
        case = TestCase("stairway", f"{revision} {info.message}".strip(), "passed", revision=revision,
                        description=os.path.relpath(info.path, self.project.folder))
        started = time.monotonic()
        stage = "upgrade"
        self.last = None
        try:
            before = before or self.snapshot()
            t = time.monotonic()
            self.upgrade(revision, first)
            case.timings["up"] = time.monotonic() - t
            up = self.snapshot()
            case.details += self.checks(final)
            stage = "downgrade"
            t = time.monotonic()
            self.downgrade(script)
            case.timings["down"] = time.monotonic() - t
            case.details += _compare("downgrade left a trace", before, self.snapshot())
            stage = "upgrade again"
            t = time.monotonic()
            self.upgrade(revision, first)
            case.timings["up_again"] = time.monotonic() - t
            self.last = self.snapshot()
            case.details += _compare("upgrade is not repeatable", up, self.last)
        except StepFailed as exc:
            case.outcome, case.message = "failed", f"{stage} failed: {exc}"
            case.details.insert(0, case.message)
        case.seconds = time.monotonic() - started
        if case.outcome == "passed" and case.details:
            case.outcome, case.message = "failed", case.details[0]
        return case

    def recover_after(self, script) -> bool:
        """After a failed round trip, bring the database to ``script`` so later revisions can
        still be tested (--keep-going). False when that is not possible."""
        heads = current_heads(self.url, self.project.version_table())
        if script.revision in heads:
            return True
        try:
            self.upgrade(script.revision, first=False)
        except StepFailed:
            return False
        return True


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def drift_case(stairway: Stairway) -> TestCase:
    from alembic import command
    from alembic.util.exc import AutogenerateDiffsDetected, CommandError

    started = time.monotonic()
    try:
        with _environment({name: stairway.url for name in stairway.config.url_env}), stairway.project.inside():
            command.check(stairway.project.config)
    except AutogenerateDiffsDetected as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return TestCase("drift", "models match the database", "failed", lines[0], lines[1:], time.monotonic() - started)
    except CommandError as exc:
        if "MetaData" in str(exc) or "target_metadata" in str(exc):
            return TestCase("drift", "models match the database", "skipped", "env.py exposes no target_metadata")
        return TestCase("drift", "models match the database", "failed", f"alembic check failed: {exc}")
    except Exception as exc:
        return TestCase("drift", "models match the database", "failed", f"alembic check failed: {type(exc).__name__}: {exc}")
    return TestCase("drift", "models match the database", "passed", "autogenerate finds no difference", seconds=time.monotonic() - started)


def run_tests(ctx, options) -> TestReport:
    config: TestConfig = getattr(ctx.plan, "test", None) or TestConfig()
    project = AlembicProject.for_plan(ctx.loaded)
    report = TestReport(project=str(project.ini_path))
    report.cases += graph_checks(project, config.heads)
    with scratch_database(options.server_url) as url:
        ctx.target_url = url
        ctx.redact.add(url_password(url))
        project.use_url(url)
        stairway = Stairway(ctx, project, config, url)
        try:
            _climb(ctx, options, stairway, report)
        finally:
            stairway.close()
    return report


def _climb(ctx, options, stairway: Stairway, report: TestReport) -> None:
    """Every revision in order; after a failure, stop (or with --keep-going, recover and go on)."""
    scripts = stairway.order()
    report.revisions_total = len(scripts)
    state = None
    for index, script in enumerate(scripts):
        case = stairway.round_trip(script, final=index == len(scripts) - 1, first=index == 0, before=state)
        state = stairway.last
        report.cases.append(case)
        ctx.reporter.step_done(f"{script.revision}", case.outcome if case.outcome != "passed" else "ok", case.seconds, case.message or case.name)
        if case.outcome != "failed":
            continue
        if not options.keep_going:
            report.notes.append(f"stopped at {script.revision} (use --keep-going to test the revisions after it)")
            return
        state = None
        if not stairway.recover_after(script):
            report.notes.append(f"cannot continue past {script.revision}: it does not upgrade")
            return
    if stairway.config.drift and all(c.outcome == "passed" for c in report.cases if c.suite == "stairway"):
        report.cases.append(drift_case(stairway))

