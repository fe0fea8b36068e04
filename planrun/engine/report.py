"""What the operator sees. On a terminal: rich, with a spinner on the running step. Elsewhere
(CI logs): plain lines, one per event. Every text passes through the redactor first."""
from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator, TextIO

from rich.console import Console
from rich.markup import escape


class Reporter:
    def __init__(self, redact: Callable[[str], str] = lambda s: s, stream: TextIO | None = None, quiet: bool = False):
        self.redact = redact
        self.stream = stream or sys.stdout
        self.interactive = self.stream.isatty()
        self.console = Console(file=self.stream, highlight=False, soft_wrap=True, force_terminal=self.interactive or None)
        self.quiet = quiet

    def _print(self, text: str, style: str = "") -> None:
        if self.quiet:
            return
        safe = escape(self.redact(text))
        self.console.print(f"[{style}]{safe}[/{style}]" if style else safe)

    def heading(self, text: str) -> None:
        self._print(text, "bold")

    def info(self, text: str) -> None:
        self._print(text)

    def warning(self, text: str) -> None:
        self._print(f"warning: {text}", "yellow")

    def error(self, text: str) -> None:
        self._print(f"error: {text}", "red")

    def section(self, title: str, body: str) -> None:
        self._print(f"\n== {title}", "bold")
        for line in body.rstrip("\n").splitlines() or ["(none)"]:
            self._print(f"  {line}")

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[None]:
        """Shows the step as running while the body runs (a spinner on a terminal)."""
        if self.interactive and not self.quiet:
            with self.console.status(escape(self.redact(f"{label} ..."))):
                yield
        else:
            yield

    def step_done(self, label: str, outcome: str, seconds: float, detail: str | None = None) -> None:
        marks = {"ok": ("✓", "green"), "failed": ("✗", "red"), "skipped": ("-", "dim")}
        mark, style = marks.get(outcome, ("•", ""))
        text = f"{mark} {label:<28} {seconds:7.2f}s"
        if detail:
            text += f"  {detail}"
        self._print(text, style)
