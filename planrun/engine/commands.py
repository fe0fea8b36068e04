"""What a CLI verb is, so that plugins can contribute their own (``planrun_commands``) and
options to others' (``planrun_command_options``), as pytest plugins add options and datasette
plugins add commands. The engine's CLI only assembles them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import UsageError

if TYPE_CHECKING:
    from .context import RunContext


@dataclass(frozen=True)
class Command:
    """One verb of ``planrun``.

    ``arguments(parser)`` adds its arguments; ``run(args)`` does the work and returns the exit
    code (raise a :class:`~planrun.engine.errors.PlanrunError` for the usual ones).
    ``runs_steps``: the command is a journaled run on the plan's target under its lock (apply,
    recover, restore), so options that shape such a run (``--wait``) apply to it too.
    """

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    arguments: Callable[[argparse.ArgumentParser], object] | None = None  # what it returns is not read
    description: str = ""
    runs_steps: bool = False


def add_plan_argument(parser: argparse.ArgumentParser, *, optional: bool = False, state_dir: bool = True) -> None:
    """The plan file argument (and ``--state-dir``) that most commands take."""
    if optional:
        parser.add_argument("plan", nargs="?", help="the plan file (YAML)")
    else:
        parser.add_argument("plan", help="the plan file (YAML)")
    if state_dir:
        parser.add_argument("--state-dir", default=".planrun", help="where run journals are kept (any fsspec URL)")


def add_format_argument(parser: argparse.ArgumentParser) -> None:
    """``--format text|json``, one meaning on every command: ``json`` prints one JSON document
    on stdout when the command ends (its progress, if any, goes to stderr). ``--json`` is the
    same as ``--format json``."""
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people; json: one JSON document on stdout at the end (progress on stderr)",
    )
    parser.add_argument("--json", dest="format", action="store_const", const="json", help="the same as --format json")


def wants_json(args: argparse.Namespace) -> bool:
    return getattr(args, "format", "text") == "json"


def print_json(document: Any) -> None:
    """A command's JSON document (dataclasses and datetimes included)."""
    import dataclasses
    import json

    def plain(value):
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.asdict(value)
        return str(value)

    print(json.dumps(document, indent=2, default=plain))


def progress_stream(args: argparse.Namespace):
    """Where a command's progress goes: stderr when stdout is for its JSON document."""
    return sys.stderr if wants_json(args) else None


def run_ended(args: argparse.Namespace, result) -> int:
    """A run's exit code; with ``--format json``, its result (a RunResult) printed first."""
    if wants_json(args):
        print_json(result)
    return result.exit_code


def add_yes_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


def confirmation(args: argparse.Namespace, question: str) -> Callable[[RunContext], bool] | None:
    """Ask ``question`` (``{plan}`` and ``{target}`` filled in) unless ``--yes`` was given;
    refuse to go on without a terminal to ask on."""
    if getattr(args, "yes", False):
        return None
    if not sys.stdin.isatty():
        raise UsageError("not on a terminal: pass --yes to go ahead without confirmation")

    def ask(ctx: RunContext) -> bool:
        show_what_will_run(ctx)
        return input(question.format(plan=ctx.plan.name, target=ctx.target_name)).strip().lower() in ("y", "yes")

    return ask


def show_what_will_run(ctx: RunContext) -> None:
    """Before the question: the steps in order and what each plugin says will change (the
    pending revisions, the SQL), so the answer is about something seen, not a plan's name."""
    from .runner import collect_steps

    steps = [
        f"{step.phase}: {step.name}" + (f" - {step.description}" if step.description else "")
        for step in collect_steps(ctx)
    ]
    ctx.reporter.section("steps", "\n".join(steps))
    try:
        found = [section for sections in ctx.hook.planrun_describe(ctx=ctx) for section in (sections or [])]
    except Exception as exc:  # the run's own preflight says it properly; the question still comes
        ctx.reporter.warning(f"cannot show what will change: {exc}")
        return
    for title, body in found:  # each plugin's account, the long ones cut (planrun plan shows them whole)
        lines = body.splitlines()
        shown = lines[:SHOWN_LINES] + (
            [f"... {len(lines) - SHOWN_LINES} more lines: planrun plan shows all"] if len(lines) > SHOWN_LINES else []
        )
        ctx.reporter.section(title, "\n".join(shown))


SHOWN_LINES = 12  # per section before the [y/N] question


def command_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed arguments, as the run's options carry them for plugins to read."""
    return {key: value for key, value in vars(args).items() if key not in ("command", "debug")}


def duration_argument(text: str):
    """An argparse type for durations like ``5m`` (for options plugins add)."""
    from .plan.types import parse_duration  # pydantic stays unimported until used

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
