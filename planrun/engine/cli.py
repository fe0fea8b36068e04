"""``planrun``: parse the command line, call :mod:`planrun.engine.api`, map errors to exit codes.

Exit codes: 0 success; 1 the run failed and the database is back where it started; 2 bad plan
or usage (nothing ran); 3 the rollback failed too (a human must act); 4 internal error.
"""
from __future__ import annotations

import argparse
import json
import sys
import traceback
from typing import Callable, Sequence

from .. import __version__
from .errors import EXIT_BAD_PLAN, PlanError, PlanrunError, UsageError

EXIT_INTERNAL = 4


def _duration(text: str):
    from .plan.types import parse_duration  # pydantic stays unimported for --help

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2 with one line, like bad plans
        self.print_usage(sys.stderr)
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="planrun", description="Run reviewed PostgreSQL migration plans, with a proven way back.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument("--version", action="version", version=f"planrun {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def plan_command(name: str, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.add_argument("plan", help="the plan file (YAML)")
        command.add_argument("--state-dir", default=".planrun", help="where run journals are kept (any fsspec URL)")
        return command

    plan_command("validate", "check a plan file and report every problem with its line")
    plan_command("plan", "dry run: show what apply would do, change nothing")
    apply = plan_command("apply", "run the plan: lock, checks, migrate, checks; roll back on failure")
    apply.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    apply.add_argument("--wait", type=_duration, default=None, help="wait this long for another run's lock (e.g. 5m)")
    apply.add_argument("--metrics-port", type=int, default=None, help="serve the monitor's metrics for Prometheus on this port")
    plan_command("backups", "list the plan's backups with their manifests")
    restore = plan_command("restore", "replace the target's content with a backup (asks first)")
    restore.add_argument("--backup", required=True, help="the backup id (see planrun backups)")
    restore.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    restore.add_argument("--wait", type=_duration, default=None, help="wait this long for another run's lock")
    verify = plan_command("verify-backup", "verify a stored backup again")
    verify.add_argument("--backup", required=True, help="the backup id (see planrun backups)")
    verify.add_argument("--depth", choices=["checksum", "read", "restore"], help="default: the plan's backup.verify")
    test = sub.add_parser("test", help="round-trip every revision on a throwaway database (CI)",
                          description="Upgrade, verify, downgrade, prove the downgrade left no trace, upgrade again: every revision.")
    test.add_argument("plan", nargs="?", help="the plan file (or use --alembic-config)")
    test.add_argument("--alembic-config", help="test this alembic.ini's project without a plan")
    test.add_argument("--url", help="a server to create the scratch database on (default: a throwaway cluster)")
    test.add_argument("--keep-going", action="store_true", help="after a failed revision, go on with the next ones")
    test.add_argument("-v", "--verbose", action="store_true", help="show what Alembic and env.py print for every case "
                                                                   "(by default it is captured and shown for failing cases only)")
    test.add_argument("--prepare", metavar="CMD", help="a .sql file or shell command run on the empty scratch database "
                                                       "first (its URL in $DATABASE_URL); overrides test.prepare")
    test.add_argument("--junit-xml", metavar="PATH", help="write a JUnit XML report")
    test.add_argument("--json", metavar="PATH", help="write a JSON report")
    lint = sub.add_parser("lint", help="find unsafe operations in pending revisions (before review ends)",
                          description="Render each revision's SQL (Alembic offline mode), parse it with PostgreSQL's parser and "
                                      "report destructive, locking, breaking and rollback problems with file:line.")
    lint.add_argument("plan", nargs="?", help="the plan file (or use --alembic-config)")
    lint.add_argument("--alembic-config", help="lint this alembic.ini's project without a plan")
    lint.add_argument("--url", help="a live database: lint what is pending there and rank findings by table size")
    lint.add_argument("--from", dest="from_revision", help="lint the revisions after this one (default: from base)")
    lint.add_argument("--format", choices=["text", "json", "github", "markdown"], default="text")
    lint.add_argument("--rules", action="store_true", help="print the rule catalogue (Markdown) and exit")
    recover = plan_command("recover", "finish a run that died: roll it back to where it started and prove it (or forward)")
    recover.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    recover.add_argument("--wait", type=_duration, default=None, help="wait this long for another run's lock")
    status = sub.add_parser("status", help="the target's revision, pending revisions, last runs, dead runs, drift",
                            description="Where the plan's target stands. Exit 0 clean, 1 drift / an edited applied "
                                        "revision / a run that died, 2 usage.")
    status.add_argument("plan", help="the plan file (YAML)")
    status.add_argument("--json", action="store_true", help="print JSON")
    history = sub.add_parser("history", help="list past runs from the journal")
    history.add_argument("--state-dir", default=".planrun")
    history.add_argument("--json", action="store_true", help="print JSON lines")
    sub.add_parser("schema", help="print the plan's JSON Schema")
    for verb, text in (("pause", "pause a running run's batched backfills between batches"),
                       ("resume", "resume a paused run"),
                       ("abort", "stop a running run now: cancel the migration and roll back")):
        control = sub.add_parser(verb, help=text, description=text)
        control.add_argument("run_id", help="the run's id (shown when it starts; see planrun status)")
        control.add_argument("plan", nargs="?", help="the run's plan: reach the run through its database, from any machine")
        control.add_argument("--state-dir", default=".planrun", help="without a plan: the running run's local state directory")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except PlanrunError as exc:
        print(str(exc) if isinstance(exc, PlanError) else f"planrun: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("planrun: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so plainly, traceback only when asked
        print(f"planrun: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if debug:
            traceback.print_exc()
        else:
            print("planrun: run again with --debug for the traceback", file=sys.stderr)
        return EXIT_INTERNAL


def _validate(args) -> int:
    from . import api

    loaded = api.validate(args.plan)
    print(f"{args.plan}: ok (plan {loaded.plan.name!r}, {len(loaded.plan.checks.pre)} pre-checks, {len(loaded.plan.checks.post)} post-checks)")
    return 0


def _plan(args) -> int:
    from . import api
    from .context import RunOptions

    result = api.plan(args.plan, options=RunOptions(state_dir=args.state_dir))
    return EXIT_BAD_PLAN if any(f.severity == "error" for f in result.findings) else 0


def _apply(args) -> int:
    from . import api
    from .context import RunOptions

    confirm = _confirmation(args, "Apply plan {plan} to {target}? [y/N] ")
    options = RunOptions(state_dir=args.state_dir, wait=args.wait, metrics_port=args.metrics_port)
    result = api.apply(args.plan, options=options, confirm=confirm)
    return result.exit_code


def _lint(args) -> int:
    from . import api
    from .context import LintOptions

    if args.rules:
        from .plugins import load_plugins

        catalogues = [c for c in load_plugins().hook.planrun_lint_catalogue() if c]
        print("\n\n".join(catalogues))
        return 0
    report = api.lint(args.plan, alembic_config=args.alembic_config,
                      options=LintOptions(url=args.url, from_revision=args.from_revision))
    sys.stdout.write(report.render(args.format))
    return 1 if report.errors else 0


def _control(args) -> int:
    from . import api

    print(api.steer(args.run_id, args.command, state_dir=args.state_dir, plan_path=args.plan))
    return 0


def _recover(args) -> int:
    from . import api
    from .context import RunOptions

    confirm = _confirmation(args, "Recover the runs that died on {target} (plan {plan})? [y/N] ")
    result = api.recover(args.plan, options=RunOptions(state_dir=args.state_dir, wait=args.wait), confirm=confirm)
    return result.exit_code


def _status(args) -> int:
    from . import api

    report = api.status(args.plan)
    if args.json:
        print(report.to_json())
    else:
        for section in report.sections:
            print(f"{section['title']}:")
            for line in section["lines"]:
                print(f"  {line}")
        for problem in report.problems:
            print(f"PROBLEM: {problem}")
    return 1 if report.problems else 0


def _confirmation(args, question: str):
    if args.yes:
        return None
    if not sys.stdin.isatty():
        raise UsageError("not on a terminal: pass --yes to go ahead without confirmation")
    return lambda ctx: input(question.format(plan=ctx.plan.name, target=ctx.target_name)).strip().lower() in ("y", "yes")


def _backups(args) -> int:
    from . import api
    from .context import RunOptions

    found = api.backups(args.plan, options=RunOptions(state_dir=args.state_dir))
    if not found:
        print("no backups")
    for manifest in found:
        m = manifest.model_dump()
        rows = sum(m["row_counts"].values())
        print(f"{m['backup_id']}  {m['created_at']}  revision {m['revision'] or '-':<12} {m['size']:>12} bytes  "
              f"{m['format']}/{m['compression']}  {len(m['row_counts'])} tables, {rows} rows  from {m['database']}")
    return 0


def _verify_backup(args) -> int:
    from . import api
    from .context import RunOptions

    print(api.verify_backup(args.plan, args.backup, args.depth, options=RunOptions(state_dir=args.state_dir)))
    return 0


def _restore(args) -> int:
    from . import api
    from .context import RunOptions

    confirm = _confirmation(args, f"Replace the content of {{target}} with backup {args.backup}? [y/N] ")
    result = api.restore(args.plan, args.backup, options=RunOptions(state_dir=args.state_dir, wait=args.wait), confirm=confirm)
    return result.exit_code


def _history(args) -> int:
    from . import api

    runs = api.history(args.state_dir)
    if args.json:
        for run in runs:
            print(json.dumps(run, default=str))
        return 0
    if not runs:
        print(f"no runs recorded under {args.state_dir}")
    for run in runs:
        duration = f"{run['duration']:.1f}s" if run.get("duration") is not None else "-"
        print(f"{run['run_id']}  {run['command'] or '':<6} {run['plan'] or '':<24} {run['target'] or '':<28} {run['outcome']:<16} {duration}")
    return 0


def _test(args) -> int:
    from pathlib import Path

    from . import api
    from .context import TestOptions

    report = api.test(args.plan, alembic_config=args.alembic_config, options=TestOptions(args.url, args.keep_going, args.prepare, args.verbose))
    _print_test_report(report)
    if args.junit_xml:
        Path(args.junit_xml).write_text(report.to_junit())
    if args.json:
        Path(args.json).write_text(report.to_json())
    return 0 if report.ok else 1


def _print_test_report(report) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"planrun test: {report.project}", show_lines=False)
    table.add_column("test")
    table.add_column("revision / check", overflow="ellipsis", no_wrap=True, max_width=60)
    for column in ("up", "down", "up again", "result"):
        table.add_column(column, no_wrap=True)
    for case in report.cases:
        times = [f"{case.timings[k]:.2f}s" if k in case.timings else "" for k in ("up", "down", "up_again")]
        style = {"passed": "green", "failed": "red", "skipped": "yellow"}[case.outcome]
        table.add_row(case.suite, case.name, *times, f"[{style}]{case.outcome}[/{style}]")
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = 120  # CI logs: do not squeeze the table to 80 columns
    console.print(table)
    for case in report.cases:
        if case.outcome != "passed":
            console.print(f"[bold]{case.suite} {case.name}[/bold]: {case.message}", markup=True)
            for line in case.details[1:] if case.details and case.details[0] == case.message else case.details:
                console.print(f"    {line}", markup=False)
            if case.outcome == "failed" and case.output.strip():
                lines = case.output.rstrip().splitlines()
                console.print(f"    --- what Alembic and env.py printed{' (last 40 lines)' if len(lines) > 40 else ''}:", markup=False)
                for line in lines[-40:]:
                    console.print(f"    | {line}", markup=False)
    for note in report.notes:
        console.print(f"note: {note}", markup=False)
    console.print(f"{report.coverage()}; {'all passed' if report.ok else 'FAILED'}", markup=False)


def _schema(args) -> int:
    from . import api

    sys.stdout.write(api.schema_text())
    return 0


COMMANDS: dict[str, Callable] = {
    "validate": _validate,
    "plan": _plan,
    "apply": _apply,
    "history": _history,
    "test": _test,
    "backups": _backups,
    "restore": _restore,
    "verify-backup": _verify_backup,
    "schema": _schema,
    "lint": _lint,
    "recover": _recover,
    "status": _status,
    "pause": _control,
    "resume": _control,
    "abort": _control,
}

if __name__ == "__main__":
    sys.exit(main())
