"""Static checks of the revision graph, each a named test case of ``planrun test``: one head
(or the heads the plan declares), no empty downgrade, a message on every revision, and a chain
that reaches base."""

from __future__ import annotations

import os
from pathlib import Path

from ..alembic_project.project import AlembicProject
from ..alembic_project.revision_files import NO_DOWNGRADE, empty_downgrade, has_function
from ..alembic_project.revision_marks import irreversible_reason
from .report import StairwayCase


def _case(name: str, problems: list[str], ok_message: str) -> StairwayCase:
    if problems:
        return StairwayCase(
            "graph", name, "failed", problems[0] if len(problems) == 1 else f"{len(problems)} problems", problems
        )
    return StairwayCase("graph", name, "passed", ok_message)


def graph_checks(project: AlembicProject, expected_heads: list[str] | None) -> list[StairwayCase]:
    cases = []
    try:
        scripts = list(project.script.walk_revisions())
    except Exception as exc:
        return [StairwayCase("graph", "chain reaches base", "failed", f"the revision graph is broken: {exc}")]
    heads = sorted(project.heads())
    if expected_heads is not None:
        problems = (
            []
            if heads == sorted(expected_heads)
            else [f"heads are {', '.join(heads)}; the plan declares {', '.join(sorted(expected_heads))}"]
        )
    else:
        problems = (
            [] if len(heads) == 1 else [f"{len(heads)} heads: {', '.join(heads)} (merge them, or declare test.heads)"]
        )
    cases.append(_case("single head", problems, f"head: {', '.join(heads)}"))
    relative = {s.revision: os.path.relpath(s.path, project.folder) for s in scripts}
    cases.append(
        _case(
            "no empty downgrade",
            [
                f"revision {s.revision} ({relative[s.revision]}) {NO_DOWNGRADE}"
                if not has_function(Path(s.path), "downgrade")
                else f"revision {s.revision} ({relative[s.revision]}): downgrade() is empty"
                for s in scripts
                if empty_downgrade(Path(s.path)) and not irreversible_reason(s.path)
            ],
            f"{len(scripts)} revisions have a downgrade or are marked irreversible",
        )
    )
    cases.append(
        _case(
            "every revision has a message",
            [
                f"revision {s.revision} ({relative[s.revision]}) has no docstring message"
                for s in scripts
                if not (s.doc or "").strip()
            ],
            f"{len(scripts)} revisions have a message",
        )
    )
    bases = [s.revision for s in scripts if not s.down_revision]
    cases.append(
        _case(
            "chain reaches base", [] if bases else ["no revision has down_revision = None"], f"base: {', '.join(bases)}"
        )
    )
    return cases
