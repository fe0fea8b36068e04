"""planrun lint beside squawk on the same hazards: each hazard is one Alembic revision (one
``op.execute`` per statement, on tables that exist before it), its SQL rendered by Alembic's
offline mode; squawk (npm ``squawk-cli``, found on PATH or under --squawk) lints the rendered
SQL and planrun lints the revision. The hazards are every planrun rule's bad example plus
probes for squawk's own rules. Prints, per hazard, what each tool reported, then the hazards
squawk reports that planrun does not. Asserts nothing.

    npm install --prefix /tmp/squawk squawk-cli
    .venv/bin/python bench/lint_vs_squawk.py --squawk /tmp/squawk/node_modules/.bin/squawk
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planrun.engine.plugins import load_plugins  # noqa: E402
from planrun.plugins.lint.book import rule_book  # noqa: E402
from planrun.plugins.lint.examples import lint_example  # noqa: E402
from planrun.plugins.lint.rule import Example  # noqa: E402

# squawk's rules, each probed with the statement its documentation warns about, on existing tables
SQUAWK_PROBES = {
    "adding-field-with-default": "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid()",
    "adding-foreign-key-constraint": "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id)",
    "adding-not-nullable-field": "ALTER TABLE users ALTER COLUMN email SET NOT NULL",
    "adding-required-field": "ALTER TABLE users ADD COLUMN plan text NOT NULL",
    "adding-serial-primary-key-field": "ALTER TABLE events ADD COLUMN id serial PRIMARY KEY",
    "ban-alter-domain-with-add-constraint": "ALTER DOMAIN positive ADD CONSTRAINT p CHECK (VALUE > 0)",
    "ban-char-field": "ALTER TABLE users ADD COLUMN country char(2)",
    "ban-concurrent-index-creation-in-transaction": "CREATE INDEX CONCURRENTLY ix_a ON orders (user_id)",
    "ban-create-domain-with-constraint": "CREATE DOMAIN positive AS int CHECK (VALUE > 0)",
    "ban-drop-column": "ALTER TABLE users DROP COLUMN legacy",
    "ban-drop-database": "DROP DATABASE analytics",
    "ban-drop-not-null": "ALTER TABLE users ALTER COLUMN email DROP NOT NULL",
    "ban-drop-table": "DROP TABLE audit_log",
    "ban-truncate-cascade": "TRUNCATE sessions CASCADE",
    "changing-column-type": "ALTER TABLE orders ALTER COLUMN total TYPE bigint",
    "constraint-missing-not-valid": "ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0)",
    "disallowed-unique-constraint": "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)",
    "prefer-bigint-over-int": "ALTER TABLE orders ADD COLUMN quantity int",
    "prefer-bigint-over-smallint": "ALTER TABLE orders ADD COLUMN rank smallint",
    "prefer-identity": "ALTER TABLE orders ADD COLUMN seq serial",
    "prefer-robust-stmts": "ALTER TABLE orders ADD COLUMN note text",
    "prefer-text-field": "ALTER TABLE users ADD COLUMN nickname varchar(40)",
    "prefer-timestamptz": "ALTER TABLE events ADD COLUMN happened_at timestamp",
    "renaming-column": "ALTER TABLE users RENAME COLUMN name TO full_name",
    "renaming-table": "ALTER TABLE users RENAME TO accounts",
    "require-concurrent-index-creation": "CREATE INDEX ix_b ON orders (user_id)",
    "require-concurrent-index-deletion": "DROP INDEX ix_b",
    "require-lock-timeout": "ALTER TABLE orders ADD COLUMN flag boolean",
    "require-statement-timeout": "UPDATE orders SET flag = true WHERE flag IS NULL",
    "transaction-nesting": "BEGIN; ALTER TABLE orders ADD COLUMN note2 text",
}
# squawk rules that are not about the statement's effect on a running database
NOT_HAZARDS = {"prefer-robust-stmts"}
# the planrun rules that report what each squawk rule reports
COVERED_BY = {
    "adding-field-with-default": {"add-column-volatile-default", "add-column-generated-stored"},
    "adding-foreign-key-constraint": {"add-foreign-key-validated"},
    "adding-not-nullable-field": {"set-not-null"},
    "adding-required-field": {"add-column-required"},
    "adding-serial-primary-key-field": {"add-column-serial", "add-primary-key"},
    "ban-alter-domain-with-add-constraint": {"alter-domain-add-constraint"},
    "ban-char-field": {"char-column"},
    "ban-concurrent-index-creation-in-transaction": {"concurrently-in-transaction"},
    "ban-create-domain-with-constraint": {"domain-with-check"},
    "ban-drop-column": {"drop-column"},
    "ban-drop-database": {"drop-database"},
    "ban-drop-not-null": {"drop-not-null"},
    "ban-drop-table": {"drop-table"},
    "ban-truncate-cascade": {"truncate"},
    "changing-column-type": {"alter-column-type"},
    "constraint-missing-not-valid": {
        "add-check-validated",
        "add-foreign-key-validated",
        "add-unique-constraint",
        "add-primary-key",
        "add-exclusion-constraint",
        "validate-in-same-transaction",
    },
    "disallowed-unique-constraint": {"add-unique-constraint"},
    "prefer-bigint-over-int": {"int-primary-key", "int-column"},
    "prefer-bigint-over-smallint": {"int-column"},
    "prefer-identity": {"add-column-serial", "int-primary-key"},
    "prefer-text-field": {"varchar-length"},
    "prefer-timestamp-tz": {"timestamp-without-time-zone"},
    "renaming-column": {"rename-column"},
    "renaming-table": {"rename-table"},
    "require-concurrent-index-creation": {"create-index-not-concurrently"},
    "require-concurrent-index-deletion": {"drop-index-not-concurrently"},
    "require-concurrent-reindex": {"reindex-not-concurrently"},
    "require-concurrent-partition-detach": {"detach-partition-not-concurrently"},
    "require-lock-timeout": {"missing-lock-timeout"},
    "require-statement-timeout": {"missing-statement-timeout"},
    "syntax-error": {"not-linted"},
    "transaction-nesting": {"transaction-nesting"},
}
# planrun asks for a statement_timeout only where the run time grows with the rows under a lock that
# blocks the application (lock_timeout already bounds the wait); squawk asks before any DDL
BY_DESIGN = {"require-statement-timeout"}


def rendered_sql(config: Path) -> str:
    """``alembic upgrade --sql`` of the project, without Alembic's own version-table statements."""
    heads = "a1:b2" if (config.parent / "versions" / "a1_example.py").exists() else "b2"
    out = subprocess.run(
        [str(Path(sys.executable).parent / "alembic"), "-c", str(config), "upgrade", heads, "--sql"],
        capture_output=True,
        text=True,
        check=True,
        cwd=config.parent,
    ).stdout
    parts = [part for part in out.split(";\n") if "alembic_version" not in part and part.strip()]
    return ";\n".join(parts) + ";\n"


def squawk_rules(squawk: str, sql_file: Path) -> set[str]:
    done = subprocess.run([squawk, "--reporter", "json", str(sql_file)], capture_output=True, text=True)
    try:
        return {item["rule_name"] for item in json.loads(done.stdout or "[]")}
    except json.JSONDecodeError:
        return {f"(squawk failed: {done.stderr.strip()[:80]})"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squawk", default=shutil.which("squawk"), help="the squawk binary")
    args = parser.parse_args()
    rules = rule_book(load_plugins())
    hazards = [(f"planrun:{rule.id}", rule, rule.bad) for rule in rules.values()]
    probe_rule = rules["lock-table"]  # any rule: only the example's SQL is used
    hazards += [(f"squawk:{name}", probe_rule, Example(sql)) for name, sql in SQUAWK_PROBES.items()]
    if not args.squawk:
        print("squawk not found: npm install --prefix /tmp/squawk squawk-cli, then --squawk PATH")
    version = (
        subprocess.run([args.squawk, "--version"], capture_output=True, text=True).stdout.strip()
        if (args.squawk)
        else "-"
    )
    print(f"# planrun lint ({len(rules)} rules) beside {version} on {len(hazards)} hazards\n")
    print("| hazard | squawk | planrun |")
    print("|---|---|---|")
    missed, lock_span_only, pairs, by_design = [], [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, rule, example) in enumerate(hazards):
            folder = Path(tmp) / f"h{n}"
            project, report = lint_example(folder, rule, example)
            ours = {f.rule for f in report.findings if f.revision == "b2"} - {"empty-downgrade"}
            theirs: set[str] = set()
            if args.squawk:
                sql_file = folder / "upgrade.sql"
                sql_file.write_text(rendered_sql(project.config))
                theirs = squawk_rules(args.squawk, sql_file)
            print(f"| `{name}` | {', '.join(sorted(theirs)) or '-'} | {', '.join(sorted(ours)) or '-'} |")
            for finding in sorted(theirs - NOT_HAZARDS):
                pairs += 1
                if not COVERED_BY.get(finding, set()) & ours:
                    if finding in BY_DESIGN:
                        by_design += 1
                    else:
                        missed.append(f"{name} -> {finding}")
            lock_span_only += sorted(ours - set().union(*COVERED_BY.values()) - set(lock_span_only))
    print()
    same = pairs - len(missed) - by_design
    print(f"squawk findings (hazard, rule): {pairs}; planrun reports the same thing for {same}")
    print(f"  of the rest, {by_design} are squawk's require-statement-timeout on DDL that does not grow with rows")
    print(f"squawk findings planrun does not report: {len(missed)}")
    for item in missed:
        print(f"  {item}")
    print(f"planrun rules that reported and that no squawk rule matches: {len(lock_span_only)}")
    print(f"  {', '.join(lock_span_only)}")


if __name__ == "__main__":
    main()
