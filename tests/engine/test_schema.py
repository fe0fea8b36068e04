"""The committed JSON Schema is the one the models generate, every example plan validates
against it, and every plan field and hook says what it is for."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import jsonschema
import pytest

from planrun.engine import api, hookspecs
from planrun.engine.plan.source import load_plan_source

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMA = ROOT / "schemas" / "plan.schema.json"
PLANS = sorted((ROOT / "plans").glob("*.yaml"))


def test_committed_schema_is_current():
    assert SCHEMA.read_text() == api.schema_text(), (
        "schemas/plan.schema.json is stale: run `planrun schema > schemas/plan.schema.json`"
    )


def test_committed_notification_schema_is_current_and_documents_every_fact_key():
    """The notification payload's schema is built from the fact types (each documents the keys
    its payload gives): every key an empty fact of each declared type gives is in it, with a
    description, and the committed file is the generated one."""
    from planrun.engine.contexts import fact_types
    from planrun.engine.plugins import load_plugins

    committed = ROOT / "schemas" / "notification.schema.json"
    assert committed.read_text() == api.schema_text(notifications=True), (
        "schemas/notification.schema.json is stale: run `planrun schema --notifications > "
        "schemas/notification.schema.json`"
    )
    for kind in fact_types(load_plugins(autoload=False)):
        given = set(kind().payload())
        assert given == set(kind.payload_schema), f"{kind.__name__}: payload {given}, documented {kind.payload_schema}"
    properties = json.loads(committed.read_text())["properties"]
    assert all(spec.get("description") for spec in properties.values()), properties


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.name)
def test_example_plans_validate_against_the_schema(plan):
    urls = {
        name: f"postgresql://u:p@localhost/{name.lower()}" for name in ("DATABASE_URL", "ORDERS_URL", "BILLING_URL")
    }
    data = load_plan_source(plan, environ=urls).data
    jsonschema.validate(data, json.loads(SCHEMA.read_text()))


def test_schema_rejects_what_the_models_reject():
    schema = json.loads(SCHEMA.read_text())
    bad = {"version": 1, "name": "x", "target": {"url": "postgresql://h/db"}, "migrate": {"lock_timout": "3s"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_every_plan_field_has_a_description():
    schema = json.loads(SCHEMA.read_text())
    missing = []
    for name, definition in [("Plan", schema), *schema["$defs"].items()]:
        for field, spec in definition.get("properties", {}).items():
            if "$ref" in spec:  # a section: its description is the referenced model's
                spec = schema["$defs"][spec["$ref"].rsplit("/", 1)[-1]]
            if not spec.get("description"):
                missing.append(f"{name}.{field}")
    assert missing == []


def test_every_hook_is_documented():
    hooks = [f for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("planrun_")]
    assert len(hooks) >= 10
    assert [h.__name__ for h in hooks if len((h.__doc__ or "").split()) < 15] == []
