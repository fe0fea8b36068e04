"""``planrun init``: a first plan for the Alembic project in the current directory.

It finds the project (``alembic.ini`` here or one or two folders down, or Alembic's
``[tool.alembic]`` in ``pyproject.toml``), reads env.py for the environment variable it takes
its URL from (that variable becomes ``target.url`` and ``test.url_env``, so env.py and the
application's settings stay as they are), counts the revisions (an existing history gets
``lint.since`` at its head: what is there already is summarised, not failed), and writes
``plan.yaml`` with the choices explained in comments. The plan is validated before it is
written, and an existing file is never overwritten.
"""

from __future__ import annotations

from pathlib import Path

from planrun.plugin import Command, UsageError

SKIPPED = {".git", ".venv", "venv", "node_modules", ".tox", "__pycache__", ".planrun"}


def find_project(root: Path) -> Path | None:
    """``alembic.ini`` in ``root`` or up to two folders down (the shallowest), else a
    ``pyproject.toml`` holding ``[tool.alembic]``."""
    for depth in range(3):
        pattern = "/".join(["*"] * depth + ["alembic.ini"])
        found = sorted(p for p in root.glob(pattern) if not SKIPPED & set(p.relative_to(root).parts) and p.is_file())
        if found:
            return found[0]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and "[tool.alembic]" in pyproject.read_text(encoding="utf-8", errors="replace"):
        return pyproject
    return None


def plan_text(root: Path, config: Path) -> str:
    """The plan for the project at ``config`` (see the module)."""
    from ..alembic_project.env_py import env_py_of, project_roots, url_variables
    from ..alembic_project.project import AlembicProject

    project = AlembicProject(config)
    variables = url_variables(env_py_of(project), project_roots(project)) or ["DATABASE_URL"]
    from ..alembic_project.revision_files import has_function
    from ..alembic_project.revision_marks import irreversible_reason

    heads = project.heads()
    scripts = list(project.script.walk_revisions())
    revisions = len(scripts)
    one_way = [
        s.revision for s in scripts if not has_function(Path(s.path), "downgrade") or irreversible_reason(s.path)
    ]
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in root.resolve().name.lower()).strip("-_") or "app"
    lines = [
        "# Written by planrun init: review it, commit it beside the migrations, change what does not fit.",
        "# Reference of every key: docs/reference.md; `planrun validate plan.yaml` checks it.",
        "version: 1",
        f"name: {name[:100]}",
        "target:",
        f'  url: "${{{variables[0]}}}"   # env.py reads {", ".join(variables)}: planrun connects to the same database',
        "  alembic:",
        f"    config: {config.relative_to(root).as_posix()}",
        "migrate:",
        "  to: heads" if len(heads) > 1 else "  to: head",
        "  lock_timeout: 5s",
        "rollback:",
        (
            f"  strategy: downgrade-then-restore   # {', '.join(one_way)} cannot be undone by downgrade: the backup can"
            if one_way
            else "  strategy: downgrade   # or restore / downgrade-then-restore, with a backup: section"
        ),
        "  within: 5m",
        "test:",
        f"  url_env: [{', '.join(variables)}]   # set to the scratch database while planrun test runs Alembic",
    ]
    if len(heads) > 1:
        lines.append(f"  heads: [{', '.join(sorted(heads))}]")
    lines += [
        "  # fixtures: rows the stairway should carry through the revisions (deterministic: no now(), no random())",
        "  #   - {file: tests/fixtures/seed.sql, revision: <the revision the rows fit>}",
        *(
            ["backup: {}   # a pg_dump of the target before it changes, under .planrun/backups (backup.to: any URL)"]
            if one_way
            else []
        ),
        "checks:",
        "  post: []",
        "  # post:",
        "  #   - {name: users still there, sql: SELECT count(*) FROM users, expect: '> 0', when: apply}",
    ]
    if revisions > 1 and len(heads) == 1:
        lines += [
            "lint:",
            f"  since: {heads[0]}   # the {revisions} revisions up to here are summarised, not failed",
        ]
    return "\n".join(lines) + "\n"


def init(root: Path, force: bool = False) -> tuple[Path, str]:
    """Write ``root/plan.yaml``; returns its path and what to tell the user."""
    from planrun.plugin import load_plan

    target = root / "plan.yaml"
    if target.exists() and not force:
        raise UsageError(f"{target} exists: planrun init never overwrites a plan (--force to replace it)")
    config = find_project(root)
    if config is None:
        raise UsageError(
            f"no alembic.ini in {root} (or up to two folders down) and no [tool.alembic] in its pyproject.toml: "
            "run planrun init in the project's folder"
        )
    text = plan_text(root, config)
    target.write_text(text, encoding="utf-8")
    try:
        from planrun.plugin import LenientEnviron

        load_plan(str(target), environ=LenientEnviron())
    except Exception:
        target.unlink()
        raise
    told = (
        f"wrote {target.name} for {config.relative_to(root).as_posix()}. Next: planrun test {target.name} (every "
        f"revision up, down and up again on a throwaway database), then planrun lint {target.name}, then planrun "
        f"plan {target.name} against your database. planrun keeps its journals in .planrun/, which ignores itself "
        "in git (.planrun/.gitignore); nothing to add to your .gitignore."
    )
    return target, told


def _arguments(parser) -> None:
    parser.add_argument("--force", action="store_true", help="replace an existing plan.yaml")


def _run(args) -> int:
    _, told = init(Path.cwd(), args.force)
    print(told)
    return 0


COMMANDS = [
    Command(
        "init",
        "write a first plan.yaml for the Alembic project in the current directory",
        _run,
        _arguments,
        description="Find alembic.ini, read env.py for the variable it takes its URL from, and write a plan that "
        "test, lint and apply can use without editing env.py.",
    )
]
