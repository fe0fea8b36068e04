"""``planrun pause|resume|abort RUN_ID``: the operator steers a running run from another
terminal.

Without a plan, through a small control file in the run's local state directory, which the run
(``apply``) watches from a thread while it runs; with the plan, through the target database,
from any machine (the plugin that keeps runs there answers ``planrun_steer``). The run then
pauses its batched backfills between batches, resumes, or aborts (the migration is cancelled
and the rollback policy takes over).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import time

from planrun.plugin import Command, UsageError, hookimpl

OPERATOR_COMMANDS = ("pause", "resume", "abort")
WATCH_INTERVAL = 0.5  # seconds between two looks at the control file
_TOLD = {
    "pause": "asked run {run} to pause: batched backfills stop between batches until `planrun resume {run}`",
    "resume": "asked run {run} to resume",
    "abort": "asked run {run} to abort: the migration is cancelled and the rollback policy takes over",
}


def control_file(state_dir: str, run_id: str) -> str | None:
    """Where the operator's commands for a run are written; ``None`` when the state directory
    is not local (the control file needs a cheap stat)."""
    if "://" in state_dir and not state_dir.startswith("file://"):
        return None
    root = state_dir.removeprefix("file://").rstrip("/")
    return os.path.join(root, "control", f"{run_id}.json")


def write_command(path: str, command: str, by: str) -> None:
    if command not in OPERATOR_COMMANDS:
        raise ValueError(f"unknown command {command!r}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump({"command": command, "by": by, "at": time.time()}, handle)
    os.replace(temporary, path)
    now = time.time()
    os.utime(path, (now, max(now, os.stat(path).st_mtime + 0.001)))


def read_command(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("command") in OPERATOR_COMMANDS else None


class ControlFileWatcher:
    """Applies the latest command written to a run's control file to its control."""

    def __init__(self, path: str, control) -> None:
        self.path = path
        self.control = control
        self._seen = 0.0

    def poll(self) -> None:
        try:
            mtime = os.stat(self.path).st_mtime
        except OSError:
            return
        if mtime <= self._seen:
            return
        self._seen = mtime
        command = read_command(self.path)
        if command is None:
            return
        by = command.get("by", "operator")
        if command["command"] == "abort":
            self.control.abort(f"aborted by {by} (planrun abort)")
        elif command["command"] == "pause":
            self.control.pause("operator", f"paused by {by} (planrun pause)")
        elif command["command"] == "resume":
            self.control.resume("operator")

    def start(self) -> threading.Event:
        """Poll from a thread until the returned event is set."""
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(WATCH_INTERVAL):
                self.poll()

        threading.Thread(target=watch, name="planrun-control", daemon=True).start()
        return stop


def steer(
    run_id: str, command: str, *, state_dir: str = ".planrun", plan_path: str | None = None, environ: dict | None = None
) -> str:
    """Pause, resume or abort a running run; with the plan, through its target database."""
    from planrun.plugin import RunOptions, api, read_journals, run_summary

    by = f"{getpass.getuser()}@{socket.gethostname()}"
    if plan_path:
        ctx = api.open_context(api.validate(plan_path, environ), RunOptions(command=command, state_dir=state_dir))
        answer = ctx.hook.planrun_steer(ctx=ctx, run_id=run_id, command=command, by=by)
        if answer is not None:
            return answer
    path = control_file(state_dir, run_id)
    if path is None:
        raise UsageError(f"runs can only be steered through a local state directory, not {state_dir}")
    records = next((r for r in read_journals(state_dir) if r and r[0].get("run_id") == run_id), None)
    if records is None:
        raise UsageError(f"no run {run_id} in {state_dir} (see planrun history --state-dir {state_dir})")
    summary = run_summary(records)
    if summary["outcome"] == "died":
        raise UsageError(
            f"run {run_id} is not running: its process is gone (see planrun status PLAN; planrun recover PLAN "
            "finishes it)"
        )
    if summary["outcome"] != "unfinished":
        raise UsageError(f"run {run_id} has already ended ({summary['outcome']})")
    write_command(path, command, by=by)
    return _TOLD[command].format(run=run_id)


@hookimpl
def planrun_run_started(ctx):
    """An ``apply`` watches its control file for as long as it runs, and removes it at the end."""
    path = control_file(ctx.options.state_dir, ctx.run_id) if ctx.options.command == "apply" else None
    if path is None:
        return
    stop = ControlFileWatcher(path, ctx.control).start()

    def end() -> None:
        stop.set()
        if os.path.exists(path):
            os.remove(path)

    ctx.resources.callback(end)


def _arguments(parser) -> None:
    parser.add_argument(
        "words",
        nargs="+",
        metavar="[PLAN] RUN_ID",
        help="the run's plan (reach the run through its database, from any machine) and its id (shown when it "
        "starts; see planrun status); without the plan, through --state-dir",
    )
    parser.add_argument(
        "--state-dir", default=".planrun", help="without a plan: the running run's local state directory"
    )


def plan_and_run_id(words: list[str]) -> tuple[str | None, str]:
    """``PLAN RUN_ID`` as every other command takes the plan first, or ``RUN_ID`` alone. The
    order of earlier planruns (``RUN_ID PLAN``) is still understood: a run id is no file."""
    if len(words) == 1:
        return None, words[0]
    if len(words) != 2:
        raise UsageError(f"expected [PLAN] RUN_ID, got {len(words)} words: {' '.join(words)}")
    plan, run_id = words
    if not os.path.isfile(plan) and os.path.isfile(run_id):
        plan, run_id = run_id, plan
    return plan, run_id


def _run(args) -> int:
    plan, run_id = plan_and_run_id(args.words)
    print(steer(run_id, args.command, state_dir=args.state_dir, plan_path=plan))
    return 0


@hookimpl
def planrun_commands():
    return [
        Command("pause", "pause a running run's batched backfills between batches", _run, _arguments),
        Command("resume", "resume a paused run", _run, _arguments),
        Command("abort", "stop a running run now: cancel the migration and roll back", _run, _arguments),
    ]
