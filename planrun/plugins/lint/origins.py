"""Which line of a revision emitted each statement, recorded as the statement is emitted.

Alembic writes one statement per write to its offline output buffer, and SQLAlchemy sends one
per cursor execution; at that moment the revision's own frame is on the stack, at the line of
the call that is running (``op.create_table(...)``, ``op.execute(...)``, a helper called from
``upgrade()``). Matching a statement to a call by the text they share placed statements on the
first earlier call that merely mentioned the same table; the stack does not guess.
"""

from __future__ import annotations

import bisect
import io
import os
import sys


class Origins:
    """Per emitted text, where it started in the output (bytes: pglast's locations are byte
    offsets) and the revision file's line that was running then (None: outside the revision,
    such as the BEGIN Alembic writes around it)."""

    def __init__(self, path: str) -> None:
        self.path = os.path.realpath(path)
        self._files: dict[str, bool] = {}  # a code object's file name -> is it the revision's
        self.offsets: list[int] = []
        self.lines: list[int | None] = []
        self.size = 0

    def _ours(self, filename: str) -> bool:
        if filename not in self._files:
            self._files[filename] = os.path.realpath(filename) == self.path
        return self._files[filename]

    def running_line(self) -> int | None:
        frame = sys._getframe(1)
        while frame is not None:
            if self._ours(frame.f_code.co_filename):
                return frame.f_lineno
            frame = frame.f_back
        return None

    def note(self, text: str, line: int | None = None) -> None:
        """``text`` is being emitted (at ``line``, or where the revision runs now)."""
        self.offsets.append(self.size)
        self.lines.append(line if line is not None else self.running_line())
        self.size += len(text.encode())

    def line_at(self, offset: int) -> int | None:
        """The line that emitted the text at byte ``offset`` of the output."""
        index = bisect.bisect_right(self.offsets, offset) - 1
        return self.lines[index] if index >= 0 else None


class TracedBuffer(io.StringIO):
    """Alembic's offline output buffer, noting where each write came from."""

    def __init__(self, origins: Origins) -> None:
        super().__init__()
        self.origins = origins

    def write(self, text: str) -> int:
        self.origins.note(text)
        return super().write(text)
