"""What the operator sees. On a terminal: rich, with a live status under the running step (the
statement, lock waits, blockers, size, backfill progress). Elsewhere (CI logs): one logfmt line
per event (``ts=... level=info event=step step=migrate outcome=ok seconds=0.21 msg="..."``), so
a log can be parsed line by line. Every text passes through the redactor first.

The dry run's sections (the SQL Alembic would run...) are a document, not events: they are
printed as plain text either way.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

_BARE = re.compile(r"^[A-Za-z0-9_.:/+\-@%]+$")


def logfmt(fields: dict[str, Any]) -> str:
    """``key=value`` pairs; values with spaces, quotes or newlines are quoted and escaped."""
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        text = f"{value:g}" if isinstance(value, float) else str(value)
        if not _BARE.match(text):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


class Reporter:
    def __init__(self, redact: Callable[[str], str] = lambda s: s, stream: TextIO | None = None, quiet: bool = False):
        self.redact = redact
        self.stream = stream or sys.stdout
        self.interactive = self.stream.isatty()
        from rich.console import Console  # imported when a run reports, so --help stays fast

        self.console = Console(
            file=self.stream, highlight=False, soft_wrap=True, force_terminal=self.interactive or None
        )
        self.quiet = quiet
        self._write_mutex = threading.Lock()
        self._status: Any = None
        self._status_label = ""
        self._live_lines: dict[str, list[str]] = {}

    def _emit(self, level: str, event: str, text: str, style: str = "", **fields: Any) -> None:
        if self.quiet:
            return
        text = self.redact(text)
        if self.interactive:
            safe = escape(text)
            self.console.print(f"[{style}]{safe}[/{style}]" if style else safe)
            return
        ts = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
        fields = {k: self.redact(v) if isinstance(v, str) else v for k, v in fields.items()}
        line = logfmt({"ts": ts, "level": level, "event": event, **fields, "msg": text})
        with self._write_mutex:
            self.stream.write(line + "\n")
            self.stream.flush()

    def heading(self, text: str) -> None:
        self._emit("info", "heading", text, "bold")

    def info(self, text: str) -> None:
        self._emit("info", "info", text)

    def warning(self, text: str) -> None:
        self._emit("warn", "warning", f"warning: {text}", "yellow")

    def error(self, text: str) -> None:
        self._emit("error", "error", f"error: {text}", "red")

    def event(self, event: str, text: str, level: str = "info", **fields: Any) -> None:
        """A run event with its own fields (an alert, a pause): a line of its own."""
        style = {"warn": "yellow", "error": "red"}.get(level, "")
        self._emit(level, event, text, style, **fields)

    def section(self, title: str, body: str) -> None:
        if self.quiet:
            return
        lines = [f"\n== {title}", *(f"  {line}" for line in body.rstrip("\n").splitlines() or ["(none)"])]
        for index, line in enumerate(lines):
            safe = escape(self.redact(line))
            self.console.print(f"[bold]{safe}[/bold]" if index == 0 else safe)

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[None]:
        """Shows the step as running while the body runs (a live status on a terminal)."""
        if self.interactive and not self.quiet:
            with self.console.status(escape(self.redact(f"{label} ..."))) as status:
                self._status, self._status_label, self._live_lines = status, label, {}
                try:
                    yield
                finally:
                    self._status = None
        else:
            yield

    def live(self, part: str, lines: list[str], **fields: Any) -> None:
        """What the running step is doing now. ``part`` names the source (``monitor``,
        ``progress``); on a terminal its lines replace its previous ones under the step's
        status, elsewhere the fields become one ``event=<part>`` line."""
        if self.quiet:
            return
        if not self.interactive:
            self._emit("info", part, "; ".join(lines), **fields)
            return
        status = self._status
        if status is None:
            return
        self._live_lines[part] = [self.redact(line) for line in lines]
        body = "\n".join(f"  {line}" for part_lines in self._live_lines.values() for line in part_lines)
        status.update(escape(f"{self._status_label} ...\n{body}"))

    def step_done(self, label: str, outcome: str, seconds: float, detail: str | None = None) -> None:
        marks = {"ok": ("✓", "green"), "failed": ("✗", "red"), "skipped": ("-", "dim")}
        mark, style = marks.get(outcome, ("•", ""))
        text = f"{mark} {label:<28} {seconds:7.2f}s"
        if detail:
            text += f"  {detail}"
        level = "error" if outcome == "failed" else "info"
        self._emit(level, "step", text, style, step=label, outcome=outcome, seconds=round(seconds, 3))


def escape(text: str) -> str:
    """Text shown as it is, never read as rich markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)
