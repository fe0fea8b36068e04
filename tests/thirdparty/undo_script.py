"""A third-party plugin, written as a user would, with nothing but ``planrun.plugin``: a plan
section ``undo: {sql: ...}``, a rollback method ``undo-script`` that runs that SQL, and a
command ``planrun undo-script PLAN`` that prints it."""

from __future__ import annotations

from pydantic import Field

from planrun.plugin import Command, PlanSection, RollbackMethod, RunOptions, Section, StepFailed, hookimpl


class UndoScript(Section):
    """A SQL script that undoes this plan's migration by hand."""

    sql: str = Field(..., description="The statements, run in one transaction.")


def undo(ctx) -> str:
    from planrun.plugin import connect

    script = getattr(ctx.plan, "undo", None)
    if script is None:
        raise StepFailed("the plan has no undo: section")
    conn = connect(ctx.target_url, application_name=f"undo-script {ctx.run_id}")
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(script.sql)
    finally:
        conn.close()
    return f"ran the plan's undo script ({len(script.sql.splitlines())} lines)"


@hookimpl
def planrun_plan_sections():
    return {"undo": PlanSection(UndoScript, "How to undo this plan by hand.")}


@hookimpl
def planrun_rollback_methods():
    return {"undo-script": RollbackMethod(undo, "run the plan's undo: script", proves=("schema",))}


def print_script(args) -> int:
    from planrun.plugin import load_plan, open_context

    ctx = open_context(load_plan(args.plan), RunOptions(command="undo-script"))
    script = getattr(ctx.plan, "undo", None)
    print(script.sql if script else f"plan {ctx.plan.name!r} has no undo: section")
    return 0 if script else 1


@hookimpl
def planrun_commands():
    return [
        Command(
            "undo-script",
            "print the plan's undo script",
            print_script,
            lambda parser: parser.add_argument("plan", help="the plan file"),
        )
    ]
