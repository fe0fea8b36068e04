"""The SQL each revision emits, obtained from Alembic's offline mode and parsed with pglast
(libpg_query: PostgreSQL's own parser), one revision and one direction at a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import parse_sql
from pglast.parser import ParseError

from planrun.plugin import StepFailed
from planrun.zdt.sql import ONE_BATCH

from .origins import Origins, TracedBuffer


@dataclass
class Statement:
    revision: str
    direction: str  # upgrade | downgrade
    sql: str
    node: Any  # the pglast statement node
    after_commit: bool = False  # a COMMIT (or BEGIN) came between the previous statement and this one
    in_transaction: bool = True  # false in an autocommit block, or when the SQL has no transactions at all
    captured: bool = False  # from a run on a scratch database (offline mode could not render it)
    line: int | None = None  # the revision file's line that emitted it (None: not known)
    batch: bool = False  # one bounded batch of zdt's batched changes (its time does not grow with the table)


@dataclass
class RevisionSQL:
    revision: str
    direction: str
    statements: list[Statement]
    problem: str | None = None  # why it could not be rendered or parsed
    nested: list[Statement] = field(default_factory=list)  # BEGINs sent inside an open transaction
    captured: bool = False  # taken from a run on a scratch database, not rendered offline
    unrenderable: bool = False  # offline mode could not render it (a run may still capture it)


def _parents(script) -> list[str]:
    down = script.down_revision
    if down is None:
        return []
    return list(down) if isinstance(down, (tuple, list)) else [down]


def render(project, run_command, revision: str, direction: str) -> RevisionSQL:
    """``run_command(project, action, verb)`` runs an Alembic action the way the migrate
    plugin does (timeouts, errors that name the revision)."""
    script = project.script.get_revision(revision)
    parents = _parents(script)
    before = parents[0] if parents else "base"
    origins = Origins(script.path)
    buffer = TracedBuffer(origins)
    project.config.output_buffer = buffer
    try:
        if direction == "upgrade":
            span = f"{before}:{revision}" if parents else revision
            run_command(project, lambda: project.upgrade(span, sql=True), f"offline {direction}")
        else:
            run_command(project, lambda: project.downgrade(f"{revision}:{before}", sql=True), f"offline {direction}")
    except StepFailed as exc:
        return RevisionSQL(revision, direction, [], f"could not render its SQL offline: {exc}", unrenderable=True)
    finally:
        project.config.output_buffer = project.output
    return parse(revision, direction, buffer.getvalue(), project.version_table(), origins)


def parse(
    revision: str, direction: str, sql: str, version_table: str = "alembic_version", origins: Origins | None = None
) -> RevisionSQL:
    """``origins``: which line emitted which part of ``sql`` (see :mod:`.origins`)."""
    try:
        raws = parse_sql(sql)
    except ParseError as exc:
        return RevisionSQL(revision, direction, [], f"its SQL does not parse: {exc}")
    statements, nested = [], []
    committed = False
    autocommit = False  # between an autocommit block's COMMIT and its BEGIN: each statement commits alone
    open_: bool | None = None  # inside BEGIN ... COMMIT (None: not known yet)
    ended = 0  # where the previous statement ended: the comments between belong to the next one
    for raw in raws:
        leading, ended = sql[ended : raw.stmt_location], raw.stmt_location + (raw.stmt_len or len(sql))
        text = (
            sql[raw.stmt_location : raw.stmt_location + raw.stmt_len].strip()
            if raw.stmt_len
            else sql[raw.stmt_location :].strip()
        )
        node = raw.stmt
        if type(node).__name__ == "TransactionStmt":
            begins = node.kind.name in ("TRANS_STMT_BEGIN", "TRANS_STMT_START")
            if begins and open_:
                nested.append(Statement(revision, direction, text, node))  # PostgreSQL only warns; nothing commits
                continue
            committed = True  # locks taken before are released (autocommit_block, a revision's own COMMIT)
            autocommit = node.kind.name in ("TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK")
            open_ = begins or (open_ and not autocommit)
            continue
        if _touches(node, version_table):
            continue
        line = origins.line_at(raw.stmt_location) if origins is not None else None
        statements.append(
            Statement(
                revision,
                direction,
                _strip_comments(text),
                node,
                committed or autocommit,
                not autocommit,
                line=line,
                batch=ONE_BATCH.strip() in leading,
            )
        )
        committed = False
    if not any(type(raw.stmt).__name__ == "TransactionStmt" for raw in raws):
        for statement in statements:  # env.py runs without a transaction (transactional_ddl off)
            statement.in_transaction = False
    return RevisionSQL(revision, direction, statements, nested=nested)


def _touches(node, table: str) -> bool:
    """Whether a statement is Alembic's own bookkeeping on its version table (the UPDATE of each
    step, and the CREATE and DROP TABLE that start and end an offline history)."""
    relation = getattr(node, "relation", None)
    if relation is not None:
        return getattr(relation, "relname", None) == table
    if type(node).__name__ == "DropStmt":
        names = [[getattr(part, "sval", None) for part in item] for item in node.objects or ()]
        return bool(names) and all(name and name[-1] == table for name in names)
    return False


def _strip_comments(text: str) -> str:
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).strip()
