"""Every lint rule is one unit: its definition carries its documentation, a bad and a good
example, and those examples are its test. Each example is written as a real Alembic revision
(one ``op.execute`` per statement) and linted through the same path as a user's revision: the
bad one must be reported by its rule at the line of the statement (or the function) the rule is
about, the good one must not, and must not break any other rule either. No database needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from planrun.engine.plugins import load_plugins
from planrun.plugins.lint.book import rule_book, rules_document
from planrun.plugins.lint.examples import lint_example

RULES = rule_book(load_plugins())
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("rule_id", list(RULES))
def test_the_bad_example_is_caught_on_its_line(tmp_path, rule_id):
    rule = RULES[rule_id]
    project, report = lint_example(tmp_path / "bad", rule, rule.bad)
    hits = [f for f in report.findings if f.rule == rule_id]
    assert hits, f"{rule_id}: its bad example was not flagged; found {[f.rule for f in report.findings]}"
    assert {f.line for f in hits} == {project.line}, (rule_id, [(f.line, f.sql) for f in hits], project.line)
    assert all(f.severity == rule.severity for f in hits)
    assert hits[0].reason == rule.reason and hits[0].alternative == rule.alternative


@pytest.mark.parametrize("rule_id", list(RULES))
def test_the_good_example_passes_every_rule(tmp_path, rule_id):
    rule = RULES[rule_id]
    _, report = lint_example(tmp_path / "good", rule, rule.good)
    assert [f for f in report.findings if f.rule == rule_id] == []
    assert [(f.rule, f.sql) for f in report.errors] == [], f"{rule_id}: its good example breaks another rule"


def test_the_rules_document_is_generated_from_the_definitions():
    written = (ROOT / "docs" / "lint-rules.md").read_text()
    assert written == rules_document(RULES), (
        "docs/lint-rules.md is stale: planrun lint --rules --doc > docs/lint-rules.md"
    )
    for rule in RULES.values():
        assert f"### `{rule.id}` ({rule.severity})" in written


RULE_PLUGIN = """
from planrun.plugin import hookimpl
from planrun.plugin.lint import Example, Hit, Rule, each_statement


@each_statement
def _grants(st, state):
    if type(st.node).__name__ == "GrantStmt" and st.node.is_grant:
        return Hit("acme-no-grants", st, "", None, [])


@hookimpl
def planrun_lint_rules():
    return [
        Rule("acme-no-grants", "hygiene", "error", "Grants belong to the infrastructure repository.",
             "Ask the platform team.", bad=Example("GRANT SELECT ON users TO bi"),
             good=Example("REVOKE SELECT ON users FROM bi"), detect=_grants){duplicate}
    ]
"""

PLAN = """\
version: 1
name: acme-lint
target: {url: "${DATABASE_URL}", alembic: {config: bad/alembic.ini}}
plugins: [acme_rules]
migrate: {to: head, lock_timeout: 2s}
"""


def _with_plugin(tmp_path, monkeypatch, duplicate: str = ""):
    (tmp_path / "acme_rules.py").write_text(RULE_PLUGIN.replace("{duplicate}", duplicate))
    (tmp_path / "plan.yaml").write_text(PLAN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(__import__("sys").modules, "acme_rules", raising=False)


def test_a_plugin_adds_one_rule_through_the_hook(tmp_path, monkeypatch, run_cli):
    from planrun.plugins.lint.rule import Example

    _with_plugin(tmp_path, monkeypatch)
    rule = RULES["lock-table"]  # any rule: only the example's SQL matters for the project
    project, _ = lint_example(tmp_path / "bad", rule, Example("GRANT SELECT ON users TO bi"))
    code, out, err = run_cli("lint", tmp_path / "plan.yaml")
    assert code == 1, out + err
    assert f"bad/versions/b2_example.py:{project.line}:5: error acme-no-grants: Grants belong to" in out
    assert "instead: Ask the platform team." in out
    code, out, err = run_cli("lint", tmp_path / "plan.yaml", "--rules")  # the plan's plugins' rules listed too
    assert code == 0 and "| `acme-no-grants` | hygiene | error | Grants belong to the infrastructure" in out
    (tmp_path / "plan.yaml").write_text(PLAN + "lint: {rules: {acme-no-grants: warning}}\n")
    code, out, err = run_cli("lint", tmp_path / "plan.yaml")
    assert code == 0 and "warning acme-no-grants" in out, out + err


def test_a_plugin_cannot_take_a_rule_id_already_given(tmp_path, monkeypatch, run_cli):
    duplicate = (
        ',\n        Rule("drop-table", "hygiene", "warning", "mine", "mine", bad=Example("x"), good=Example("y"), '
        "detect=_grants)"
    )
    _with_plugin(tmp_path, monkeypatch, duplicate)
    write = lint_example  # the project the plan names
    write(tmp_path / "bad", RULES["lock-table"], RULES["lock-table"].bad)
    code, out, err = run_cli("lint", tmp_path / "plan.yaml")
    assert code == 2, out + err
    assert "planrun: plugin acme_rules adds the lint rule 'drop-table', which lint-rules already has" in err


def test_a_lint_without_rules_is_an_error_never_a_pass():
    """If the rules' plugin fails to load, lint must not report every revision clean."""
    from planrun.engine.errors import UsageError

    plugins = load_plugins()
    plugins.manager.unregister(name="lint-rules")
    with pytest.raises(UsageError, match=r"^no lint rules are loaded \(no plugin implements planrun_lint_rules\)$"):
        rule_book(plugins)


def test_the_rule_catalogue_as_json_is_json(run_cli):
    import json

    code, out, err = run_cli("lint", "--rules", "--format", "json")
    assert code == 0, err
    rules = {rule["id"]: rule for rule in json.loads(out)["rules"]}
    from planrun.engine.plugins import load_plugins
    from planrun.plugins.lint.book import rule_book

    assert set(rules) == set(rule_book(load_plugins()))
    assert rules["drop-table"]["destructive"] is True and rules["drop-table"]["severity"] == "error"


def test_explain_prints_one_rules_page_and_names_the_closest_for_a_typo(run_cli):
    code, out, err = run_cli("lint", "--explain", "drop-column")
    assert code == 0 and out.startswith("### `drop-column` (error)") and "**Instead:**" in out and "Flagged:" in out
    assert (
        out.split("category:")[0].strip()
        in (Path(__file__).resolve().parents[2] / "docs" / "lint-rules.md").read_text()
    )
    code, out, err = run_cli("lint", "--explain", "drop-colum")
    assert code == 2 and "did you mean 'drop-column'?" in err
