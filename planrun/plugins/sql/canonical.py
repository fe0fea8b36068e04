"""Catalog definitions compared by meaning, not by how PostgreSQL happens to print them.

PostgreSQL prints a stored expression from its parse tree, and the tree of the same expression
can differ after pg_dump and pg_restore: ``x IN ('a', 'b')`` on a varchar column is stored as
``(x)::text = ANY ((ARRAY['a'::varchar, 'b'::varchar])::text[])``, and once restored from that
very text as ``(x)::text = ANY (ARRAY[('a'::varchar)::text, ('b'::varchar)::text])``. Both
compare each element as text. Comparing the printed text, a restore that was exact looked
changed: ``verify: restore`` failed on untouched databases and correct rollbacks ended in exit 3.

:func:`canonical` parses a definition with PostgreSQL's own parser (pglast), rewrites the forms
that mean the same into one (a cast of an ARRAY constructor to ``T[]`` becomes a cast of each
element to ``T``, which is what PostgreSQL does when it evaluates it), and prints it back once.
Anything it cannot parse is compared as it is: a real change always still differs.
"""

from __future__ import annotations

import functools

# printed forms that need the rewrite; every other definition is compared as printed (fast path)
_REWRITTEN = ("ARRAY[",)


def canonical(kind: str, definition: str) -> str:
    """``definition`` as a fingerprint line compares it: for constraints (``CHECK (...)``,
    ``FOREIGN KEY ...``), indexes (``CREATE INDEX ...``), policies (``CREATE POLICY ...``) and
    views (``view SELECT ...``)."""
    if not any(form in definition for form in _REWRITTEN):
        return definition
    return _canonical(kind, definition)


@functools.lru_cache(maxsize=4096)
def _canonical(kind: str, definition: str) -> str:
    if kind == "constraint":
        wrapped, prefix = f"ALTER TABLE planrun_t ADD CONSTRAINT planrun_c {definition}", ""
    elif kind in ("index", "policy"):
        wrapped, prefix = definition, ""
    elif kind == "relation" and definition.startswith("view "):
        wrapped, prefix = definition.removeprefix("view "), "view "
    elif kind == "relation" and definition.startswith("materialized view "):
        wrapped, prefix = definition.removeprefix("materialized view "), "materialized view "
    else:
        return definition
    try:
        from pglast import parse_sql
        from pglast.stream import RawStream

        tree = parse_sql(wrapped)
        _array_casts_pushed()(tree)
        return prefix + RawStream()(tree)
    except Exception:  # not parseable here: compared as printed, never falsely equal
        return definition


@functools.cache
def _array_casts_pushed():
    """``(ARRAY[a, b])::T[]`` -> ``ARRAY[a::T, b::T]``: the element casts PostgreSQL applies
    (a pglast visitor, made on first use so that importing this module imports no parser)."""
    from pglast import ast
    from pglast.visitors import Visitor

    class PushArrayCasts(Visitor):
        def visit_TypeCast(self, _ancestors, node):  # noqa: N802 (pglast's naming)
            if not isinstance(node.arg, ast.A_ArrayExpr) or not node.typeName.arrayBounds:
                return None
            name = node.typeName
            element = ast.TypeName(names=name.names, typmods=name.typmods, setof=name.setof, pct_type=name.pct_type)
            elements = tuple(ast.TypeCast(arg=e, typeName=element) for e in node.arg.elements or ())
            return ast.A_ArrayExpr(elements=elements)

    return PushArrayCasts()
