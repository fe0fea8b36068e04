"""Keeping secrets out of everything planrun prints or writes.

The target URL holds a password; it is shown as ``host:port/database`` and any password found
in a text is replaced by ``***`` before it reaches the console, the journal or a notifier.
"""

from __future__ import annotations

import contextlib
import re
import sys
from urllib.parse import unquote, urlsplit

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@\s]+)@", re.I)


def url_password(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def describe_url(url: str) -> str:
    """``postgresql://u:p@db.example:5432/app`` -> ``db.example:5432/app`` (no credentials)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable url>"
    return f"{host}{port}{parts.path or '/'}"


class Redactor:
    """Removes secrets from text where they stand as secrets: the password of any
    ``scheme://user:password@`` URL, and each known secret where it stands as a value of its
    own (``password=shop``, ``"shop"``, ``shop`` alone), not where its letters are part of
    another word: with the password ``shop``, the database ``shop_prod`` stays readable."""

    def __init__(self, secrets: list[str] | None = None):
        self.secrets: list[str] = []
        self._patterns: list[re.Pattern] = []
        for secret in secrets or []:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 3 and secret not in self.secrets:
            self.secrets = sorted([*self.secrets, secret], key=len, reverse=True)
            # a secret as a value of its own: no letter, digit or underscore right before or after it
            self._patterns = [re.compile(rf"(?<![A-Za-z0-9_]){re.escape(s)}(?![A-Za-z0-9_])") for s in self.secrets]

    def __call__(self, text: str) -> str:
        text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
        for pattern in self._patterns:
            text = pattern.sub("***", text)
        return text


_EVERY_SECRET = Redactor()  # every secret a plan of this process named: the command line's output filter


def remember(redactor: Redactor) -> None:
    """Add ``redactor``'s secrets to the ones the whole command's output is filtered by."""
    for secret in redactor.secrets:
        _EVERY_SECRET.add(secret)


def every_secret() -> Redactor:
    return _EVERY_SECRET


@contextlib.contextmanager
def redacted_output(redact):
    """``sys.stdout`` and ``sys.stderr`` through ``redact`` for the body (see
    :class:`RedactedStream`)."""
    out, err = RedactedStream(sys.stdout, redact), RedactedStream(sys.stderr, redact)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield
    finally:
        out.flush()
        err.flush()


class RedactedStream:
    """A text stream that writes to ``stream`` through ``redact``, a line at a time (a secret
    split across two writes is still whole when redacted). What a plugin's step, a project's
    env.py or a migration prints while planrun runs it goes through one of these, so that a
    revision that prints its URL does not print its password."""

    def __init__(self, stream, redact):
        self.stream, self.redact = stream, redact
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            lines, _, self._pending = self._pending.rpartition("\n")
            self.stream.write(self.redact(lines + "\n"))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self.stream.write(self.redact(self._pending))
            self._pending = ""
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def __getattr__(self, name):  # encoding, fileno...: the stream's own
        return getattr(self.stream, name)
