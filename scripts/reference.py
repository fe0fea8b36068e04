"""Print docs/reference.md: every command with its options, and every plan key with its type,
default and description, generated from the CLI parser and the plan's JSON Schema (the built-in
plugins' commands and sections included). tests/engine/test_reference.py keeps the file current:
`python scripts/reference.py > docs/reference.md` after a change."""

from __future__ import annotations

import argparse
import json
import re
import sys

from planrun.engine.api import schema
from planrun.engine.cli import build_parser
from planrun.engine.plugins import load_plugins


def commands_markdown() -> list[str]:
    parser = build_parser(load_plugins(autoload=False))
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    lines = ["## Commands", ""]
    for name, command in sub.choices.items():
        lines += [f"### `planrun {name}`", "", command.description or "", ""]
        rows = []
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            names = ", ".join(action.option_strings) or action.metavar or action.dest.upper()
            if action.choices:
                names += " {" + "|".join(map(str, action.choices)) + "}"
            default = "" if action.default in (None, False, argparse.SUPPRESS) else f"`{action.default}`"
            rows.append(f"| `{names}` | {_cell(action.help or '')} | {default} |")
        if rows:
            lines += ["| argument | what | default |", "|---|---|---|", *rows, ""]
    return lines


def _cell(text: str) -> str:
    return re.sub(r"\s+", " ", text).replace("|", "\\|").strip()


def _default(value) -> str:
    """A default as a plan would spell it (durations as 5min, not ISO 8601's PT5M)."""
    if isinstance(value, str) and (iso := re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", value)):
        hours, minutes, seconds = (float(part or 0) for part in iso.groups())
        total = hours * 3600 + minutes * 60 + seconds
        return f"`{int(total // 60)}min`" if total >= 60 and total % 60 == 0 else f"`{total:g}s`"
    return f"`{json.dumps(value)}`"


def _resolve(document: dict, node: dict) -> dict:
    while "$ref" in node:
        node = document["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _type(document: dict, node: dict) -> str:
    if "$ref" in node:
        return _resolve(document, node).get("title", "section")
    if "const" in node:
        return json.dumps(node["const"])
    if "enum" in node:
        return " \\| ".join(json.dumps(v) for v in node["enum"])
    if "3s" in node.get("examples", []):
        return "duration"
    for key in ("anyOf", "oneOf"):
        if key in node:
            kinds = [_type(document, n) for n in node[key] if n.get("type") != "null"]
            return " \\| ".join(dict.fromkeys(kinds)) + (
                " (or null)" if any(n.get("type") == "null" for n in node[key]) else ""
            )
    if node.get("type") == "array":
        return f"list of {_type(document, node.get('items', {}))}"
    if (
        node.get("type") == "object"
        and "additionalProperties" in node
        and isinstance(node["additionalProperties"], dict)
    ):
        return f"mapping to {_type(document, node['additionalProperties'])}"
    return node.get("type", "any")


def _rows(document: dict, node: dict) -> tuple[list[str], list[tuple[str, dict]]]:
    """A section's table rows, and the sections nested in it (key, definition)."""
    rows, nested = [], []
    required = set(node.get("required", []))
    for key, prop in node.get("properties", {}).items():
        target = _resolve(document, _single(prop))
        default = "required" if key in required else (_default(prop["default"]) if "default" in prop else "")
        description = prop.get("description") or target.get("description", "")
        rows.append(f"| `{key}` | {_type(document, prop)} | {default} | {_cell(description)} |")
        if target.get("properties"):
            nested.append((key, target))
    return rows, nested


def _table(title: str, description: str, rows: list[str]) -> list[str]:
    return [title, "", _cell(description), "", "| key | type | default | description |", "|---|---|---|---|", *rows, ""]


def _sections(document: dict, node: dict, path: str, out: list[str], seen: set[str]) -> None:
    rows, nested = _rows(document, node)
    out += _table(f"### `{path or 'the plan'}`", node.get("description", ""), rows)
    for key, child in nested:
        if child.get("title") in seen:
            continue
        seen.add(child.get("title", ""))
        _sections(document, child, f"{path}.{key}" if path else key, out, seen)


def _single(prop: dict) -> dict:
    for key in ("anyOf", "oneOf"):
        members = [n for n in prop.get(key, []) if n.get("type") != "null"]
        if len(members) == 1:
            return members[0]
    return prop


def plan_markdown() -> list[str]:
    document = schema()
    lines = [
        "## The plan",
        "",
        "Every key of a plan, its type, its default and what it does (from "
        "`schemas/plan.schema.json`, which editors show while you type).",
        "",
    ]
    _sections(document, document, "", lines, set())
    plugins = load_plugins(autoload=False)
    for title, hook in (("Check types", "planrun_check_types"), ("Notifier types", "planrun_notifier_types")):
        lines += [f"## {title}", ""]
        for type_name, model in plugins.registry(hook, title.lower().removesuffix("s")).items():
            definition = model.model_json_schema(mode="validation")
            lines += _table(f"### `{type_name}`", definition.get("description", ""), _rows(definition, definition)[0])
    return lines


def notification_markdown() -> list[str]:
    from planrun.engine.api import notification_schema

    document = notification_schema()
    lines = [
        "## Notification payload",
        "",
        "The JSON object every notifier is told (a webhook receives it whole; slack and apprise render "
        "it), from `schemas/notification.schema.json`: the keys every event has, then each fact's. "
        "A key whose value is not known yet is `null`.",
        "",
        "| key | type | what it says |",
        "|---|---|---|",
    ]
    for key, spec in document["properties"].items():
        kinds = spec.get("type") or (
            "one of " + ", ".join(map(str, spec["enum"])) if "enum" in spec else "object or null"
        )
        kinds = " or ".join(kinds) if isinstance(kinds, list) else kinds
        lines.append(f"| `{key}` | {kinds} | {spec.get('description', '')} |")
    return lines + [""]


def main() -> None:
    lines = [
        "# planrun reference",
        "",
        "Generated by `scripts/reference.py` from the CLI and the plan's models; do not edit by hand.",
        "",
        *commands_markdown(),
        *plan_markdown(),
        *notification_markdown(),
    ]
    sys.stdout.write("\n".join(lines).rstrip() + "\n")


if __name__ == "__main__":
    main()
