"""A plugin whose author misspelled a hook: planrun must say so, not ignore it."""

from planrun.plugin import hookimpl


@hookimpl
def planrun_preflght(ctx):  # sic
    return []
