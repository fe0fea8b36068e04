"""What simple CHECK constraints allow, so generated values satisfy them from the start:
``price >= 0``, ``qty BETWEEN 1 AND 99``, ``status IN ('a', 'b')``, ``char_length(name) > 0``.

Only the conjuncts of this shape are read (pglast parses the expression the catalog prints);
anything else is left to the server, and the rows it refuses are counted, not fatal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}


@dataclass
class Limits:
    """The range, the allowed values and the lengths a column's checks allow."""

    low: Decimal | None = None
    high: Decimal | None = None
    choices: list[str] | None = None
    min_length: int = 0
    max_length: int | None = None
    not_empty: bool = False
    extra: list[str] = field(default_factory=list)

    def allows(self, number: Decimal) -> bool:
        return (self.low is None or number >= self.low) and (self.high is None or number <= self.high)


def read_limits(expressions: list[str]) -> dict[str, Limits]:
    """Per column, what the CHECK ``expressions`` say about it."""
    limits: dict[str, Limits] = {}
    for expression in expressions:
        for term in _conjuncts(expression):
            _read_term(term, limits)
    return limits


def _conjuncts(expression: str) -> list:
    from pglast import ast, parse_sql
    from pglast.parser import ParseError

    try:
        where = parse_sql(f"SELECT 1 WHERE {expression}")[0].stmt.whereClause
    except ParseError:
        return []
    pending, terms = [where], []
    while pending:
        node = pending.pop()
        if isinstance(node, ast.BoolExpr) and node.boolop == 0:  # AND
            pending.extend(node.args)
        else:
            terms.append(node)
    return terms


def _column(node) -> str | None:
    from pglast import ast

    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.ColumnRef) and isinstance(node.fields[-1], ast.String):
        return node.fields[-1].sval
    return None


def _constant(node):
    from pglast import ast

    while isinstance(node, ast.TypeCast):
        node = node.arg
    if isinstance(node, ast.A_Const) and not node.isnull:
        value = node.val
        if isinstance(value, ast.Integer):
            return Decimal(value.ival)
        if isinstance(value, ast.Float):
            return Decimal(value.fval)
        if isinstance(value, ast.String):
            return value.sval
    return None


def _length_of(node) -> str | None:
    from pglast import ast

    if isinstance(node, ast.FuncCall) and node.funcname[-1].sval in ("char_length", "length", "character_length"):
        return _column(node.args[0]) if node.args else None
    return None


def _read_term(term, limits: dict[str, Limits]) -> None:
    from pglast import ast
    from pglast.enums import A_Expr_Kind

    if not isinstance(term, ast.A_Expr):
        return
    operator = term.name[-1].sval if term.name else None
    if term.kind == A_Expr_Kind.AEXPR_BETWEEN and (name := _column(term.lexpr)):
        low, high = (_constant(node) for node in term.rexpr)
        if isinstance(low, Decimal) and isinstance(high, Decimal):
            _bound(limits.setdefault(name, Limits()), ">=", low)
            _bound(limits[name], "<=", high)
        return
    if term.kind in (A_Expr_Kind.AEXPR_IN, A_Expr_Kind.AEXPR_OP_ANY) and operator == "=":
        name = _column(term.lexpr)
        items = term.rexpr
        while isinstance(items, ast.TypeCast):
            items = items.arg
        if isinstance(items, ast.A_ArrayExpr):
            items = items.elements
        values = [_constant(item) for item in items or ()] if isinstance(items, tuple | list) else []
        if name and values and None not in values:
            limits.setdefault(name, Limits()).choices = [str(v) for v in values]
        return
    if term.kind != A_Expr_Kind.AEXPR_OP or operator not in _FLIP and operator != "<>":
        return
    left, right = term.lexpr, term.rexpr
    if _constant(left) is not None:  # 0 <= price: the column on the left
        left, right, operator = right, left, _FLIP.get(operator, operator)
    value = _constant(right)
    if (name := _length_of(left)) and isinstance(value, Decimal):
        _length(limits.setdefault(name, Limits()), operator, int(value))
    elif (name := _column(left)) and value is not None:
        if operator == "<>" and value == "":
            limits.setdefault(name, Limits()).not_empty = True
        elif isinstance(value, Decimal):
            _bound(limits.setdefault(name, Limits()), operator, value)
        elif operator == "=":
            limits.setdefault(name, Limits()).choices = [value]


def _bound(limit: Limits, operator: str, value: Decimal) -> None:
    # strict bounds are made inclusive with a step small enough for any scale planrun generates
    step = Decimal(1) if value == value.to_integral_value() else Decimal("0.01")
    if operator in (">", ">="):
        low = value + step if operator == ">" else value
        limit.low = low if limit.low is None else max(limit.low, low)
    elif operator in ("<", "<="):
        high = value - step if operator == "<" else value
        limit.high = high if limit.high is None else min(limit.high, high)
    elif operator == "=":
        limit.low = limit.high = value


def _length(limit: Limits, operator: str, value: int) -> None:
    if operator in (">", ">="):
        limit.min_length = max(limit.min_length, value + (operator == ">"))
    elif operator in ("<", "<="):
        high = value - (operator == "<")
        limit.max_length = high if limit.max_length is None else min(limit.max_length, high)
    elif operator == "=":
        limit.min_length = limit.max_length = value
