"""A run may say what its proofs showed and no more (issue 24): every sentence about the state
the target is in after a run comes from ``planrun/engine/claims.py``, which words it from what
the proofs compared. This test keeps the words that claim a state out of every other module's
messages, so that a new message cannot say "nothing was changed" without a proof behind it."""

from __future__ import annotations

import re
from pathlib import Path

from planrun.engine import claims
from planrun.engine.facts import KeptOnPurpose, Written
from planrun.engine.snapshot import Snapshot

PACKAGE = Path(__file__).resolve().parents[2] / "planrun"
# words that claim the target's state (their variants too)
CLAIMS = re.compile(
    r"nothing (was |has been )?changed|changed nothing|back where it (started|was)|pre-run state is back"
    r"|database is back",
    re.IGNORECASE,
)


def test_no_module_but_claims_words_the_targets_state():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "claims.py" and path.parent.name == "engine":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if CLAIMS.search(line):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert offenders == []


SCHEMA = Snapshot("s", subject="the schema")
DATA = Snapshot("d", subject="every table's data")
SCOPED = Snapshot(
    "d",
    subject="the data of the 2 table(s) in the backup's scope",
    covers=frozenset({"a", "b"}),
    covers_what="the backup's scope",
)
OFFERED = {"schema": "schema to rollback.prove", "data": "restore"}


def test_a_proof_by_every_table_says_so():
    text = claims.proven({"schema": SCHEMA, "data": DATA}, Written(("a",)), "restore", OFFERED)
    assert text == "proven: the schema and every table's data are as before"


def test_a_schema_only_proof_says_data_was_not_compared_and_what_the_run_wrote():
    text = claims.proven({"schema": SCHEMA}, Written(("public.items",)), "downgrade", OFFERED)
    assert text == (
        "proven: the schema is as before; data was not compared (strategy downgrade proves the schema only; add "
        "restore to prove data); the run wrote public.items"
    )


def test_a_scoped_proof_counts_only_when_it_holds_every_table_the_run_wrote():
    assert claims.uncovered({"data": SCOPED}, Written(("a", "b"))) is None
    assert claims.uncovered({"data": SCOPED}, Written(("a", "c", "d"))) == (
        "not proven: the run wrote c, d, outside the backup's scope"
    )
    assert claims.uncovered({"data": SCOPED}, Written(None, "a commit on a driver other than psycopg2")) == (
        "not proven: the run's writes could not all be seen (a commit on a driver other than psycopg2), and the "
        "backup's scope holds some tables only"
    )
    # a proof over every table needs no write record
    assert claims.uncovered({"data": DATA}, Written(None)) is None


def test_what_a_method_kept_on_purpose_is_named():
    kept = KeptOnPurpose(("table public.a",), "other transactions' writes kept there")
    text = claims.proven({"schema": SCHEMA, "data": DATA}, Written(("public.a",)), "restore", OFFERED, kept)
    assert text.endswith(", except table public.a: other transactions' writes kept there")
