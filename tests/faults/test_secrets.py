"""No secret printed, even by the project's own code (issue 26, item 4): a revision or env.py
that prints its URL while planrun runs it, in-process, on import, in ``upgrade()``, through
logging, and in the ``downgrade()`` a rollback runs. The password must reach neither the
console nor the journal; the rest of what they print stays readable."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from conftest import current_revision

LOUD = """\
import logging
import os
import sys

from urllib.parse import urlsplit

print("importing, url", os.environ["DATABASE_URL"])
print("the password alone:", urlsplit(os.environ["DATABASE_URL"]).password)
"""


def test_what_a_revision_prints_goes_through_the_redactor(demo, run_cli):
    password = urlsplit(demo.url).password
    assert password
    path = demo.add_revision(
        "003",
        "002",
        '    print("upgrading, url", os.environ["DATABASE_URL"])\n'
        '    print("stderr too:", os.environ["DATABASE_URL"], file=sys.stderr)\n'
        '    logging.getLogger("alembic.runtime.migration").warning("logged %s", os.environ["DATABASE_URL"])\n',
        '    print("downgrading, url", os.environ["DATABASE_URL"])\n',
    )
    path.write_text(LOUD + path.read_text())
    # a post-check that fails, so that the rollback runs the downgrade too
    plan = demo.write_plan(
        demo.plan.read_text().replace(
            "  post:\n", '  post:\n    - {name: fails on purpose, sql: "SELECT count(*) FROM users", expect: 0}\n', 1
        )
    )
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir, "-v")  # shown as it goes
    assert code == 1, out + err
    printed = out + err
    assert "upgrading, url postgresql://" in printed and "downgrading, url postgresql://" in printed, printed
    assert "importing, url" in printed and "logged postgresql://" in printed and "stderr too:" in printed
    assert password not in printed
    journals = "".join(p.read_text() for p in Path(demo.state_dir).rglob("*.jsonl"))
    assert journals and password not in journals
    assert "the password alone: ***" in printed
    assert current_revision(demo.url) == ["000"]
    code, out, err = run_cli("plan", plan)  # not a run: the command line's own filter
    assert "importing, url postgresql://" in out + err, out + err
    assert password not in out + err


def test_a_run_through_the_api_redacts_what_the_project_prints(demo, capfd):
    """A script calling ``planrun.engine.api.apply`` (no command line around it), as the fleet's
    workers do: the run itself filters what the project prints."""
    import io

    from planrun.engine import api
    from planrun.engine.context import RunOptions

    password = urlsplit(demo.url).password
    path = demo.add_revision("003", "002", '    print("upgrading, url", os.environ["DATABASE_URL"])\n')
    path.write_text(LOUD + path.read_text())
    report = io.StringIO()
    options = RunOptions(state_dir=demo.state_dir, flags={"verbose": True})  # shown as it goes, not captured
    result = api.apply(str(demo.plan), options=options, stream=report)
    assert result.exit_code == 0, report.getvalue()
    printed = capfd.readouterr()
    assert "upgrading, url postgresql://" in printed.out, printed
    assert password not in printed.out + printed.err + report.getvalue()


def test_what_a_failed_revision_printed_is_shown_redacted(demo, run_cli):
    """Captured by default, shown when the migration fails: through the redactor like the rest."""
    password = urlsplit(demo.url).password
    path = demo.add_revision(
        "003", "002", '    print("about to fail, url", os.environ["DATABASE_URL"])\n    op.execute("SELECT nope()")\n'
    )
    path.write_text(LOUD + path.read_text())
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err
    assert "what Alembic and env.py printed during the upgrade" in out
    assert "about to fail, url postgresql://" in out and password not in out + err
