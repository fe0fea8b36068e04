"""The rule book: every rule the loaded plugins contribute (``planrun_lint_rules``), by id. Two
plugins cannot give the same id, and a rule without its documentation is refused, naming the
plugin."""

from __future__ import annotations

from planrun.plugin import UsageError

from .rule import CATEGORIES, Rule

FIELDS = ("reason", "alternative")


def rule_book(plugins) -> dict[str, Rule]:
    """``plugins``: the loaded :class:`planrun.engine.plugins.Plugins`."""
    book: dict[str, Rule] = {}
    owners: dict[str, str] = {}
    for owner, rules in plugins.by_plugin("planrun_lint_rules"):
        for rule in rules or ():
            problem = _problem(rule)
            if problem:
                raise UsageError(f"plugin {owner}: lint rule {getattr(rule, 'id', rule)!r}: {problem}")
            if rule.id in book:
                raise UsageError(f"plugin {owner} adds the lint rule {rule.id!r}, which {owners[rule.id]} already has")
            book[rule.id], owners[rule.id] = rule, owner
    if not book:  # a lint with no rules would pass everything: never a silent success
        failed = "; ".join(str(f) for f in plugins.failures) or "no plugin implements planrun_lint_rules"
        raise UsageError(f"no lint rules are loaded ({failed})")
    return book


def _problem(rule) -> str | None:
    if not isinstance(rule, Rule):
        return f"expected a planrun.plugins.lint.rule.Rule, got {type(rule).__name__}"
    if rule.category not in CATEGORIES:
        return f"category must be one of {', '.join(CATEGORIES)}, got {rule.category!r}"
    if rule.severity not in ("error", "warning"):
        return f"severity must be error or warning, got {rule.severity!r}"
    for name in FIELDS:
        if not getattr(rule, name).strip():
            return f"{name} is empty: every finding prints it"
    if not rule.bad.upgrade.strip() or not rule.good.upgrade.strip():
        return "needs a bad and a good example (its documentation and its test)"
    return None


def catalogue_markdown(book: dict[str, Rule]) -> str:
    """The table the zero-downtime guide carries (``planrun lint --rules``)."""
    lines = ["| rule | category | default | why | instead |", "|---|---|---|---|---|"]
    for rule in book.values():
        lines.append(f"| `{rule.id}` | {rule.category} | {rule.severity} | {rule.reason} | {rule.alternative} |")
    return "\n".join(lines)


def catalogue_json(book: dict[str, Rule]) -> str:
    """``planrun lint --rules --format json``: the catalogue for tools."""
    import json

    rules = [
        {
            "id": rule.id,
            "category": rule.category,
            "severity": rule.severity,
            "destructive": rule.destructive,
            "reason": rule.reason,
            "alternative": rule.alternative,
        }
        for rule in book.values()
    ]
    return json.dumps({"rules": rules}, indent=2)


def rules_document(book: dict[str, Rule]) -> str:
    """docs/lint-rules.md: every rule with its examples (``planrun lint --rules --format doc``)."""
    out = [
        "# Lint rules",
        "",
        "Generated from the rule definitions by `planrun lint --rules --doc`; "
        "`tests/plugins/test_lint_rules.py` keeps it current and lints every example below.",
        "",
        "Severity is the default; a plan's `lint.rules` or `[tool.planrun.lint]` in pyproject.toml changes it, "
        "except for destructive rules, which only a contract plan can allow (`lint.allow`, with a backup "
        "verified by restore).",
        "",
    ]
    for category in CATEGORIES:
        rules = [rule for rule in book.values() if rule.category == category]
        if not rules:
            continue
        out += [f"## {category.capitalize()}", ""]
        for rule in rules:
            out += rule_page(rule)
    return "\n".join(out).rstrip() + "\n"


def rule_page(rule: Rule) -> list[str]:
    """One rule's section of docs/lint-rules.md, and what ``planrun lint --explain RULE`` prints."""
    lines = [f"### `{rule.id}` ({rule.severity})", "", rule.reason, "", f"**Instead:** {rule.alternative}", ""]
    return lines + _example("Flagged", rule.bad) + _example("Not flagged", rule.good)


def explain(book: dict[str, Rule], rule_id: str) -> str:
    """``planrun lint --explain RULE``: the rule's page; an unknown id names the closest."""
    import difflib

    from planrun.plugin import UsageError

    if rule_id not in book:
        close = difflib.get_close_matches(rule_id, list(book), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"lint --explain: unknown rule {rule_id!r}{hint}; planrun lint --rules lists them")
    rule = book[rule_id]
    return "\n".join([*rule_page(rule), f"category: {rule.category}; listed in docs/lint-rules.md"]).rstrip() + "\n"


def _example(title: str, example) -> list[str]:
    lines = [f"{title}:", "", "```sql"]
    if example.before:
        lines += ["-- an earlier revision of the same release:", *_statements(example.before), "-- this revision:"]
    if example.allow:
        lines += [f"-- allowed in the revision (# planrun: allow {', '.join(example.allow)} reason=...):"]
    lines += _statements(example.upgrade)
    if example.downgrade is not None:
        lines += ["-- its downgrade:", *(_statements(example.downgrade) or ["-- (nothing)"])]
    return lines + ["```", ""]


def _statements(sql: str) -> list[str]:
    from pglast import split

    return [f"{part.strip()};" for part in split(sql, with_parser=False)]
