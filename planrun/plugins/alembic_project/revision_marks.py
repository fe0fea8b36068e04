"""The comments a revision carries for planrun, read in one place for lint, the graph check and
the stairway: ``# planrun: allow RULE[, RULE] reason="..."`` beside a call (or on the line
above it), and the irreversible marker, which is that allowance for ``empty-downgrade``:

    def downgrade():
        # planrun: allow empty-downgrade reason="the old prices are gone; restore from the backup"
        pass

A revision so marked has no way back by downgrade, on purpose: lint allows its empty
downgrade, the graph check does not count it, and the stairway checks its upgrade and that the
upgrade is repeatable (from a database rebuilt at its parent), reporting it as irreversible,
not failed. Without ``downgrade()`` at all, the marker may stand anywhere in the file.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

ALLOW = re.compile(
    r"#\s*planrun:\s*allow\s+(?P<rules>[a-z0-9\-]+(?:\s*,\s*[a-z0-9\-]+)*)"
    r"(?:\s+reason\s*=\s*(?P<q>[\"'])(?P<reason>.*?)(?P=q))?"
)
IRREVERSIBLE_RULE = "empty-downgrade"


@dataclass
class Allowance:
    rules: tuple[str, ...]
    reason: str | None
    line: int


def allowances(text: str) -> list[Allowance]:
    """Every ``# planrun: allow`` comment of a revision's source, with its line."""
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT and (match := ALLOW.search(token.string)):
                rules = tuple(r.strip() for r in match["rules"].split(","))
                reason = match["reason"].strip() if match["reason"] is not None else None
                found.append(Allowance(rules, reason or None, token.start[0]))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return found


def irreversible_reason(path: Path | str) -> str | None:
    """The reason a revision is marked irreversible (see the module), or None."""
    text = Path(path).read_text(encoding="utf-8")
    marks = [a for a in allowances(text) if IRREVERSIBLE_RULE in a.rules and a.reason]
    if not marks:
        return None
    tree = ast.parse(text)
    spans = [
        (node.lineno - 1, node.end_lineno or node.lineno)
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "downgrade"
    ]
    if not spans:
        return marks[0].reason
    return next((a.reason for a in marks if any(first <= a.line <= last for first, last in spans)), None)
