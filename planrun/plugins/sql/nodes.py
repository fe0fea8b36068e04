"""Reading names out of pglast statement nodes: shared by what reads a migration's SQL (the
tables it touches, for a scoped backup; the lint rules)."""

from __future__ import annotations


def relation_name(relation) -> str | None:
    """A RangeVar as written: ``users``, ``billing.invoices``; None without one."""
    if relation is None:
        return None
    return f"{relation.schemaname}.{relation.relname}" if relation.schemaname else relation.relname


def sql_name(relation) -> str | None:
    """A RangeVar as PostgreSQL reads it back: each part quoted where PostgreSQL's own rules
    need it (``"Accounts"``, ``billing."Invoices"``, ``"odd name".t``), so that ``to_regclass``
    finds exactly the table the statement meant. pglast gives each part with its case as
    written (unquoted parts already folded), so a name never changes on the way."""
    if relation is None:
        return None
    from pglast.stream import maybe_double_quote_name as quoted

    parts = [relation.schemaname, relation.relname]
    return ".".join(quoted(part) for part in parts if part)


def object_sql_names(drop) -> list[str]:
    """The objects a DROP names, each part quoted as :func:`sql_name` does."""
    from pglast.stream import maybe_double_quote_name as quoted

    found = []
    for obj in drop.objects or ():
        parts = [getattr(p, "sval", None) for p in (obj if isinstance(obj, tuple) else (obj,))]
        found.append(".".join(quoted(p) for p in parts if p))
    return found


def object_names(drop) -> list[str]:
    """The objects a DROP names: ``DROP TABLE a, s.b`` -> ["a", "s.b"]; ``DROP FUNCTION f(int)`` -> ["f"]."""
    found = []
    for obj in drop.objects or ():
        kind = type(obj).__name__
        if kind == "ObjectWithArgs":
            obj = obj.objname
        elif kind == "TypeName":
            obj = obj.names
        parts = [getattr(p, "sval", None) for p in (obj if isinstance(obj, tuple) else (obj,))]
        found.append(".".join(p for p in parts if p))
    return found


def called_functions(node) -> set[str]:
    """The names of the functions an expression or statement calls."""
    from pglast.visitors import Visitor

    names: set[str] = set()

    class Calls(Visitor):
        def visit_FuncCall(self, _ancestors, call):  # noqa: N802 (pglast's naming)
            names.add(call.funcname[-1].sval)

    Calls()(node)
    return names
