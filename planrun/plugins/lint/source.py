"""Where in a revision's Python a statement comes from, and the allowances written beside it.

The SQL comes from Alembic's offline mode; the line comes from the revision's source: the calls
inside ``upgrade()``/``downgrade()`` (``op.drop_column("products", "description")``,
``op.execute("...")``, ``zdt.batched_backfill(...)``), matched to each statement by the
operation and the names it touches. An allowance is a comment on the call (or the line above):
``# planrun: allow drop-column reason="column unused since v42"``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ..alembic_project.revision_marks import Allowance, allowances


@dataclass
class Call:
    name: str  # "op.drop_column", "zdt.batched_backfill", "execute"
    line: int
    end_line: int
    strings: list[str]
    keywords: dict[str, str] = field(default_factory=dict)  # existing_type= -> "sa.String(length=50)"


@dataclass
class RevisionSource:
    path: str
    functions: dict[str, tuple[int, int]] = field(default_factory=dict)  # "upgrade" -> (def line, last line)
    calls: dict[str, list[Call]] = field(default_factory=dict)
    bodies_empty: dict[str, bool] = field(default_factory=dict)
    # per function, each ``with op.batch_alter_table(...)`` block: (first line, last line, its
    # strings); its statements are emitted when the block ends, from the ``with`` line
    batches: dict[str, list[tuple[int, int, list[str]]]] = field(default_factory=dict)
    allowances: list[Allowance] = field(default_factory=list)
    indents: list[int] = field(default_factory=list)  # per line (0-based), the column its code starts at

    def column(self, line: int) -> int:
        """Where line ``line``'s code starts (1-based), as editors and annotations count."""
        return self.indents[line - 1] + 1 if 0 < line <= len(self.indents) else 1

    def allowance_for(self, rule: str, line: int, end_line: int) -> Allowance | None:
        for allowance in self.allowances:
            if rule in allowance.rules and line - 1 <= allowance.line <= end_line:
                return allowance
        return None


def read_source(path: str) -> RevisionSource:
    text = open(path, encoding="utf-8").read()
    source = RevisionSource(path)
    tree = ast.parse(text, filename=path)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in ("upgrade", "downgrade"):
            source.functions[node.name] = (node.lineno, node.end_lineno or node.lineno)
            source.calls[node.name] = _calls(node)
            source.bodies_empty[node.name] = _empty(node)
            source.batches[node.name] = _batches(node)
    source.allowances = allowances(text)
    source.indents = [len(line) - len(line.lstrip()) for line in text.splitlines()]
    return source


def _calls(function: ast.FunctionDef) -> list[Call]:
    calls = []
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            strings = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
            keywords = {k.arg: ast.unparse(k.value) for k in node.keywords if k.arg}
            calls.append(Call(name, node.lineno, node.end_lineno or node.lineno, strings, keywords))
    return sorted(calls, key=lambda c: (c.line, c.end_line))


def _batches(function: ast.FunctionDef) -> list[tuple[int, int, list[str]]]:
    found = []
    for node in ast.walk(function):
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if isinstance(call, ast.Call) and ast.unparse(call.func).endswith("batch_alter_table"):
                    strings = [
                        c.value for c in ast.walk(call) if isinstance(c, ast.Constant) and isinstance(c.value, str)
                    ]
                    found.append((node.lineno, node.end_lineno or node.lineno, strings))
    return found


def _empty(function: ast.FunctionDef) -> bool:
    """Only ``pass``, ``...`` and a docstring."""
    for statement in function.body:
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue
        return False
    return True


def _normal(text: str) -> str:
    return " ".join(text.replace('"', "").lower().split()).rstrip(";")


# The Alembic/zdt operations that emit each kind of statement.
OPERATIONS = {
    "drop-column": ("drop_column",),
    "add-column": ("add_column",),
    "alter-column": ("alter_column",),
    "drop-table": ("drop_table",),
    "create-table": ("create_table",),
    "index": ("create_index", "create_index_concurrently"),
    "drop-index": ("drop_index", "drop_index_concurrently"),
    "rename-column": ("alter_column",),
    "rename-table": ("rename_table",),
    "foreign-key": ("create_foreign_key",),
    "check": ("create_check_constraint", "add_not_null_safely"),
    "unique": ("create_unique_constraint",),
    "primary-key": ("create_primary_key",),
    "update": ("batched_backfill",),
    "not-null": ("alter_column", "add_not_null_safely"),
}


def keyword_of(
    source: RevisionSource, direction: str, operation: str, names: list[str], keyword: str, at_line: int | None = None
) -> str | None:
    """The ``keyword=`` argument's source text of the ``operation`` call that emitted the
    statement (spanning ``at_line``, its emitting line: this finds ``batch_op.alter_column``,
    whose table is named by the ``batch_alter_table`` around it); else of the call naming all
    of ``names``."""
    calls = source.calls.get(direction, [])
    for call in calls if at_line is not None else ():
        if call.name.rsplit(".", 1)[-1] == operation and call.line <= at_line <= call.end_line:
            if keyword in call.keywords:
                return call.keywords[keyword]
    for first, last, table_strings in source.batches.get(direction, []):
        if at_line != first:
            continue
        for call in calls:  # the block's own calls name the column; the table is the block's
            inside = first < call.line <= last and call.name.rsplit(".", 1)[-1] == operation
            if inside and all(n in call.strings or n in table_strings for n in names if n) and keyword in call.keywords:
                return call.keywords[keyword]
    for call in source.calls.get(direction, []):
        if call.name.rsplit(".", 1)[-1] == operation and all(n in call.strings for n in names if n):
            if keyword in call.keywords:
                return call.keywords[keyword]
    return None


def locate(
    source: RevisionSource, direction: str, sql: str, kind: str, names: list[str], emitted_at: int | None = None
) -> tuple[int, int]:
    """The line span of the call that emitted ``sql``: the outermost call spanning the line the
    statement was emitted from (``emitted_at``, see :mod:`.origins`); without it, the call that
    most likely did, by text and names; the function's def line when nothing matches."""
    calls = source.calls.get(direction, [])
    if emitted_at is not None:
        spanning = [c for c in calls if c.line <= emitted_at <= c.end_line]
        if spanning:
            outer = max(spanning, key=lambda c: (c.end_line - c.line, -c.line))
            return outer.line, outer.end_line
        return emitted_at, emitted_at
    wanted = _normal(sql)
    for call in calls:
        if any(_normal(s) and (_normal(s) == wanted or _normal(s) in wanted) for s in call.strings if len(s) > 12):
            return call.line, call.end_line
    operations = OPERATIONS.get(kind, ())
    named = [c for c in calls if c.name.rsplit(".", 1)[-1] in operations]
    for call in named:
        if all(any(n == s or n == s.split(".")[-1] for s in call.strings) for n in names if n):
            return call.line, call.end_line
    if named:
        return named[0].line, named[0].end_line
    line = source.functions.get(direction, (1, 1))[0]
    return line, line
