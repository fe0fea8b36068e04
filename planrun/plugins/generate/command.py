"""The ``generate`` command: arguments, a progress bar on a terminal, the per-table report."""

from __future__ import annotations

import argparse

from planrun.plugin import Command, UsageError


def _table_rows(text: str) -> tuple[str, int]:
    name, _, count = text.partition("=")
    try:
        return name.strip(), int(count.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TABLE=ROWS like users=1000000, got {text!r}") from None


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1 like 0.05, got {text!r}")
    return value


def _arguments(parser) -> None:
    parser.add_argument("--url", required=True, help="the database to fill (it gains rows; nothing is deleted)")
    parser.add_argument("--rows", type=int, default=10_000, help="rows to add to every table (default 10000)")
    parser.add_argument(
        "--table",
        action="append",
        type=_table_rows,
        default=[],
        metavar="TABLE=ROWS",
        help="rows for one table (repeatable); others get --rows",
    )
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same rows (default 0)")
    parser.add_argument(
        "--edge-share", type=_share, default=0.05, help="share of values that are edge cases (default 0.05)"
    )
    parser.add_argument("--only-empty", action="store_true", help="fill only the tables that have no rows yet")


def _run(args) -> int:
    from rich.console import Console

    from planrun.plugins.datagen.generate import generate

    console = Console(highlight=False, soft_wrap=True, stderr=True)
    if args.rows < 0 or any(count < 0 for _, count in args.table):
        raise UsageError("--rows and --table counts cannot be negative")
    try:
        with _progress(console) as progress:
            report = generate(
                args.url,
                args.rows,
                per_table=dict(args.table),
                seed=args.seed,
                edge_share=args.edge_share,
                only_empty=args.only_empty,
                progress=progress,
            )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _print(report)
    return 1 if report.problems or any(t.note.startswith("not filled") for t in report.tables) else 0


class _progress:
    """A rich progress bar per table on a terminal (rows, rows/s); nothing elsewhere."""

    def __init__(self, console):
        self.console, self.bar, self.tasks = console, None, {}

    def __enter__(self):
        if not self.console.is_terminal:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[speed]}"),
            console=self.console,
        )
        self.bar.__enter__()
        return self.update

    def update(self, table: str, done: int, total: int) -> None:
        if table not in self.tasks:
            self.tasks[table] = self.bar.add_task(table, total=total, speed="")
        task = self.tasks[table]
        elapsed = self.bar.tasks[task].elapsed or 0.0
        speed = f"{done / elapsed:,.0f} rows/s" if elapsed else ""
        self.bar.update(task, completed=done, speed=speed)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _print(report) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"planrun generate (seed {report.seed}, edge share {report.edge_share:g})")
    for column in ("table", "rows added", "refused", "edge values", "seconds", "rows/s", "note"):
        table.add_column(column, justify="left" if column in ("table", "note") else "right")
    for t in report.tables:
        speed = f"{t.inserted / t.seconds:,.0f}" if t.seconds else ""
        table.add_row(t.table, f"{t.inserted:,}", f"{t.refused:,}", f"{t.edges:,}", f"{t.seconds:.2f}", speed, t.note)
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = 140
    console.print(table)
    for problem in report.problems:
        console.print(f"not filled: {problem}", markup=False)
    console.print(f"{report.rows:,} rows in {report.seconds:.1f}s ({report.rows_per_second:,.0f} rows/s)", markup=False)


COMMANDS = [
    Command(
        "generate",
        "fill a database with generated rows, edge cases mixed in",
        _run,
        _arguments,
        description="Add generated rows to every table of a database as it stands: values that fit each column's "
        "type and constraints, parents before the tables referencing them, edge cases at --edge-share, the same "
        "rows for the same seed.",
    ),
]
