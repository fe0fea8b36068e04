"""The fleet's targets and their waves: the list (a file or a catalog query), each target's URL
(the plan's ``target.url`` with ``{name}`` filled in, unless the list gives one), and the canary
wave followed by waves of ``batch``."""

from __future__ import annotations


def listed(ctx) -> dict[str, str]:
    """``{name: url}`` of every target, in name order."""
    config = ctx.plan.fleet.targets
    rows: list[tuple[str, ...]] = []
    if config.file:
        from planrun.plugin import read_input_text

        for line in read_input_text(ctx.loaded.resolve(config.file), "fleet.targets.file", 64 << 20).splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                rows.append(tuple(line.split(None, 1)))
    else:
        from ..pg.connect import connect, query_all

        conn = connect(config.url, application_name="planrun fleet catalog", readonly=True, autocommit=True)
        try:
            rows = [tuple(str(v) for v in row) for row in query_all(conn, config.query)]
        finally:
            conn.close()
    template = ctx.plan.target.url
    return {row[0]: (row[1] if len(row) > 1 else template.replace("{name}", row[0])) for row in sorted(rows)}


def waves(names: list[str], canary: int, size: int) -> dict[str, int]:
    """Wave 0: the first ``canary`` names; then waves of ``size``."""
    plan = {}
    for index, name in enumerate(names):
        plan[name] = 0 if index < canary else 1 + (index - canary) // size
    return plan
