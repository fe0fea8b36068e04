"""The lint report as text (file:line), JSON, GitHub annotations and a Markdown PR comment
(SARIF and GitLab Code Quality: :mod:`.output_ci`)."""

from __future__ import annotations

import json

_ICON = {"error": "❌", "warning": "⚠️", "allowed": "✅"}


FORMATS = ("text", "json", "github", "markdown", "sarif", "gitlab")


def render_report(report, fmt: str, colour: bool = False) -> str:
    """``colour``: text for a terminal (ANSI colours; see :func:`wants_colour`)."""
    from .output_ci import gitlab, sarif

    if fmt == "text":
        return _text(report, colour)
    renderers = {"json": _json, "github": _github, "markdown": _markdown, "sarif": sarif}
    return {**renderers, "gitlab": gitlab}[fmt](report)


def wants_colour(stream) -> bool:
    """Colour on a terminal, unless NO_COLOR is set (https://no-color.org); FORCE_COLOR forces it."""
    import os

    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or (hasattr(stream, "isatty") and stream.isatty())


_STYLE = {"error": "1;31", "warning": "33", "allowed": "32", "path": "1", "dim": "2"}


def _paint(text: str, style: str, colour: bool) -> str:
    return f"\033[{_STYLE[style]}m{text}\033[0m" if colour else text


def _where(f) -> str:
    return f"{f.path}:{f.line}:{f.column}"


def _text(report, colour: bool = False) -> str:
    lines = []
    for f in report.findings:
        extra = f" [allowed: {f.allowed}]" if f.allowed else ""
        size = f" [{f.table}: {_size(f.size)}, {f.estimate}]" if f.estimate else ""
        severity = _paint(f"{f.severity} {f.rule}", f.severity, colour)
        lines.append(f"{_paint(_where(f), 'path', colour)}: {severity}: {f.message}{extra}{size}")
        if f.sql:
            lines.append(_paint(f"    {' '.join(f.sql.split())[:200]}", "dim", colour))
        if f.severity != "allowed":
            lines.append(f"    instead: {f.alternative}")
    if any(f.severity != "allowed" for f in report.findings):
        lines.append(
            _paint("why, and what to write instead, with examples: planrun lint --explain RULE", "dim", colour)
        )
    lines.append(_summary(report))
    return "\n".join(lines) + "\n"


def _summary(report) -> str:
    allowed = len([f for f in report.findings if f.severity == "allowed"])
    text = (
        f"{len(report.revisions)} revision{'s' if len(report.revisions) != 1 else ''} linted: "
        f"{len(report.errors)} errors, {len(report.warnings)} warnings, {allowed} allowed"
    )
    if report.captured:
        text += f"; {len(report.captured)} linted from a run on a scratch database ({', '.join(report.captured)})"
    if report.old_revisions:
        counts = ", ".join(f"{rule} {n}" for rule, n in sorted(report.old.items())) or "none"
        text += f"; {len(report.old_revisions)} older revisions (lint.since) not judged: findings {counts}"
    return text


def _json(report) -> str:
    return (
        json.dumps(
            {
                "revisions": report.revisions,
                "errors": len(report.errors),
                "warnings": len(report.warnings),
                "findings": [f.to_dict() for f in report.findings],
                "old": {"revisions": report.old_revisions, "findings": report.old},
                "captured": report.captured,
            },
            indent=2,
        )
        + "\n"
    )


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github(report) -> str:
    lines = []
    for f in report.findings:
        level = {"error": "error", "warning": "warning"}.get(f.severity, "notice")
        body = f"{f.message} Instead: {f.alternative}" if f.severity != "allowed" else f"allowed: {f.allowed}"
        where = f"file={f.path},line={f.line},col={f.column}"
        lines.append(f"::{level} {where},title=planrun lint {f.rule}::{_escape(body)}")
    return "\n".join(lines) + ("\n" if lines else "")


def _markdown(report) -> str:
    lines = [f"### planrun lint: {_summary(report)}", ""]
    if not report.findings:
        return "\n".join(lines + ["No unsafe operations found."]) + "\n"
    lines += ["| | rule | where | what | instead |", "|---|---|---|---|---|"]
    for f in report.findings:
        what = (
            f.message
            + (f" — allowed: {f.allowed}" if f.allowed else "")
            + (f" — {f.table}: {_size(f.size)}, {f.estimate}" if f.estimate else "")
        )
        instead = "" if f.allowed else f.alternative
        lines.append(f"| {_ICON[f.severity]} | `{f.rule}` | `{_where(f)}` | {_cell(what)} | {_cell(instead)} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
