"""A parent process that watches the verbs that run the project's own code (``apply``,
``test``, ``recover``), so that an end of the process Python cannot catch never looks like
success.

Code run inside planrun (a plugin's, or what a plugin runs) can end the process in ways no
``except`` sees: ``os._exit(0)``, a crash in a C extension, a signal. The process would then
exit 0 (or anything) half-way, and a CI gate reading the exit code would pass. So when planrun
runs as a command, these verbs run in a child process; the child writes its real exit code to a
pipe just before it exits. A child that ends without writing it ended abnormally: the parent
says so and exits 3 (a human must act: the run did not finish; ``planrun status`` and ``planrun
recover`` take it from there).

The parent holds the write end of a second pipe, the lifeline: if the parent is killed (even
``kill -9``), the child reads end-of-file and kills itself at once, so killing planrun still
stops the run where it is, as it did without the parent. ``SIGTERM`` and ``SIGHUP`` sent to the
parent are passed on; ``SIGINT`` from a terminal reaches both, so the parent ignores it and the
child handles it. Only the standard library is imported here, before anything else: the parent
costs one interpreter start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

SUPERVISED = ("apply", "test", "recover")
_ENV = "PLANRUN_SUPERVISED"  # in the child: "<lifeline fd>,<result fd>"
EXIT_UNFINISHED = 3


def verb_of(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def run_supervised(argv: list[str]) -> int | None:
    """Run ``planrun ARGV`` in a child process and return its exit code; ``None`` when this
    process should run it itself (another verb, or this is already the child)."""
    if os.environ.get(_ENV) or verb_of(argv) not in SUPERVISED:
        return None
    lifeline_read, lifeline_write = os.pipe()
    result_read, result_write = os.pipe()
    env = dict(os.environ, **{_ENV: f"{lifeline_read},{result_write}"})
    child = subprocess.Popen(
        [sys.executable, "-m", "planrun.engine.cli", *argv], env=env, pass_fds=(lifeline_read, result_write)
    )
    os.close(lifeline_read)
    os.close(result_write)
    previous = {}
    for number in (signal.SIGTERM, signal.SIGHUP):
        previous[number] = signal.signal(number, lambda signum, _frame: child.send_signal(signum))
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = child.wait()
        reported = os.read(result_read, 16)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        os.close(result_read)
        os.close(lifeline_write)
    if reported:
        return int(reported)
    how = f"was killed by signal {-code}" if code < 0 else f"ended with exit code {code}"
    print(
        f"planrun: the {verb_of(argv)} process {how} before the run finished (code run inside it ended the "
        "process, as os._exit() does, or it crashed); the run did not finish: see `planrun status PLAN`, "
        f"and `planrun recover PLAN` for a run that died (exit {EXIT_UNFINISHED})",
        file=sys.stderr,
    )
    return EXIT_UNFINISHED


def watched_by_parent() -> bool:
    """In a supervised child: stop at once when the parent goes (its end of the lifeline
    closes), as a ``kill -9`` of planrun would have stopped it."""
    fds = os.environ.get(_ENV)
    if not fds:
        return False
    lifeline = int(fds.split(",")[0])

    def watch() -> None:
        try:
            while os.read(lifeline, 1):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="planrun-lifeline", daemon=True).start()
    return True


def report_exit(code: int) -> int:
    """In a supervised child: tell the parent the run's own exit code (it finished)."""
    fds = os.environ.get(_ENV)
    if fds:
        try:
            os.write(int(fds.split(",")[1]), str(code).encode())
        except OSError:
            pass
    return code
