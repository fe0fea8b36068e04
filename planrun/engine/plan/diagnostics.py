"""Turning pydantic's validation errors into ``file:line:col: path: message`` problems.

pydantic gives each error a ``loc`` (a path through the data, with union tags mixed in) and a
type; the plan source gives the line and column of every value. The message is phrased for the
person editing the YAML: what was expected, what was found, and a "did you mean" for typos.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import Problem
from .source import PlanSource

_EXPECTED = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


MAX_DESCRIBED = 200  # problems phrased in full; a plan with more is counted, not described


def problems_from_validation(
    error: ValidationError, source: PlanSource, model: type[BaseModel]
) -> tuple[list[Problem], int]:
    """The first :data:`MAX_DESCRIBED` problems, located and phrased, and how many there are in all."""
    problems = []
    items = error.errors(include_url=False)
    for item in items[:MAX_DESCRIBED]:
        path, _ = walk(model, item["loc"])
        problems.append(_problem(dict(item), path, source, model))
    described = sorted(set(problems), key=lambda p: (p.line or 0, p.column or 0, p.path))
    return described, len(described) + max(0, len(items) - MAX_DESCRIBED)


def walk(model: type[BaseModel], loc: tuple) -> tuple[tuple, Any]:
    """Follow ``loc`` through the model's types: the data path it names (pydantic's union tags
    dropped) and the type found at its end (None once the types run out)."""
    path: list[Any] = []
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if _is_union(current):
            member = _union_member(current, part)
            if member is not None:
                current = member  # the part was a tag, not a key of the data
                continue
            current = None
        path.append(part)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            current = field.annotation if field else None
        elif typing.get_origin(current) in (list, tuple) and isinstance(part, int):
            current = typing.get_args(current)[0]
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            current = None
    return tuple(path), current


def did_you_mean(word: str, known) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or nothing."""
    guess = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{guess[0]}'?)" if guess else ""


def _problem(item: dict, path: tuple, source: PlanSource, model: type[BaseModel]) -> Problem:
    kind = item["type"]
    value = item.get("input")
    if kind == "missing":
        return source.problem(path[:-1], f"missing required key '{path[-1]}'")
    if kind == "extra_forbidden":
        allowed = allowed_keys(model, item["loc"][:-1])
        hint = did_you_mean(str(path[-1]), allowed)
        if not hint and allowed:
            hint = f"; expected one of: {', '.join(allowed)}"
        return source.problem(path, "unknown key" + hint, key=True)
    if kind == "unknown_plugin_type":
        ctx = item.get("ctx", {})
        known = [k for k in str(ctx.get("known", "")).split(", ") if k]
        keys = [str(k) for k in value] if isinstance(value, dict) else []
        message = f"unknown {ctx.get('kind', 'plugin')} type"
        guess = next((m for k in keys for m in difflib.get_close_matches(k, known, n=1, cutoff=0.6)), None)
        if keys:
            message += f" {', '.join(repr(k) for k in keys)}"
        message += f"; expected one of: {', '.join(known)}"
        if guess:
            message += f" (did you mean '{guess}'?)"
        return source.problem(path, message)
    if kind in _EXPECTED:
        return source.problem(path, f"expected {_EXPECTED[kind]}, got {describe(value)}")
    if kind in ("literal_error", "enum"):
        return source.problem(path, f"expected {item['ctx']['expected']}, got {describe(value)}")
    if kind == "too_short" and isinstance(value, dict):
        return source.problem(path, "names nothing; name at least one")
    if kind == "string_too_long":
        limit = item.get("ctx", {}).get("max_length")
        return source.problem(path, f"{len(value or ''):,} characters; at most {limit:,} here")
    if kind == "string_pattern_mismatch":
        return source.problem(path, f"{describe(value)} is not allowed here; use letters, digits, '-', '_' and '.'")
    message = item["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind not in ("value_error", "missing_target", "both_targets"):
        message = f"{message[:1].lower()}{message[1:]}, got {describe(value)}"
    return source.problem(path, message)


def describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return repr(value)


def allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys the model accepts at ``loc`` (which may hold union tags)."""
    _, current = walk(model, loc)
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        if typing.get_origin(tp) is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif _is_union(tp):
            members = [m for m in typing.get_args(tp) if m is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _union_member(tp: Any, tag: Any) -> Any:
    for member in typing.get_args(tp):
        for meta in getattr(member, "__metadata__", ()):
            if getattr(meta, "tag", None) == tag:
                return member
    return None
