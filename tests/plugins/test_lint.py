"""``planrun lint``: every rule caught on a revision that breaks it and quiet on the safe version,
at the line of the call that emitted the statement; allowances inline and in the plan; the output
formats. Lint renders SQL in Alembic's offline mode, so none of these needs a database."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from conftest import NOTHING_TO_UNDO, ROOT, copy_demo_migrations, write_revision
from planrun.engine.plugins import load_plugins
from planrun.plugins.lint.book import rule_book

RULES = rule_book(load_plugins())

MARK = "# <-"  # the line each unsafe case expects its finding on

PLAN = """\
version: 1
name: lint-test
target: {{url: "${{DATABASE_URL}}", alembic: {{config: ../migrations/alembic.ini}}}}
migrate: {{to: head, lock_timeout: {lock_timeout}, statement_timeout: 10min}}
{extra}"""


class LintProject:
    """The demo project (up to 002) in a temp folder, with a plan, where tests add revisions 003+."""

    def __init__(self, root: Path):
        self.root = root
        copy_demo_migrations(root / "migrations")
        self.versions = root / "migrations" / "versions"
        (root / "plans").mkdir()

    def plan(self, extra: str = "", lock_timeout: str = "3s") -> Path:
        path = self.root / "plans" / "lint.yaml"
        path.write_text(PLAN.format(extra=extra, lock_timeout=lock_timeout))
        return path


@pytest.fixture
def project(tmp_path) -> LintProject:
    return LintProject(tmp_path / "project")


def lint_json(run_cli, plan: Path, *args: str) -> tuple[int, dict]:
    code, out, err = run_cli("lint", plan, "--from", "002", "--format", "json", *args)
    assert code in (0, 1), out + err
    return code, json.loads(out)


def marked_line(path: Path, mark: str = MARK) -> int:
    """The one line of ``path`` holding ``mark``."""
    (line,) = [n for n, text in enumerate(path.read_text().splitlines(), 1) if mark in text]
    return line


DROP_SEQ = '    op.drop_column("users", "seq")\n'
# rule id, unsafe (upgrade, downgrade), safe (upgrade, downgrade); None: the default downgrade
CASES = {
    "delete-without-where": (
        ('    op.execute("DELETE FROM products")  # <-\n', None),
        ('    op.execute("DELETE FROM products WHERE price_cents < 0")\n', None),
    ),
    "update-without-where": (
        ('    op.execute("UPDATE users SET name = upper(name)")  # <-\n', None),
        ('    zdt.batched_backfill("users", set={"name": "upper(name)"})\n', None),
    ),
    "create-index-not-concurrently": (
        ('    op.create_index("ix_users_name", "users", ["name"])  # <-\n', '    op.drop_index("ix_users_name")\n'),
        (
            '    zdt.create_index_concurrently("ix_users_name", "users", ["name"])\n',
            '    zdt.drop_index_concurrently("ix_users_name")\n',
        ),
    ),
    "alter-column-type": (
        (
            '    op.alter_column("users", "name", type_=sa.String(60))  # <-\n',
            '    op.alter_column("users", "name", type_=sa.String(120))\n',
        ),
        ('    op.add_column("users", sa.Column("name_text", sa.Text))\n', '    op.drop_column("users", "name_text")\n'),
    ),
    "set-not-null": (
        (
            '    op.alter_column("products", "description", nullable=False)  # <-\n',
            '    op.alter_column("products", "description", nullable=True)\n',
        ),
        (
            '    zdt.add_not_null_safely("products", "description")\n',
            '    op.alter_column("products", "description", nullable=True)\n',
        ),
    ),
    "add-foreign-key-validated": (
        (
            '    op.add_column("products", sa.Column("owner_id", sa.Integer))\n'
            '    op.create_foreign_key("fk_products_owner", "products", "users", ["owner_id"], ["id"])  # <-\n',
            '    op.drop_column("products", "owner_id")\n',
        ),
        (
            '    op.add_column("products", sa.Column("owner_id", sa.Integer))\n'
            '    op.execute("ALTER TABLE products ADD CONSTRAINT fk_products_owner FOREIGN KEY (owner_id) REFERENCES '
            'users (id) NOT VALID")\n'
            "    with op.get_context().autocommit_block():  # validated after a commit: no lock held from before\n"
            '        op.execute("ALTER TABLE products VALIDATE CONSTRAINT fk_products_owner")\n',
            '    op.drop_column("products", "owner_id")\n',
        ),
    ),
    "add-check-validated": (
        (
            '    op.create_check_constraint("ck_price", "products", "price_cents >= 0")  # <-\n',
            '    op.drop_constraint("ck_price", "products")\n',
        ),
        (
            '    op.execute("ALTER TABLE products ADD CONSTRAINT ck_price CHECK (price_cents >= 0) NOT VALID")\n'
            "    with op.get_context().autocommit_block():\n"
            '        op.execute("ALTER TABLE products VALIDATE CONSTRAINT ck_price")\n',
            '    op.drop_constraint("ck_price", "products")\n',
        ),
    ),
    "add-column-volatile-default": (
        (
            '    op.add_column("users", sa.Column("token", sa.Text, server_default=sa.text("md5(random()::text)")))  '
            "# <-\n",
            '    op.drop_column("users", "token")\n',
        ),
        (
            '    op.add_column("users", sa.Column("token", sa.Text, server_default="none"))\n',
            '    op.drop_column("users", "token")\n',
        ),
    ),
    "add-unique-constraint": (
        (
            '    op.create_unique_constraint("uq_users_name", "users", ["name"])  # <-\n',
            '    op.drop_constraint("uq_users_name", "users")\n',
        ),
        (
            '    zdt.create_index_concurrently("uq_users_name_idx", "users", ["name"], unique=True)\n'
            '    op.execute("ALTER TABLE users ADD CONSTRAINT uq_users_name UNIQUE USING INDEX uq_users_name_idx")\n',
            '    op.drop_constraint("uq_users_name", "users")\n',
        ),
    ),
    "rename-column": (
        (
            '    op.alter_column("users", "name", new_column_name="full_name")  # <-\n',
            '    op.alter_column("users", "full_name", new_column_name="name")\n',
        ),
        (
            '    op.add_column("users", sa.Column("full_name", sa.Text))\n    zdt.dual_write("users", "name", '
            '"full_name")\n',
            '    zdt.drop_dual_write("users", "name", "full_name")\n    op.drop_column("users", "full_name")\n',
        ),
    ),
    "rename-table": (
        ('    op.rename_table("products", "items")  # <-\n', '    op.rename_table("items", "products")\n'),
        ('    op.execute("CREATE VIEW items AS SELECT * FROM products")\n', '    op.execute("DROP VIEW items")\n'),
    ),
    "drop-index-not-concurrently": (
        ('    op.drop_index("ix_users_status", table_name="users")  # <-\n', NOTHING_TO_UNDO),
        ('    zdt.drop_index_concurrently("ix_users_status")\n', NOTHING_TO_UNDO),
    ),
    "add-column-serial": (
        ('    op.add_column("users", sa.Column("seq", sa.BigInteger, sa.Identity()))  # <-\n', DROP_SEQ),
        ('    op.add_column("users", sa.Column("seq", sa.BigInteger))\n', DROP_SEQ),
    ),
    "add-column-generated-stored": (
        ('    op.add_column("users", sa.Column("seq", sa.Text, sa.Computed("upper(name)")))  # <-\n', DROP_SEQ),
        ('    op.add_column("users", sa.Column("seq", sa.Text))\n', DROP_SEQ),
    ),
    "add-column-required": (
        ('    op.add_column("users", sa.Column("seq", sa.Text, nullable=False))  # <-\n', DROP_SEQ),
        ('    op.add_column("users", sa.Column("seq", sa.Text, nullable=False, server_default="x"))\n', DROP_SEQ),
    ),
    "statement-under-access-exclusive": (
        (
            '    op.add_column("users", sa.Column("seq", sa.Text))\n'
            '    op.execute("UPDATE users SET seq = name WHERE id > 0")  # <-\n',
            DROP_SEQ,
        ),
        (
            '    op.add_column("users", sa.Column("seq", sa.Text))\n'
            '    zdt.batched_backfill("users", set={"seq": "name"})\n',
            DROP_SEQ,
        ),
    ),
    "validate-in-same-transaction": (
        (
            "    op.execute(\"ALTER TABLE users ADD CONSTRAINT ck_name CHECK (name <> '') NOT VALID\")\n"
            '    op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_name")  # <-\n',
            '    op.drop_constraint("ck_name", "users")\n',
        ),
        (
            "    op.execute(\"ALTER TABLE users ADD CONSTRAINT ck_name CHECK (name <> '') NOT VALID\")\n"
            "    with op.get_context().autocommit_block():\n"
            '        op.execute("ALTER TABLE users VALIDATE CONSTRAINT ck_name")\n',
            '    op.drop_constraint("ck_name", "users")\n',
        ),
    ),
    "add-primary-key": (
        (
            '    op.execute("ALTER TABLE users DROP CONSTRAINT users_pkey")\n'
            "    with op.get_context().autocommit_block():\n"
            '        op.create_primary_key("users_pkey", "users", ["id"])  # <-\n',
            NOTHING_TO_UNDO,
        ),
        (
            '    op.execute("ALTER TABLE users DROP CONSTRAINT users_pkey")\n'
            '    zdt.create_index_concurrently("users_pkey_idx", "users", ["id"], unique=True)\n'
            '    op.execute("ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX users_pkey_idx")\n',
            NOTHING_TO_UNDO,
        ),
    ),
    "concurrently-in-transaction": (
        ('    op.execute("CREATE INDEX CONCURRENTLY ix_users_name ON users (name)")  # <-\n', NOTHING_TO_UNDO),
        ('    zdt.create_index_concurrently("ix_users_name", "users", ["name"])\n', NOTHING_TO_UNDO),
    ),
    "set-schema": (
        ('    op.execute("ALTER TABLE users SET SCHEMA archive")  # <-\n', NOTHING_TO_UNDO),
        (
            '    op.execute("CREATE VIEW archive_users AS SELECT * FROM users")\n',
            '    op.execute("DROP VIEW archive_users")\n',
        ),
    ),
    "drop-not-null": (
        (
            '    op.alter_column("users", "name", nullable=True)  # <-\n',
            '    op.alter_column("users", "name", nullable=False)\n',
        ),
        ('    op.add_column("users", sa.Column("nickname", sa.Text))\n', '    op.drop_column("users", "nickname")\n'),
    ),
    "vacuum-full": (
        ('    op.execute("VACUUM FULL users")  # <-\n', NOTHING_TO_UNDO),
        ('    op.execute("VACUUM users")\n', NOTHING_TO_UNDO),
    ),
    "cluster": (
        ('    op.execute("CLUSTER users USING users_pkey")  # <-\n', NOTHING_TO_UNDO),
        ('    op.execute("ANALYZE users")\n', NOTHING_TO_UNDO),
    ),
    "reindex-not-concurrently": (
        ('    op.execute("REINDEX INDEX ix_users_status")  # <-\n', NOTHING_TO_UNDO),
        (
            "    with op.get_context().autocommit_block():\n"
            '        op.execute("REINDEX INDEX CONCURRENTLY ix_users_status")\n',
            NOTHING_TO_UNDO,
        ),
    ),
    "lock-table": (
        ('    op.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")  # <-\n', NOTHING_TO_UNDO),
        ('    op.execute("SELECT 1")\n', NOTHING_TO_UNDO),
    ),
    "refresh-matview-not-concurrently": (
        ('    op.execute("REFRESH MATERIALIZED VIEW user_counts")  # <-\n', NOTHING_TO_UNDO),
        ('    op.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY user_counts")\n', NOTHING_TO_UNDO),
    ),
    "json-column": (
        ('    op.add_column("users", sa.Column("seq", sa.JSON))  # <-\n', DROP_SEQ),
        ('    op.execute("ALTER TABLE users ADD COLUMN seq jsonb")\n', DROP_SEQ),
    ),
    "timestamp-without-time-zone": (
        ('    op.add_column("users", sa.Column("seq", sa.DateTime))  # <-\n', DROP_SEQ),
        ('    op.add_column("users", sa.Column("seq", sa.DateTime(timezone=True)))\n', DROP_SEQ),
    ),
    "empty-downgrade": (
        ('    op.add_column("users", sa.Column("nickname", sa.Text))\n', "    pass  # <-\n"),
        ('    op.add_column("users", sa.Column("nickname", sa.Text))\n', '    op.drop_column("users", "nickname")\n'),
    ),
    "downgrade-drops-data": (
        ('    op.add_column("users", sa.Column("nickname", sa.Text))\n', '    op.drop_column("users", "name")  # <-\n'),
        ('    op.add_column("users", sa.Column("nickname", sa.Text))\n', '    op.drop_column("users", "nickname")\n'),
    ),
}


@pytest.mark.parametrize("rule", list(CASES))
def test_rule_catches_the_unsafe_revision_and_not_the_safe_one(project, run_cli, rule):
    (unsafe_up, unsafe_down), (safe_up, safe_down) = CASES[rule]
    plan = project.plan()
    path = write_revision(project.versions, "003", "002", unsafe_up, *([unsafe_down] if unsafe_down else []))
    code, report = lint_json(run_cli, plan)
    hits = [f for f in report["findings"] if f["rule"] == rule]
    assert len(hits) == 1, report["findings"]
    (hit,) = hits
    severity = RULES[rule].severity  # hygiene rules warn (exit 0), the others are errors (exit 1)
    assert code == (1 if severity == "error" else 0) and hit["severity"] == severity
    where = marked_line(path) if rule != "empty-downgrade" else marked_line(path, "def downgrade():")
    assert (hit["path"], hit["line"]) == ("migrations/versions/003_test.py", where), hit
    assert hit["reason"] and hit["alternative"] and hit["revision"] == "003"

    write_revision(project.versions, "003", "002", safe_up, *([safe_down] if safe_down else []))
    code, report = lint_json(run_cli, plan)
    assert [f for f in report["findings"] if f["severity"] != "allowed"] == []
    assert code == 0


@pytest.mark.parametrize(
    "rule,call",
    [
        ("drop-table", '    op.drop_table("products")  # <-\n'),
        ("drop-column", '    op.drop_column("products", "description")  # <-\n'),
        ("truncate", '    op.execute("TRUNCATE products")  # <-\n'),
        ("drop-schema", '    op.execute("DROP SCHEMA reporting CASCADE")  # <-\n'),
        ("drop-database", '    op.execute("DROP DATABASE analytics")  # <-\n'),
    ],
)
def test_destructive_rule_needs_the_plan_and_a_backup_verified_by_restore(project, run_cli, rule, call):
    path = write_revision(project.versions, "003", "002", call)
    code, report = lint_json(run_cli, project.plan())
    (hit,) = [f for f in report["findings"] if f["rule"] == rule]
    assert code == 1 and hit["severity"] == "error" and hit["line"] == marked_line(path)

    allow = f"lint: {{allow: {{{rule}: 'products is unused since v42'}}}}\n"
    code, out, err = run_cli("lint", project.plan(allow))
    assert code == 2
    assert f"lint.allow.{rule}: {rule} is destructive: it can only be allowed with a backup verified by restore" in err

    code, out, err = run_cli("lint", project.plan(allow + "phase: expand\nbackup: {verify: restore}\n"))
    assert code == 2 and f"{rule} is destructive: an expand plan cannot allow it (use phase: contract)" in err

    code, out, err = run_cli("lint", project.plan(f"lint: {{rules: {{{rule}: warning}}}}\n"))
    assert code == 2 and f"lint.rules.{rule}: {rule} is destructive and stays an error" in err

    code, report = lint_json(run_cli, project.plan(allow + "backup: {verify: restore}\n"))
    (hit,) = [f for f in report["findings"] if f["rule"] == rule]
    assert code == 0 and hit["severity"] == "allowed" and hit["allowed"] == "products is unused since v42"


def test_inline_allowance_needs_a_reason_and_cannot_allow_a_destructive_operation(project, run_cli):
    path = write_revision(
        project.versions,
        "003",
        "002",
        (
            '    op.create_index("ix_users_name", "users", ["name"])  # planrun: allow create-index-not-concurrently '
            'reason="5 rows"\n'
            "    # planrun: allow alter-column-type\n"
            '    op.alter_column("users", "email", type_=sa.Text)\n'
            '    op.drop_column("products", "description")  # planrun: allow drop-column reason="unused since v42"\n'
        ),
        '    op.add_column("products", sa.Column("description", sa.Text))\n',
    )
    code, report = lint_json(run_cli, project.plan())
    by_rule = {f["rule"]: f for f in report["findings"]}
    assert by_rule["create-index-not-concurrently"]["severity"] == "allowed"
    assert by_rule["create-index-not-concurrently"]["allowed"] == "5 rows"
    type_change = by_rule["alter-column-type"]
    assert type_change["severity"] == "error"
    assert (
        f'(the allowance on line {marked_line(path, "allow alter-column-type")} is ignored: it needs reason="...")'
        in type_change["message"]
    )
    drop = by_rule["drop-column"]
    assert drop["severity"] == "error"
    assert "An inline allowance cannot permit a destructive operation: the plan must" in drop["message"]
    assert code == 1


def test_dropping_a_column_added_in_the_same_release(project, run_cli):
    write_revision(
        project.versions,
        "003",
        "002",
        '    op.add_column("users", sa.Column("nickname", sa.Text))\n',
        '    op.drop_column("users", "nickname")\n',
    )
    path = write_revision(
        project.versions,
        "004",
        "003",
        '    op.drop_column("users", "nickname")  # <-\n',
        '    op.add_column("users", sa.Column("nickname", sa.Text))\n',
    )
    plan = project.plan()
    code, report = lint_json(run_cli, plan)
    (hit,) = [f for f in report["findings"] if f["rule"] == "drop-recent-column"]
    assert hit["revision"] == "004" and hit["line"] == marked_line(path) and "added by revision 003" in hit["message"]
    code, out, err = run_cli("lint", plan, "--from", "003", "--format", "json")  # 003 shipped in an earlier release
    assert [f["rule"] for f in json.loads(out)["findings"]] == ["drop-column"]


def test_missing_lock_timeout_is_a_warning_unless_the_plan_or_the_revision_sets_one(project, run_cli):
    path = write_revision(
        project.versions,
        "003",
        "002",
        '    op.add_column("users", sa.Column("nickname", sa.Text))  # <-\n',
        '    op.drop_column("users", "nickname")\n',
    )
    code, report = lint_json(run_cli, project.plan(lock_timeout="null"))
    (hit,) = report["findings"]
    assert (hit["rule"], hit["severity"], hit["line"]) == ("missing-lock-timeout", "warning", marked_line(path))
    assert code == 0  # warnings do not fail
    assert lint_json(run_cli, project.plan(lock_timeout="2s"))[1]["findings"] == []
    write_revision(
        project.versions,
        "003",
        "002",
        '    op.execute("SET lock_timeout = \'2s\'")\n    op.add_column("users", sa.Column("nickname", sa.Text))\n',
        '    op.drop_column("users", "nickname")\n',
    )
    assert lint_json(run_cli, project.plan(lock_timeout="null"))[1]["findings"] == []


def test_rule_severity_is_configurable(project, run_cli):
    write_revision(
        project.versions,
        "003",
        "002",
        '    op.create_index("ix_users_name", "users", ["name"])\n',
        '    op.drop_index("ix_users_name")\n',
    )
    code, report = lint_json(run_cli, project.plan("lint: {rules: {create-index-not-concurrently: warning}}\n"))
    assert code == 0 and [(f["rule"], f["severity"]) for f in report["findings"]] == [
        ("create-index-not-concurrently", "warning")
    ]
    code, report = lint_json(run_cli, project.plan("lint: {rules: {create-index-not-concurrently: off}}\n"))
    assert code == 0 and report["findings"] == []
    code, out, err = run_cli("lint", project.plan("lint: {rules: {create-index-concurently: off}}\n"))
    assert code == 2
    assert (
        "lint.rules.create-index-concurently: unknown lint rule 'create-index-concurently' (did you mean "
        "'create-index-not-concurrently'?)" in err
    )


def test_a_revision_that_cannot_render_offline_is_reported_not_crashed(project, run_cli):
    write_revision(
        project.versions,
        "003",
        "002",
        '    count = op.get_bind().execute(sa.text("SELECT count(*) FROM users")).scalar()\n'
        '    op.execute(f"UPDATE users SET name = name WHERE id <= {count}")\n',
    )
    code, report = lint_json(run_cli, project.plan(), "--no-run")  # running it: test_lint_capture.py
    (hit,) = [f for f in report["findings"] if f["rule"] == "not-linted"]
    assert hit["severity"] == "warning" and hit["revision"] == "003"
    assert "upgrade: could not render its SQL offline" in hit["message"]


def test_an_unrendered_upgrade_does_not_make_its_downgrade_a_data_loss(project, run_cli):
    """What an upgrade that could not be rendered created is unknown: its downgrade's DROP TABLE
    is not called a loss of data that existed before (not-linted already says it was not read)."""
    write_revision(
        project.versions,
        "003",
        "002",
        '    if op.get_bind().execute(sa.text("SELECT 1")).scalar():\n'
        '        op.create_table("jobs", sa.Column("id", sa.BigInteger, primary_key=True))\n',
        '    op.drop_table("jobs")\n',
    )
    code, report = lint_json(run_cli, project.plan(), "--no-run")
    rules = {f["rule"] for f in report["findings"]}
    assert "not-linted" in rules and "downgrade-drops-data" not in rules, report["findings"]


def test_output_formats(project, run_cli):
    path = write_revision(
        project.versions,
        "003",
        "002",
        '    op.drop_column("products", "description")  # <-\n',
        '    op.add_column("products", sa.Column("description", sa.Text))\n',
    )
    line = marked_line(path)
    plan = project.plan()
    code, out, err = run_cli("lint", plan, "--from", "002")
    assert code == 1
    assert f"migrations/versions/003_test.py:{line}:5: error drop-column: DROP COLUMN deletes the column's data" in out
    assert "    ALTER TABLE products DROP COLUMN description" in out
    assert out.rstrip().endswith("1 revision linted: 1 errors, 0 warnings, 0 allowed")
    code, out, err = run_cli("lint", plan, "--from", "002", "--format", "github")
    assert out.startswith(
        f"::error file=migrations/versions/003_test.py,line={line},col=5,title=planrun lint drop-column::DROP COLUMN"
    )
    code, out, err = run_cli("lint", plan, "--from", "002", "--format", "markdown")
    assert out.startswith("### planrun lint: 1 revision linted: 1 errors")
    assert f"| ❌ | `drop-column` | `migrations/versions/003_test.py:{line}:5` |" in out
    code, out, err = run_cli("lint", plan, "--from", "002", "--format", "sarif")
    assert code == 1
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    (run,) = sarif["runs"]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["drop-column"]
    (result,) = run["results"]
    assert result["ruleId"] == "drop-column" and result["level"] == "error" and result["ruleIndex"] == 0
    location = result["locations"][0]["physicalLocation"]
    assert location == {
        "artifactLocation": {"uri": "migrations/versions/003_test.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": line, "startColumn": 5},
    }
    assert result["message"]["text"].startswith("DROP COLUMN deletes the column's data")
    assert len(result["partialFingerprints"]["planrunFinding/v1"]) == 64
    code, out, err = run_cli("lint", plan, "--from", "002", "--format", "gitlab")
    (issue,) = json.loads(out)
    assert issue["check_name"] == "drop-column" and issue["severity"] == "critical"
    assert issue["location"] == {"path": "migrations/versions/003_test.py", "lines": {"begin": line}}
    assert issue["fingerprint"] == result["partialFingerprints"]["planrunFinding/v1"]


def test_rule_catalogue_documents_every_rule_and_the_readme_lists_it(run_cli):
    code, out, err = run_cli("lint", "--rules")
    readme = (Path(__file__).resolve().parents[2] / "docs" / "how-to" / "zero-downtime.md").read_text()
    assert code == 0
    for rule in RULES.values():
        assert f"| `{rule.id}` | {rule.category} | {rule.severity} | {rule.reason} |" in out
        assert f"| `{rule.id}` |" in readme, f"the zero-downtime guide has no entry for lint rule {rule.id}"


# --- on a real PostgreSQL: apply refuses, the contract plan, ranking by table size ----------------


def test_apply_refuses_a_dropped_column_unless_allowed_and_backed_up(demo, run_cli):
    """The refusal comes before planrun keeps anything in the target: no schema of its own is
    created for a run that never starts (its message says nothing was changed)."""
    from conftest import current_revision, query, table_contents

    demo.add_revision(
        "003",
        "002",
        '    op.drop_column("products", "description")\n',
        '    op.add_column("products", sa.Column("description", sa.Text))\n',
    )
    before = table_contents(demo.url)
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 2, out + err
    assert "refused to start: lint migrations/versions/003_test.py:14: drop-column: DROP COLUMN deletes" in out
    assert current_revision(demo.url) == ["000"] and table_contents(demo.url) == before
    assert "created schema planrun" not in out and query(demo.url, "SELECT to_regnamespace('planrun')") == [(None,)]

    allowed = demo.write_plan(demo.plan.read_text() + "lint: {allow: {drop-column: 'unused since v42'}}\n")
    code, out, err = run_cli("apply", allowed, "--yes", "--state-dir", demo.state_dir)
    assert (
        code == 2
        and "lint.allow.drop-column: drop-column is destructive: it can only be allowed with a backup verified "
        "by restore"
        in err
    )
    assert current_revision(demo.url) == ["000"] and table_contents(demo.url) == before


def test_contract_plan_runs_only_through_its_gate(demo, run_cli, tmp_path, monkeypatch):
    import shutil

    from conftest import ROOT, current_revision, execute, query, table_contents

    monkeypatch.setenv("BACKUP_URL", str(tmp_path / "backups"))
    assert run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)[0] == 0  # expand: 002
    shutil.copy(ROOT / "migrations" / "versions" / "003_drop_products_description.py", demo.versions)
    contract = demo.root / "plans" / "demo-contract.yaml"

    # A writer that bypassed the dual-write trigger left one row where the columns differ.
    execute(
        demo.url,
        "ALTER TABLE products DISABLE TRIGGER USER; UPDATE products SET description = 'stale' WHERE id = 1; "
        "ALTER TABLE products ENABLE TRIGGER USER",
    )
    before = table_contents(demo.url)
    code, out, err = run_cli("apply", contract, "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err
    assert "the contract's gate is closed" in out and "description_new holds every description" in out
    assert current_revision(demo.url) == ["002"] and table_contents(demo.url) == before

    execute(demo.url, "UPDATE products SET description_new = description WHERE id = 1")
    code, out, err = run_cli("apply", contract, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert current_revision(demo.url) == ["003"]
    assert query(
        demo.url,
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'products' AND column_name = 'description'",
    ) == [(0,)]
    assert list((tmp_path / "backups" / "demo-contract").rglob("manifest.json"))


def test_url_ranks_findings_by_the_size_of_their_table(demo, run_cli):
    from conftest import execute

    execute(
        demo.url,
        "INSERT INTO users (email, name) SELECT 'u' || g || '@example.com', 'user ' || g "
        "FROM generate_series(100, 20100) g; ANALYZE",
    )
    demo.add_revision(
        "003",
        "002",
        '    op.create_index("ix_products_title", "products", ["title"])\n'
        '    op.create_index("ix_users_name", "users", ["name"])\n',
        '    op.drop_index("ix_users_name")\n    op.drop_index("ix_products_title")\n',
    )
    code, out, err = run_cli("lint", demo.plan, "--url", demo.url, "--format", "json")
    assert code == 1, out + err
    report = json.loads(out)
    assert report["revisions"] == ["001", "002", "003"]  # what is pending on that database
    errors = [f for f in report["findings"] if f["severity"] == "error"]  # 001's varchar(20) is a warning
    found = [(f["rule"], f["table"]) for f in errors]
    assert found == [("create-index-not-concurrently", "users"), ("create-index-not-concurrently", "products")]
    users, products = errors
    assert users["size"] > products["size"] > 0
    assert "holding SHARE (200" in users["estimate"]
    code, out, err = run_cli("lint", demo.plan, "--url", demo.url)
    assert re.search(r"\[users: [0-9.]+ (kB|MB), ~[0-9.]+s holding SHARE \(200\d\d rows\)\]", out), out


def test_the_pre_commit_hook_reports_the_revisions_a_commit_touches(project, run_cli, monkeypatch):
    """The hook as .pre-commit-hooks.yaml declares it, with the file names pre-commit appends:
    only the touched revision's findings, though every revision is read."""
    import yaml

    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["entry"] == "planrun lint" and hook["args"][-1] == "--files"
    write_revision(project.versions, "003", "002", '    op.drop_column("products", "description")\n')
    new = write_revision(project.versions, "004", "003", '    op.create_index("ix_users_name", "users", ["name"])\n')
    monkeypatch.chdir(project.root / "migrations")
    args = [*hook["args"], os.path.relpath(new)]
    code, out, err = run_cli("lint", *args)
    assert code == 1, out + err
    assert "004_test.py" in out and "create-index-not-concurrently" in out
    assert "003_test.py" not in out and "drop-column" not in out
    # no plan: plain alembic sets no statement_timeout and no lock_timeout
    assert "warning missing-statement-timeout" in out and "warning missing-lock-timeout" in out
    assert out.rstrip().endswith("1 revision linted: 1 errors, 2 warnings, 0 allowed")  # (its downgrade: SELECT 1)
    code, out, err = run_cli("lint", *hook["args"])  # a commit that touches no revision
    assert code == 0 and out.rstrip().endswith("0 revisions linted: 0 errors, 0 warnings, 0 allowed")
    assert re.search(hook["files"], "migrations/versions/004_test.py") and not re.search(hook["files"], "app/models.py")


def test_a_long_history_adopts_lint_with_since_and_repository_defaults(project, run_cli):
    """Old revisions (up to lint.since) are summarized, not failures; [tool.planrun.lint] in the
    repository's pyproject.toml sets severities and exclusions; the plan overrides them; a
    destructive rule cannot be switched off there."""
    write_revision(project.versions, "003", "002", '    op.execute("LOCK TABLE users")\n')  # old history
    new = write_revision(
        project.versions, "004", "003", '    op.create_index("ix_users_name", "users", ["name"])  # <-\n'
    )
    plan = project.plan()
    code, out, err = run_cli("lint", plan, "--from", "002", "--since", "003")
    assert code == 1, out + err
    judged = out.split("1 revision linted")[0]
    assert "004_test.py" in judged and "003_test.py" not in judged and "lock-table" not in judged
    assert out.rstrip().endswith(
        "1 revision linted: 1 errors, 0 warnings, 0 allowed; 1 older revisions (lint.since) not judged: findings "
        "lock-table 1"
    )
    pyproject = project.root / "pyproject.toml"
    pyproject.write_text(
        '[tool.planrun.lint]\nsince = "003"\nrules = {create-index-not-concurrently = "warning"}\n'
        'exclude = ["migrations/versions/9*"]\n'
    )
    write_revision(project.versions, "900", "004", '    op.execute("VACUUM FULL users")\n')  # excluded
    code, report = lint_json(run_cli, plan)
    assert code == 0  # the repository made it a warning
    assert [(f["rule"], f["severity"]) for f in report["findings"] if f["severity"] != "allowed"] == [
        ("create-index-not-concurrently", "warning")
    ]
    assert report["old"] == {"revisions": ["003"], "findings": {"lock-table": 1}}
    assert report["revisions"] == ["004"]  # 900 is excluded
    assert report["findings"][0]["line"] == marked_line(new)
    code, report = lint_json(run_cli, project.plan(extra="lint: {rules: {create-index-not-concurrently: error}}"))
    assert code == 1  # the plan overrides the repository
    pyproject.write_text('[tool.planrun.lint]\nrules = {drop-column = "off"}\n')
    code, out, err = run_cli("lint", plan, "--from", "002")
    assert code == 2
    assert "[tool.planrun.lint] rules.drop-column: a destructive rule can only be allowed by a plan (lint.allow)" in err


@pytest.mark.parametrize(
    "call,flagged",
    [
        ('op.alter_column("users", "name", type_=sa.String(200))', False),  # varchar(120) -> varchar(200)
        ('op.alter_column("users", "name", type_=sa.Text)', False),  # varchar(120) -> text
        ('op.alter_column("users", "name", type_=sa.String(60))', True),  # narrowing: every row checked
        ('op.alter_column("users", "name", type_=sa.Integer, postgresql_using="length(name)")', True),
        ('op.alter_column("products", "price_cents", type_=sa.BigInteger)', True),  # int4 -> int8 rewrites
    ],
)
def test_binary_compatible_type_changes_are_not_errors(project, run_cli, call, flagged):
    """The old type comes from the history (000 created users.name as varchar(120)) when lint
    reads it, or from existing_type= on the call when it does not (--from 002)."""
    write_revision(project.versions, "003", "002", f"    {call}\n")
    code, out, err = run_cli("lint", project.plan(), "--format", "json")  # from base: 000's CREATE TABLE is read
    hits = [f for f in json.loads(out)["findings"] if f["rule"] == "alter-column-type"]
    assert bool(hits) == flagged, hits
    if flagged:
        assert re.search(r"\((users\.name|products\.price_cents): [a-z0-9(),]+ -> [a-z0-9(),]+", hits[0]["message"])

    # without the history, the old type is unknown: an error that says how to tell planrun
    code, report = lint_json(run_cli, project.plan())
    (hit,) = [f for f in report["findings"] if f["rule"] == "alter-column-type"]
    assert "the old type is unknown to planrun (give existing_type= to op.alter_column" in hit["message"]
    existing = "sa.String(120)" if '"users"' in call else "sa.Integer()"
    write_revision(project.versions, "003", "002", f"    {call[:-1]}, existing_type={existing})\n")
    code, report = lint_json(run_cli, project.plan())
    assert bool([f for f in report["findings"] if f["rule"] == "alter-column-type"]) == flagged


def test_with_url_type_changes_are_judged_against_the_live_column_type(demo, run_cli):
    """Only 001-003 are pending there, so the history that created users.name is not read; the
    live catalog says it is varchar(120)."""
    demo.add_revision("003", "002", '    op.alter_column("users", "name", type_=sa.Text)\n')
    code, out, err = run_cli("lint", demo.plan, "--url", demo.url, "--format", "json")
    assert "alter-column-type" not in {f["rule"] for f in json.loads(out)["findings"]}, out
    demo.add_revision("003", "002", '    op.alter_column("users", "name", type_=sa.String(60))\n')
    code, out, err = run_cli("lint", demo.plan, "--url", demo.url, "--format", "json")
    (hit,) = [f for f in json.loads(out)["findings"] if f["rule"] == "alter-column-type"]
    assert "(users.name: varchar(120) -> varchar(60))" in hit["message"]


def test_with_url_a_new_foreign_key_is_judged_against_the_live_indexes(demo, run_cli):
    """products exists only on the live database (created before the pending revisions): its
    indexes come from the catalog; a foreign key on a column no index leads is a warning."""
    fk = (
        '    op.add_column("products", sa.Column("owner_id", sa.BigInteger))\n'
        '    op.execute("ALTER TABLE products ADD CONSTRAINT products_owner_fk FOREIGN KEY (owner_id) '
        'REFERENCES users (id) NOT VALID")  # <-\n'
    )
    path = demo.add_revision("003", "002", fk, '    op.drop_column("products", "owner_id")\n')
    code, out, err = run_cli("lint", demo.plan, "--url", demo.url, "--format", "json")
    (hit,) = [f for f in json.loads(out)["findings"] if f["rule"] == "foreign-key-without-index"]
    assert hit["line"] == marked_line(path) and hit["message"].endswith("(products(owner_id) -> users)")
    index = '    zdt.create_index_concurrently("ix_products_owner_id", "products", ["owner_id"])\n'
    demo.add_revision("003", "002", fk + index, '    op.drop_column("products", "owner_id")\n')
    code, out, err = run_cli("lint", demo.plan, "--url", demo.url, "--format", "json")
    assert "foreign-key-without-index" not in {f["rule"] for f in json.loads(out)["findings"]}, out


def test_paths_are_relative_to_the_repository_or_the_working_directory(run_cli, tmp_path, monkeypatch):
    """alembic.ini at the application's root (the `alembic init` layout): paths from that root
    when lint runs there; inside a git work tree, from the repository's root wherever lint runs."""
    import json
    import shutil
    import subprocess

    projects = Path(__file__).resolve().parent.parent / "projects"
    app = tmp_path / "repo" / "app"
    shutil.copytree(projects / "repeated_literals", app)
    monkeypatch.chdir(app)
    code, out, err = run_cli("lint", "--alembic-config", "alembic.ini", "--format", "json")
    paths = {f["path"] for f in json.loads(out)["findings"]}
    assert paths == {"versions/q1_subscriptions.py", "versions/q2_tier.py", "versions/q3_reads.py"}, paths
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("lint", "--alembic-config", app / "alembic.ini", "--format", "json", "--no-run")
    paths = {f["path"] for f in json.loads(out)["findings"]}
    assert paths == {"app/versions/q1_subscriptions.py", "app/versions/q2_tier.py", "app/versions/q3_reads.py"}, paths


def test_missing_statement_timeout_leaves_a_batched_backfill_alone(project, run_cli):
    """zdt.batched_backfill's batches are bounded (a key range each, each committed): a
    statement_timeout is for a statement whose time grows with the table, which a batch's does not."""
    plan = project.plan()
    plan.write_text(plan.read_text().replace(", statement_timeout: 10min", ""))
    undo = '    op.drop_column("users", "seq")\n'
    add = '    op.add_column("users", sa.Column("seq", sa.Text))\n'
    write_revision(
        project.versions, "003", "002", add + '    op.execute("UPDATE users SET seq = name WHERE id > 0")\n', undo
    )
    assert "missing-statement-timeout" in [f["rule"] for f in lint_json(run_cli, plan)[1]["findings"]]
    write_revision(
        project.versions, "003", "002", add + '    zdt.batched_backfill("users", set={"seq": "name"})\n', undo
    )
    assert lint_json(run_cli, plan)[1]["findings"] == []


def test_text_output_is_coloured_on_a_terminal_only_and_sarif_carries_each_rules_page(project, run_cli, monkeypatch):
    write_revision(project.versions, "003", "002", '    op.drop_column("users", "name")\n', NOTHING_TO_UNDO)
    plan = project.plan()
    code, plain, err = run_cli("lint", plan, "--from", "002")
    assert "\033[" not in plain and "error drop-column" in plain
    assert "planrun lint --explain RULE" in plain
    monkeypatch.setenv("FORCE_COLOR", "1")
    code, coloured, err = run_cli("lint", plan, "--from", "002")
    assert "\033[1;31merror drop-column\033[0m" in coloured
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[" not in run_cli("lint", plan, "--from", "002")[1]
    code, out, err = run_cli("lint", plan, "--from", "002", "--format", "sarif")
    (rule,) = [r for r in json.loads(out)["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "drop-column"]
    assert (
        rule["help"]["markdown"].startswith("### `drop-column` (error)") and "Not flagged" in rule["help"]["markdown"]
    )
