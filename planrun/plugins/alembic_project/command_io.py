"""What surrounds each Alembic command of ``planrun test``: its output captured per case (as
pytest captures a test's), and the environment variables that carry the scratch database's URL
to an env.py that reads its URL from the environment."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator


class Capture(io.StringIO):
    """A capture buffer nobody can close: env.py's fileConfig shuts down the logging handlers it
    finds, and some close their stream (ours, while it is captured)."""

    def close(self) -> None:
        pass


@contextlib.contextmanager
def captured(buffer: io.StringIO, verbose: bool) -> Iterator[None]:
    """What Alembic and env.py print (their logging included: env.py's fileConfig builds its
    handlers on the stream it finds, this buffer) goes to ``buffer``, as pytest captures output:
    a 124-revision project's own INFO lines would otherwise bury the report."""
    if verbose:
        yield
        return
    import logging

    root = logging.getLogger()
    handlers = [h for h in root.handlers if isinstance(h, logging.StreamHandler)]
    saved = [h.stream for h in handlers]
    for handler in handlers:  # handlers an earlier command's fileConfig made keep their old stream
        handler.stream = buffer  # (not setStream: it flushes the old stream, which may be closed by now)
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield
    finally:
        for handler, stream in zip(handlers, saved, strict=False):
            handler.stream = stream


def quietly():
    """What Alembic and env.py print kept out of the output entirely (planrun's own reads of
    the version table, lint's renders): ``captured`` into a buffer nobody shows."""
    return captured(Capture(), verbose=False)


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in the process environment for the body, the previous ones back after."""
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
