"""``planrun lint``: the lint plugin's command, and :func:`lint` for scripts."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

from planrun.plugin import Command, RunOptions

from ..alembic_project.project_plan import add_project_arguments, distinct_projects, plan_or_project
from .output import FORMATS


@dataclass
class LintOptions:
    """How ``planrun lint`` was asked to run."""

    url: str | None = None  # a live database: lint what is pending there, rank findings by table size
    from_revision: str | None = None  # lint after this revision (default: from base)
    files: list[str] | None = None  # report only the revisions in these files (a pre-commit hook's)
    since: str | None = None  # overrides lint.since: findings up to this revision are summarized
    run: bool = True  # run what offline mode cannot render on a scratch database (beside url, or a throwaway cluster)


def lint(
    plan_path: str | None = None,
    *,
    alembic_config: str | None = None,
    options: LintOptions | None = None,
    stream: TextIO | None = None,
):
    """Lint the plan's revisions for unsafe operations; returns the report."""
    from planrun.plugin import open_context

    from .plugin import lint_project

    # Without a plan, the revisions run under plain `alembic upgrade`: no lock_timeout but theirs.
    loaded = plan_or_project(plan_path, alembic_config, migrate={"lock_timeout": None})
    reports = [
        lint_project(open_context(view, RunOptions(command="lint"), stream=stream), options or LintOptions())
        for view in distinct_projects(loaded)
    ]
    for other in reports[1:]:  # a plan over several projects: one report for them all
        reports[0].revisions += other.revisions
        reports[0].findings += other.findings
        reports[0].files.update(other.files)
        reports[0].old_revisions += other.old_revisions
        for rule, count in other.old.items():
            reports[0].old[rule] = reports[0].old.get(rule, 0) + count
    if options is not None and options.files is not None:
        reports[0].only_files(options.files)
    return reports[0]


def _arguments(parser) -> None:
    add_project_arguments(parser, "lint")
    parser.add_argument("--url", help="a live database: lint what is pending there and rank findings by table size")
    parser.add_argument("--from", dest="from_revision", help="lint the revisions after this one (default: from base)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (file:line), json, github (annotations), markdown (a PR comment), sarif (SARIF 2.1.0, for code "
        "scanning) or gitlab (Code Quality)",
    )
    parser.add_argument("--json", dest="format", action="store_const", const="json", help="the same as --format json")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show what Alembic, env.py and the revisions print (by default it is captured, and shown only when "
        "lint cannot finish)",
    )
    parser.add_argument("--rules", action="store_true", help="print the rule catalogue (Markdown) and exit")
    parser.add_argument("--explain", metavar="RULE", help="print one rule's page (why, instead, examples) and exit")
    parser.add_argument(
        "--doc", action="store_true", help="with --rules: every rule with its examples (docs/lint-rules.md)"
    )
    parser.add_argument(
        "--since",
        metavar="REV",
        help="adopt lint on a long history: findings in REV and before are summarized, not failures (lint.since)",
    )
    parser.add_argument(
        "--no-run",
        action="store_true",
        help="never run a revision: the ones offline mode cannot render are reported not-linted instead of being run "
        "on a scratch database (beside --url, or on a throwaway cluster) to capture their SQL",
    )
    parser.add_argument(
        "--files",
        nargs="*",
        metavar="FILE",
        help="report only the revisions in these files (what a pre-commit hook passes); the others are still read",
    )


def _run(args) -> int:
    if args.explain:
        from planrun.plugin import load_plugins

        from .book import explain, rule_book

        print(
            explain(rule_book(plan_or_project(args.plan, None).plugins if args.plan else load_plugins()), args.explain),
            end="",
        )
        return 0
    if args.rules:
        from planrun.plugin import load_plugins

        from .book import catalogue_json, catalogue_markdown, rule_book, rules_document

        # a plan's plugins: list may add rules of its own
        book = rule_book(plan_or_project(args.plan, None).plugins if args.plan else load_plugins())
        if args.doc:
            print(rules_document(book), end="")
        else:
            print(catalogue_json(book) if args.format == "json" else catalogue_markdown(book))
        return 0
    import contextlib

    from ..alembic_project.command_io import Capture, captured

    output = Capture()  # what Alembic, env.py and the revisions print: never into the report
    try:
        shown = contextlib.redirect_stdout(sys.stderr) if args.verbose else captured(output, verbose=False)
        with shown:  # (shown or not, stdout is the report's alone: --format json stays JSON)
            report = lint(
                args.plan,
                alembic_config=args.alembic_config,
                options=LintOptions(
                    url=args.url,
                    from_revision=args.from_revision,
                    files=args.files,
                    since=args.since,
                    run=not args.no_run,
                ),
            )
    except BaseException:
        sys.stderr.write(output.getvalue())
        raise
    from .output import wants_colour

    sys.stdout.write(report.render(args.format, colour=wants_colour(sys.stdout)))
    return 1 if report.errors else 0


COMMANDS = [
    Command(
        "lint",
        "find unsafe operations in pending revisions (before review ends)",
        _run,
        _arguments,
        description="Render each revision's SQL (Alembic offline mode), parse it with PostgreSQL's parser and "
        "report destructive, locking, breaking and rollback problems with file:line.",
    ),
]
