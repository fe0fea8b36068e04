"""Small things a new user meets in the first hour: the state folder stays out of git, --debug
works wherever it is written."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_state_folder_keeps_itself_out_of_git(tmp_path):
    from planrun.engine.journal import Journal

    state = tmp_path / ".planrun"
    Journal(str(state), "r1").record("x")
    assert (state / ".gitignore").read_text().splitlines()[-1] == "*"
    (state / ".gitignore").write_text("mine\n")
    Journal(str(state), "r2").record("x")
    assert (state / ".gitignore").read_text() == "mine\n"  # never over the user's own


def test_debug_after_the_verb(run_cli, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    code, out, err = run_cli("validate", ROOT / "plans" / "demo.yaml", "--debug")
    assert code == 0, out + err
    code, out, err = run_cli("validate", "--debug", ROOT / "plans" / "nope.yaml")
    assert code == 2 and "unrecognized arguments" not in err, err


def test_help_and_usage_errors_of_supervised_verbs_are_answers_not_crashes():
    """apply and recover run in a supervised child; argparse's own exits there (--help, an
    unknown option) used to be reported as a process that died mid-run, exit 3."""
    import subprocess
    import sys

    planrun = str(Path(sys.executable).parent / "planrun")
    done = subprocess.run([planrun, "apply", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "usage: planrun apply" in done.stdout, done.stdout + done.stderr
    done = subprocess.run([planrun, "apply", "--no-such-option"], capture_output=True, text=True)
    assert done.returncode == 2 and "before the run finished" not in done.stderr, done.stderr


def test_the_shell_completes_commands_and_options(tmp_path):
    """`planrun completion bash` prints the code the shell sources; the shell then asks planrun
    (argcomplete's protocol) and gets the verbs and options of the parser planrun builds."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    planrun = str(Path(sys.executable).parent / "planrun")
    code = subprocess.run([planrun, "completion", "bash"], capture_output=True, text=True)
    assert code.returncode == 0 and "complete " in code.stdout and "planrun" in code.stdout

    def complete(line: str) -> list[str]:
        out = tmp_path / "completions"
        env = dict(os.environ, _ARGCOMPLETE="1", COMP_LINE=line, COMP_POINT=str(len(line)))
        env["_ARGCOMPLETE_STDOUT_FILENAME"] = str(out)
        subprocess.run([planrun], env=env, capture_output=True, timeout=60)
        return out.read_text().split()

    assert complete("planrun roll") == ["rollback"]
    assert "--state-dir" in complete("planrun apply --st")
