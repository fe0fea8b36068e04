"""Linting a range of revisions: render, parse, detect, locate, judge (severity, allowances)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from ..alembic_project.revision_marks import IRREVERSIBLE_RULE, Allowance, irreversible_reason
from .config import LintConfig
from .revision import RevisionView, Settings
from .rule import Hit, Rule
from .source import locate, read_source
from .statements import render
from .walk import Release


@dataclass
class LintFinding:
    rule: str
    severity: str  # error | warning | allowed
    revision: str
    path: str  # as a reviewer sees it in the repository (see lint.plugin.display_root)
    line: int
    message: str
    sql: str = ""
    table: str | None = None
    allowed: str | None = None  # the reason, when an allowance silenced it
    size: int | None = None  # bytes of the table on the live database (--url)
    estimate: str | None = None
    category: str = ""
    reason: str = ""
    alternative: str = ""
    column: int = 1  # where the line's code starts: the call that emitted the statement

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class LintReport:
    revisions: list[str]
    findings: list[LintFinding] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # revision -> its file (absolute)
    old: dict[str, int] = field(default_factory=dict)  # rule -> findings in revisions up to lint.since
    old_revisions: list[str] = field(default_factory=list)
    rules: dict[str, Rule] = field(default_factory=dict)  # the rule book the findings come from
    captured: list[str] = field(default_factory=list)  # revisions linted from a run on a scratch database

    def only_files(self, paths: list[str]) -> None:
        """Keep the revisions in ``paths`` and their findings (a pre-commit hook passes the files a
        commit touches; the other revisions were still read, for what a release added before)."""
        wanted = {os.path.realpath(p) for p in paths}
        kept = {r for r in self.revisions if os.path.realpath(self.files.get(r, "")) in wanted}
        self.revisions = [r for r in self.revisions if r in kept]
        self.findings = [f for f in self.findings if f.revision in kept]

    @property
    def errors(self) -> list[LintFinding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[LintFinding]:
        return [f for f in self.findings if f.severity == "warning"]

    def render(self, fmt: str, colour: bool = False) -> str:
        from .output import render_report

        return render_report(self, fmt, colour)


@dataclass
class LintPolicy:
    config: LintConfig
    phase: str | None  # expand | contract | None
    settings: Settings
    rules: dict[str, Rule]
    excluded: Callable[[str], bool] = lambda path: False  # paths the repository leaves out


def lint_revisions(
    project,
    run_command,
    revisions: list,
    policy: LintPolicy,
    root: str,
    old: set[str] | None = None,
    scratch=None,
    known: tuple[dict, dict] | None = None,
    reported: Callable[[str], bool] = lambda path: True,
) -> LintReport:
    """``revisions``: RevisionInfo objects, oldest first. Findings in ``old`` revisions (up to
    ``lint.since``) are counted in ``report.old``, not reported as failures. ``scratch``: a
    :class:`.capture.ScratchRuns` that runs the revisions offline mode cannot render.
    ``known``: the live database's column types and indexes (``--url``). ``reported(path)``:
    whether a revision's findings will be shown (``--files``); only those are run on ``scratch``."""
    report = LintReport(
        [r.revision for r in revisions], files={r.revision: str(r.path) for r in revisions}, rules=policy.rules
    )
    release = Release()
    if known is not None:
        release.know_types(known[0])
        release.know_indexes(known[1])
    for info in revisions:
        source = read_source(info.path)
        path = os.path.relpath(info.path, root)
        up = render(project, run_command, info.revision, "upgrade")
        down = render(project, run_command, info.revision, "downgrade")
        shown = info.revision not in (old or ()) and reported(str(info.path))
        if scratch is not None and shown and (up.unrenderable or down.unrenderable):
            parent = project.script.get_revision(info.revision).down_revision
            if isinstance(parent, (tuple, list)) and len(parent) == 1:
                parent = parent[0]
            if isinstance(parent, (tuple, list)):
                up.problem = f"{up.problem}; a merge revision is not run on a scratch database" if up.problem else None
            else:
                up, down = scratch.capture(info.revision, parent, up, down)
            if up.captured or down.captured:
                report.captured.append(info.revision)
        view = RevisionView.of(info.revision, up, down, source, release, policy.settings)
        for finding in _folded(_judge(hit, info.revision, path, source, policy) for hit in detect(view, policy.rules)):
            if finding is not None and info.revision in (old or ()):
                if finding.severity != "allowed":
                    report.old[finding.rule] = report.old.get(finding.rule, 0) + 1
            elif finding is not None:
                report.findings.append(finding)
        release.absorb(view.own)
    if old:
        report.old_revisions = [r for r in report.revisions if r in old]
        report.revisions = [r for r in report.revisions if r not in old]
    return report


def _folded(findings) -> list[LintFinding]:
    """One finding per rule and line: a call in a loop (a data migration's UPDATE per row) sends
    the same statement many times, and a reviewer needs to read it once, with the count."""
    kept: dict[tuple, LintFinding] = {}
    counts: dict[tuple, int] = {}
    for finding in findings:
        if finding is None:
            continue
        # about a statement: folded by its line; about a whole function: each one kept
        key = (finding.rule, finding.line, finding.severity, finding.message) if finding.sql else (id(finding),)
        counts[key] = counts.get(key, 0) + 1
        kept.setdefault(key, finding)
    for key, finding in kept.items():
        if counts[key] > 1:
            finding.message += f" ({counts[key]} statements from this line)"
    return list(kept.values())


def detect(view: RevisionView, rules: dict[str, Rule]) -> list[Hit]:
    """Every rule's hits on one revision (a rule reports under its own id only). A detector that
    fails stops the lint with an error naming the rule and the revision, never a silent pass."""
    from planrun.plugin import UsageError

    hits: list[Hit] = []
    for rule in rules.values():
        try:
            hits += [hit for hit in rule.detect(view) if hit.rule == rule.id]
        except Exception as exc:
            raise UsageError(
                f"lint rule {rule.id} failed on revision {view.revision}: {type(exc).__name__}: {exc}"
            ) from exc
    return hits


def _judge(hit: Hit, revision: str, path: str, source, policy: LintPolicy) -> LintFinding | None:
    rule = policy.rules[hit.rule]
    severity = policy.config.rules.get(hit.rule, rule.severity)
    if severity == "off":
        return None
    direction = hit.statement.direction if hit.statement else rule.about.rstrip("()")
    sql = hit.statement.sql if hit.statement else ""
    if hit.statement:
        line, end = locate(source, direction, sql, hit.kind, hit.names, hit.statement.line)
    else:  # about the whole function (an empty downgrade): an allowance anywhere in it counts
        line, end = source.functions.get(direction, (1, 1))
    message = rule.reason
    if hit.detail:
        message = f"{message} ({hit.detail})"
    if hit.statement is not None and hit.statement.captured:
        message += " [SQL captured from a run on a scratch database]"
    finding = LintFinding(hit.rule, severity, revision, path, line, message, sql, hit.table)
    finding.category, finding.reason, finding.alternative = rule.category, rule.reason, rule.alternative
    finding.column = source.column(line)
    inline = source.allowance_for(hit.rule, line, end)
    if inline is None and hit.rule == IRREVERSIBLE_RULE and hit.statement is None:
        reason = irreversible_reason(source.path)  # (without downgrade(), the marker may be anywhere)
        inline = Allowance((hit.rule,), reason, line) if reason else None
    planned = policy.config.allow.get(hit.rule)
    if rule.destructive:
        if policy.phase == "expand":
            finding.severity = "error"
            finding.message += " An expand plan never removes anything: move this to a contract plan."
        elif planned:  # validation let it into lint.allow only with a backup verified by restore
            finding.severity, finding.allowed = "allowed", planned
        elif inline:
            finding.message += (
                " An inline allowance cannot permit a destructive operation: the plan must "
                "(lint.allow, with backup.verify: restore)."
            )
        return finding
    if planned:
        finding.severity, finding.allowed = "allowed", planned
    elif inline and inline.reason:
        finding.severity, finding.allowed = "allowed", inline.reason
    elif inline:
        finding.message += f' (the allowance on line {inline.line} is ignored: it needs reason="...")'
    return finding
