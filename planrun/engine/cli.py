"""``planrun``: parse the command line, call :mod:`planrun.engine.api`, map errors to exit codes.

Exit codes: 0 success; 1 the run failed and its rollback was proven (the end says what was compared);
2 bad plan or usage (no step that changes the target ran); 3 the rollback failed or could not be
proven (a human must act); 4 internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from .. import __version__
from .commands import (
    Command,
    add_format_argument,
    add_plan_argument,
    add_yes_argument,
    command_flags,
    confirmation,
    print_json,
    progress_stream,
    run_ended,
    wants_json,
)
from .errors import EXIT_BAD_PLAN, EXIT_CODES, EXIT_INTERNAL, PlanError, PlanrunError, UsageError
from .redact import every_secret, redacted_output


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2 with one line, like bad plans
        self.print_usage(sys.stderr)
        raise UsageError(message)


def _core_commands() -> list[Command]:
    """The verbs of every run, whatever plugins are loaded."""

    def yes(parser):
        add_plan_argument(parser)
        add_yes_argument(parser)
        add_format_argument(parser)

    def plan_arguments(parser):
        add_plan_argument(parser)
        add_format_argument(parser)

    def status_arguments(parser):
        add_plan_argument(parser, state_dir=False)
        add_format_argument(parser)

    def history_arguments(parser):
        parser.add_argument("--state-dir", default=".planrun")
        add_format_argument(parser)

    return [
        Command("validate", "check a plan file and report every problem with its line", _validate, plan_arguments),
        Command("plan", "dry run: show what apply would do, change nothing", _plan, plan_arguments),
        Command(
            "apply", "run the plan's steps in order; roll back and prove it on failure", _apply, yes, runs_steps=True
        ),
        Command(
            "recover",
            "finish a run that died: roll it back to where it started and prove it (or forward)",
            _recover,
            yes,
            runs_steps=True,
        ),
        Command(
            "status",
            "where the plan's target stands: what is pending, the last runs, dead runs, drift",
            _status,
            status_arguments,
            description="Where the plan's target stands, as each plugin sees it. Exit 0 clean, 1 when a plugin "
            "reports a "
            "problem (drift, a run that died...), 2 usage.",
        ),
        Command("history", "list past runs from the journal", _history, history_arguments),
        Command(
            "schema",
            "print the plan's JSON Schema (--notifications: the notification payload's)",
            _schema,
            lambda parser: parser.add_argument(
                "--notifications", action="store_true", help="the payload webhooks receive, not the plan's"
            ),
        ),
        Command(
            "completion",
            "print the shell code that completes planrun's commands and options (bash, zsh, fish)",
            _completion,
            lambda parser: parser.add_argument("shell", choices=("bash", "zsh", "fish", "tcsh"), help="your shell"),
            description='Shell completion (argcomplete). Add to ~/.bashrc: eval "$(planrun completion bash)"; '
            'for zsh, to ~/.zshrc: eval "$(planrun completion zsh)"; for fish: planrun completion fish | source.',
        ),
        Command(
            "plugins",
            "list the loaded plugins, where they come from and the hooks each implements",
            _plugins,
            add_format_argument,
        ),
    ]


def build_parser(plugins=None) -> argparse.ArgumentParser:
    """The command line: the core verbs, then every plugin's, each with the options plugins add."""
    from .plugins import load_plugins

    plugins = plugins or load_plugins()
    parser = _Parser(
        prog="planrun",
        description="Run reviewed plans that change a database, with a proven way back.",
        epilog="exit codes:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument(
        "-p",
        metavar="no:NAME",
        dest="_disabled",
        action="append",
        type=_not_a_leave_out,
        help="leave plugin NAME out (PLANRUN_DISABLE_PLUGINS=a,b does the same); anywhere on the line",
    )
    parser.add_argument("--version", action="version", version=f"planrun {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    taken: dict[str, str] = {}
    contributed = [(name, c) for name, commands in plugins.by_plugin("planrun_commands") for c in commands or []]
    for owner, command in [("planrun", c) for c in _core_commands()] + contributed:
        if command.name in taken:
            raise UsageError(
                f"plugin {owner} adds the command {command.name!r}, which {taken[command.name]} already has"
            )
        taken[command.name] = owner
        child = sub.add_parser(command.name, help=command.help, description=command.description or command.help)
        if command.arguments:
            command.arguments(child)
        plugins.hook.planrun_command_options(command=command, parser=child)
        child.set_defaults(_run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line. Run as a command (``argv`` None), the verbs that run revision code
    go through a supervising parent (:mod:`.supervise`); called with ``argv``, in-process."""
    if argv is None:
        from . import supervise

        code = supervise.run_supervised(sys.argv[1:])
        if code is not None:
            return code
        if supervise.watched_by_parent():
            try:
                code = _main(None)
            except SystemExit as exc:  # argparse's own exits (--help, a usage error) are answers too
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
            return supervise.report_exit(code)
    return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    """Every byte the command prints goes through the redactor, with every secret the plans it
    loaded named: planrun's messages, and what the project's own code (env.py, a revision)
    prints while planrun runs it in-process."""
    with redacted_output(every_secret()):
        return _dispatch(argv)


def _dispatch(argv: Sequence[str] | None) -> int:
    words = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in words
    if debug:  # anywhere on the line, before the verb or after it
        words = ["--debug"] + [word for word in words if word != "--debug"]
    words = _leave_plugins_out(words)
    try:
        from .plugins import load_plugins, loaded_once

        with loaded_once(load_plugins()) as plugins:
            parser = build_parser(plugins)
            if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (planrun completion SHELL)
                import argcomplete

                argcomplete.autocomplete(parser)
            args = parser.parse_args(words)
            return args._run(args)
    except PlanrunError as exc:
        print(str(exc) if isinstance(exc, PlanError) else f"planrun: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("planrun: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped reading (`planrun lint --rules | head -1`): its choice, not a bug
        _quiet_stdout()
        return 0
    except ModuleNotFoundError as exc:  # a dependency imported where used, missing here: not a bug of ours
        print(f"planrun: {_missing_module(exc)}", file=sys.stderr)
        if debug:
            traceback.print_exc()
        return EXIT_BAD_PLAN
    except Exception as exc:  # a bug: say so plainly, traceback only when asked
        print(f"planrun: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if debug:
            traceback.print_exc()
        else:
            print("planrun: run again with --debug for the traceback", file=sys.stderr)
        return EXIT_INTERNAL


def _not_a_leave_out(text: str) -> str:
    """``-p`` only leaves plugins out (``-p no:NAME``, taken off the line before parsing)."""
    raise argparse.ArgumentTypeError(f"expected no:NAME (a plugin to leave out), got {text!r}")


def _missing_module(exc: ModuleNotFoundError) -> str:
    """Which plugin needs the missing module (the innermost frame of a plugin's code), and what
    to do: plugins import heavy libraries where they use them, so a missing one shows up here."""
    module = None
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        name = _module_of(frame.filename)
        if name and not name.startswith(("planrun.engine", "importlib")):
            module = name
            break
    if module is None:
        who = "planrun"
    elif module.startswith("planrun.plugins."):
        who = f"planrun's built-in plugin {module.split('.')[2]}"
    else:
        who = f"plugin {module.split('.')[0]}"
    fix = (
        "reinstall planrun (pip install --force-reinstall planrun)"
        if module is None or module.startswith("planrun.")
        else f"install it where planrun runs, or leave the plugin out (-p no:{module.split('.')[0]})"
    )
    return f"{who} needs the Python module {exc.name!r}, which is not installed here: {fix}"


def _module_of(filename: str) -> str | None:
    """The imported module whose file is ``filename`` (None: none is)."""
    for name, loaded in list(sys.modules.items()):
        if getattr(loaded, "__file__", None) == filename:
            return name
    return None


def _leave_plugins_out(words: list[str]) -> list[str]:
    """``-p no:NAME`` (as pytest has it), anywhere on the line: plugin NAME is not loaded, for
    this command and the processes it starts (added to PLANRUN_DISABLE_PLUGINS)."""
    from .plugins import DISABLE_SWITCH, disabled_plugins

    kept, names = [], []
    pairs = iter(range(len(words)))
    for index in pairs:
        if words[index] == "-p" and index + 1 < len(words) and words[index + 1].startswith("no:"):
            names.append(words[index + 1].removeprefix("no:"))
            next(pairs, None)
        else:
            kept.append(words[index])
    if names:
        os.environ[DISABLE_SWITCH] = ",".join(sorted(disabled_plugins() | set(names)))
    return kept


def _quiet_stdout() -> None:
    """Send what is still buffered for a closed stdout nowhere, so that Python's own flush at
    exit does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _validate(args) -> int:
    from . import api
    from .plan import LenientEnviron
    from .runner import plan_steps

    environ = LenientEnviron()  # validation needs no secret: a CI job without them can run it
    loaded = api.validate(args.plan, environ=environ)
    names = [step.name for step in plan_steps(loaded)]
    if wants_json(args):
        print_json({"plan": args.plan, "name": loaded.plan.name, "ok": True, "steps": names, "unset": environ.unset})
        return 0
    print(f"{args.plan}: ok (plan {loaded.plan.name!r}; steps: {', '.join(names)})")
    for name in environ.unset:
        print(
            f"note: environment variable {name} is not set: validate does not need it, "
            "the commands that connect to the target do",
            file=sys.stderr,
        )
    return 0


def _plan(args) -> int:
    from . import api
    from .context import RunOptions

    options = RunOptions(state_dir=args.state_dir, flags=command_flags(args))
    result = api.plan(args.plan, options=options, stream=progress_stream(args))
    code = EXIT_BAD_PLAN if any(f.severity == "error" for f in result.findings) else 0
    if wants_json(args):
        print_json(
            {
                "plan": args.plan,
                "ok": code == 0,
                "steps": result.steps,
                "sections": [{"title": title, "text": text} for title, text in result.sections],
                "findings": result.findings,
            }
        )
    return code


def _apply(args) -> int:
    from . import api
    from .context import RunOptions

    confirm = confirmation(args, "Apply plan {plan} to {target}? [y/N] ")
    options = RunOptions(state_dir=args.state_dir, flags=command_flags(args))
    return run_ended(args, api.apply(args.plan, options=options, confirm=confirm, stream=progress_stream(args)))


def _recover(args) -> int:
    from . import api
    from .context import RunOptions

    confirm = confirmation(args, "Recover the runs that died on {target} (plan {plan})? [y/N] ")
    options = RunOptions(state_dir=args.state_dir, flags=command_flags(args))
    return run_ended(args, api.recover(args.plan, options=options, confirm=confirm, stream=progress_stream(args)))


def _status(args) -> int:
    from . import api

    report = api.status(args.plan)
    if wants_json(args):
        print(report.to_json())
    else:
        for section in report.sections:
            print(f"{section.title}:")
            for line in section.lines:
                print(f"  {line}")
        for problem in report.problems:
            print(f"PROBLEM: {problem}")
    return 1 if report.problems else 0


def _history(args) -> int:
    from . import api

    runs = api.history(args.state_dir)
    if wants_json(args):
        print_json({"runs": runs})
        return 0
    if not runs:
        print(f"no runs recorded under {args.state_dir}")
    for run in runs:
        duration = f"{run['duration']:.1f}s" if run.get("duration") is not None else "-"
        print(
            f"{run['run_id']}  {run['command'] or '':<6} {run['plan'] or '':<24} {run['target'] or '':<28} "
            f"{run['outcome']:<16} {duration}"
        )
    return 0


def _plugins(args) -> int:
    from .plugins import load_plugins

    plugins = load_plugins()
    if wants_json(args):
        print_json({"plugins": plugins.listing(), "failures": [str(f) for f in plugins.failures]})
        return 1 if plugins.failures else 0
    for row in plugins.listing():
        print(f"{row.name:<18} {row.origin:<20} {', '.join(h.removeprefix('planrun_') for h in row.hooks)}")
        if row.events:
            print(f"{'':<18} {'':<20} events: {', '.join(row.events)}")
        if row.facts:
            print(f"{'':<18} {'':<20} facts: {', '.join(row.facts)}")
    for failure in plugins.failures:
        print(f"FAILED: {failure}")
    return 1 if plugins.failures else 0


def _completion(args) -> int:
    import argcomplete

    sys.stdout.write(argcomplete.shellcode(["planrun"], shell=args.shell))
    return 0


def _schema(args) -> int:
    from . import api

    sys.stdout.write(api.schema_text(notifications=args.notifications))
    return 0


if __name__ == "__main__":
    sys.exit(main())
