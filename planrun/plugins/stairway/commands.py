"""``planrun test``: the stairway plugin's command, and :func:`test` for scripts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from planrun.plugin import Command, RunOptions, add_format_argument, wants_json

from ..alembic_project.project_plan import add_project_arguments, distinct_projects, plan_or_project
from .report import StairwayReport


@dataclass
class StairwayOptions:
    """How ``planrun test`` was asked to run."""

    server_url: str | None = None  # a server to make the scratch database on; None: a throwaway cluster
    keep_going: bool = False
    prepare: str | None = None  # overrides the plan's test.prepare
    verbose: bool = False  # let Alembic and env.py print as they go instead of capturing it per case
    data: str | None = None  # "generated" | "none": overrides the plan's test.data
    rows: int | None = None  # generated rows per table (implies --data generated)
    seed: int | None = None
    load: float | None = None  # client transactions per second during every upgrade and downgrade


def test(
    plan_path: str | None = None,
    *,
    alembic_config: str | None = None,
    options: StairwayOptions | None = None,
    stream: TextIO | None = None,
) -> StairwayReport:
    """Round-trip every revision on a throwaway database: upgrade, fingerprint, downgrade,
    compare, upgrade again; plus static checks of the revision graph and a drift check. Never
    touches the plan's target: the context's target is the scratch database once it is made."""
    from planrun.plugin import open_context

    from .run import run_tests

    loaded = plan_or_project(plan_path, alembic_config)
    reports = []
    for view in distinct_projects(loaded):  # a plan over several projects: each one's stairway
        ctx = open_context(view, RunOptions(command="test"), stream=stream)
        ctx.target_url = ""
        reports.append(run_tests(ctx, options or StairwayOptions()))
    for other in reports[1:]:
        reports[0].project += f", {other.project}"
        reports[0].cases += other.cases
        reports[0].revisions_total += other.revisions_total
        reports[0].notes += other.notes
    return reports[0]


test.__test__ = False  # a function named like a test, not one


def _arguments(parser) -> None:
    add_project_arguments(parser, "test")
    parser.add_argument(
        "--server",
        "--url",  # its name before --url came to mean "the database this command works on" everywhere else
        dest="url",
        metavar="URL",
        help="a server to create the scratch database on (default: a throwaway cluster)",
    )
    parser.add_argument("--keep-going", action="store_true", help="after a failed revision, go on with the next ones")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show what Alembic and env.py print for every case "
        "(by default it is captured and shown for failing cases only)",
    )
    parser.add_argument(
        "--prepare",
        metavar="CMD",
        help="a .sql file or shell command run on the empty scratch database "
        "first (its URL in $DATABASE_URL); overrides test.prepare",
    )
    parser.add_argument(
        "--data",
        choices=("generated", "none"),
        help="run on generated rows (edge cases mixed in) and measure each revision's locks (default: the plan's "
        "test.data)",
    )
    parser.add_argument("--rows", type=int, help="generated rows per table (implies --data generated)")
    parser.add_argument("--seed", type=int, help="seed of the generated rows")
    parser.add_argument(
        "--load",
        type=_rate,
        metavar="RATE/s",
        help="clients reading and writing at this total rate during every upgrade and downgrade, e.g. 200/s",
    )
    parser.add_argument("--junit-xml", metavar="PATH", help="write a JUnit XML report")
    parser.add_argument("--json-report", metavar="PATH", help="write the JSON report to a file")
    add_format_argument(parser)


def _rate(text: str) -> float:
    import argparse

    try:
        rate = float(text.removesuffix("/s"))
    except ValueError:
        rate = 0.0
    if rate <= 0:
        raise argparse.ArgumentTypeError(f"expected transactions per second like 200/s, got {text!r}")
    return rate


def _run(args) -> int:
    if args.rows is not None and args.rows < 0:
        from planrun.plugin import UsageError

        raise UsageError("--rows cannot be negative")
    options = StairwayOptions(
        args.url, args.keep_going, args.prepare, args.verbose, args.data, args.rows, args.seed, args.load
    )
    report = test(args.plan, alembic_config=args.alembic_config, options=options)
    if wants_json(args):
        print(report.to_json())
    else:
        print_report(report)
    if args.junit_xml:
        Path(args.junit_xml).write_text(report.to_junit())
    if args.json_report:
        Path(args.json_report).write_text(report.to_json())
    return 0 if report.ok else 1


def print_report(report: StairwayReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"planrun test: {report.project}", show_lines=False)
    table.add_column("test")
    table.add_column("revision / check", overflow="ellipsis", no_wrap=True, max_width=60)
    for column in ("up", "down", "up again", "result"):
        table.add_column(column, no_wrap=True)
    for case in report.cases:
        times = [f"{case.timings[k]:.2f}s" if k in case.timings else "" for k in ("up", "down", "up_again")]
        style = {"passed": "green", "failed": "red", "skipped": "yellow", "irreversible": "cyan"}[case.outcome]
        table.add_row(case.suite, case.name, *times, f"[{style}]{case.outcome}[/{style}]")
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = 120  # CI logs: do not squeeze the table to 80 columns
    console.print(table)
    for case in report.cases:
        for remark in case.remarks:
            console.print(f"{case.suite} {case.name}: {remark}", markup=False)
        if case.outcome not in ("passed", "irreversible"):
            console.print(f"[bold]{case.suite} {case.name}[/bold]: {case.message}", markup=True)
            for line in case.details[1:] if case.details and case.details[0] == case.message else case.details:
                console.print(f"    {line}", markup=False)
            if case.outcome == "failed" and case.output.strip():
                lines = case.output.rstrip().splitlines()
                console.print(
                    f"    --- what Alembic and env.py printed{' (last 40 lines)' if len(lines) > 40 else ''}:",
                    markup=False,
                )
                for line in lines[-40:]:
                    console.print(f"    | {line}", markup=False)
    _print_measures(console, report)
    for note in report.notes:
        console.print(f"note: {note}", markup=False)
    console.print(f"{report.coverage()}; {'all passed' if report.ok else 'FAILED'}", markup=False)


def _print_measures(console, report: StairwayReport) -> None:
    """At volume: per revision and direction, the longest strong lock on an existing table, the
    tables rewritten, and the clients' p99 and longest wait against the baseline."""
    from rich.table import Table

    measured = [c for c in report.cases if c.measures]
    if not measured:
        return
    table = Table(title="at volume: locks and clients")
    for column in (
        "revision",
        "",
        "seconds",
        "longest lock blocking writers",
        "rewrites",
        "client p99 (baseline)",
        "longest wait",
    ):
        table.add_column(column, overflow="fold")
    for case in measured:
        for direction, figures in case.measures.items():
            locks = [lock for lock in figures["locks"] if lock["existed"]]
            lock = f"{locks[0]['mode']} {locks[0]['table']} {locks[0]['ms']:.0f} ms" if locks else "-"
            clients = figures.get("clients") if figures.get("clients", {}).get("transactions") else None
            p99 = f"{clients['p99_ms']:.1f} ms ({clients['baseline_p99_ms'] or 0:.1f})" if clients else ""
            wait = f"{clients['longest_ms']:.0f} ms" if clients else ""
            rewrites = ", ".join(figures["rewritten"]) or "-"
            table.add_row(case.revision or case.name, direction, f"{figures['seconds']:.2f}", lock, rewrites, p99, wait)
    console.print(table)


COMMANDS = [
    Command(
        "test",
        "round-trip every revision on a throwaway database (CI)",
        _run,
        _arguments,
        description="Upgrade, verify, downgrade, prove the downgrade left no trace, upgrade again: every revision.",
    ),
]
