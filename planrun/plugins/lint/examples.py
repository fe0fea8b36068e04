"""A rule's examples as a real Alembic project: each statement one ``op.execute`` call, so the
example is linted exactly as a revision is (offline rendering, parsing, the Python line). Used
by planrun's tests for every built-in rule and offered to plugins for theirs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .rule import Example, Rule

ENV = """from alembic import context

config = context.config
context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
"""
INI = "[alembic]\nscript_location = %(here)s\nsqlalchemy.url = postgresql://localhost/example\n"


@dataclass
class ExampleProject:
    config: Path  # alembic.ini
    revision_file: Path  # the example's revision
    line: int  # where the rule's finding must point


def _body(sql: str | None, allow: tuple[str, ...] = ()) -> list[str]:
    from pglast import split

    if sql is None:
        return ["    pass"]
    comment = f'  # planrun: allow {", ".join(allow)} reason="the example accepts it"' if allow else ""
    statements = [part.strip() for part in split(sql, with_parser=False)]
    return [f"    op.execute({statement!r}){comment}" for statement in statements] or ["    pass"]


def _revision(
    folder: Path, revision: str, down: str | None, upgrade: str | None, downgrade: str | None, allow=()
) -> Path:
    lines = [
        f'"""example {revision}"""',
        "from alembic import op",
        "",
        f"revision = {revision!r}",
        f"down_revision = {down!r}",
        "",
        "",
        "def upgrade():",
        *_body(upgrade, allow),
        "",
        "",
        "def downgrade():",
        *(_body(downgrade) if downgrade != "" else ["    pass"]),
        "",
    ]
    path = folder / "versions" / f"{revision}_example.py"
    path.write_text("\n".join(lines))
    return path


def write_example(folder: Path, rule: Rule, example: Example) -> ExampleProject:
    """The project in ``folder``: an earlier revision with ``example.before`` (if any), then the
    example's. The finding is expected on the last statement of the function the rule is about
    (or on its ``def`` line, for a rule about the whole function)."""
    (folder / "versions").mkdir(parents=True)
    (folder / "env.py").write_text(ENV)
    (folder / "alembic.ini").write_text(INI)
    down = None
    if example.before is not None:
        _revision(folder, "a1", None, example.before, "SELECT 1")
        down = "a1"
    downgrade = example.downgrade if example.downgrade is not None else "SELECT 1"
    path = _revision(folder, "b2", down, example.upgrade, downgrade, example.allow)
    text = path.read_text().splitlines()
    side = rule.about.rstrip("()")
    start = text.index(f"def {side}():")
    if rule.about.endswith("()"):
        return ExampleProject(folder / "alembic.ini", path, start + 1)
    end = next((n for n in range(start + 1, len(text)) if text[n].startswith("def ")), len(text))
    line = (
        max(
            n
            for n in range(start, end)
            if text[n].startswith("    op.execute(") and not _control(text[n].split("  #")[0])
        )
        + 1
    )
    return ExampleProject(folder / "alembic.ini", path, line)


def _control(line: str) -> bool:
    """``op.execute('COMMIT')`` and ``BEGIN``: transaction control, never the statement a rule is about."""
    return line.strip() in ("op.execute('COMMIT')", "op.execute('BEGIN')")


def lint_example(folder: Path, rule: Rule, example: Example):
    """Lint ``example`` (written to ``folder``) with every loaded rule; returns the project and
    the findings of ``rule``."""
    from .commands import LintOptions, lint

    project = write_example(folder, rule, example)
    report = lint(alembic_config=str(project.config), options=LintOptions())
    return project, report
