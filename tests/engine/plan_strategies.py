"""Hypothesis strategies for plans (issue 26): plans drawn from planrun's own JSON Schema, and
those plans mutated with the values that once got past validation and crashed or hung a later
command (huge and infinite numbers, 5,000-digit integers, unclosed ``${``, format fields in
paths, long strings, odd shapes). Shared by the property tests and ``bench/plan_properties.py``."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json").read_text())

ODD_VALUES = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        [
            "${",
            "${DATABASE_URL",
            "${1BAD}",
            "{run_id.__class__.__mro__}",
            "{name!r}",
            "{",
            "9" * 5000,
            "x" * 70_000,
            "99999999999999999999999h",
            ".inf",
            "-1s",
            "\x00",
            "",
        ]
    ),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=3),
)


def _without_plugins(plan):
    """A drawn plan never imports modules by random names."""
    if isinstance(plan, dict):
        plan.pop("plugins", None)
    return plan


schema_plans = from_schema(SCHEMA).map(_without_plugins)


def paths(value, prefix=(), *, leaves: bool = False):
    """Every path into ``value`` (with ``leaves``, only those that end at a scalar)."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    if not leaves or not children:
        yield prefix
    for key, item in children:
        yield from paths(item, prefix + (key,), leaves=leaves)


@st.composite
def mutated_plans(draw):
    """A schema plan with one to three of its values replaced, removed, or given a sibling
    key that does not exist."""
    plan = draw(schema_plans)
    for _ in range(draw(st.integers(1, 3))):
        found = [p for p in paths(plan) if p and p[0] != "plugins"]
        if not found:
            break
        path = draw(st.sampled_from(found))
        parent = plan
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "remove", "extra"]))
        if action == "replace":
            parent[path[-1]] = draw(ODD_VALUES)
        elif action == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(ODD_VALUES)
    return plan
