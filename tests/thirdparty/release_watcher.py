"""Someone else's plugin reading the migrate plugin's typed journal event, never its strings:
each MigrationPlanned of a run is written, as JSON, to the file PLANRUN_WATCHER_FILE names.
With PLANRUN_WATCHER_FAILS set, its subscriber raises (the run must not mind)."""

import json
import os

from planrun.plugin import MigrationPlanned, hookimpl


@hookimpl
def planrun_run_started(ctx):
    def heard(event: MigrationPlanned) -> None:
        if os.environ.get("PLANRUN_WATCHER_FAILS"):
            raise RuntimeError("watcher bug")
        with open(os.environ["PLANRUN_WATCHER_FILE"], "a") as out:
            out.write(json.dumps({"start": event.start, "target": event.target, "pending": event.pending}) + "\n")

    ctx.journal.subscribe(MigrationPlanned, heard)
