"""The plan's ``fleet:`` section. The plan's ``target.url`` is then a template: ``{name}`` is
each target's name (or the list gives each target's URL)."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from pydantic import Field, field_validator

from planrun.plugin import Duration, Section


class FleetTargets(Section):
    """Where the fleet's targets are listed: a file (one target a line: NAME, or NAME URL; # starts
    a comment) or a query on a catalog database (rows of name, or name and url)."""

    file: str | None = Field(None, description="A file listing the targets, relative to the plan file.")
    query: str | None = Field(None, description="SELECT name[, url] FROM ...: the targets, from the catalog database.")
    url: str | None = Field(None, description="The catalog database the query runs on, usually ${CATALOG_URL}.")


class FleetConfig(Section):
    """Run the plan on every database of a fleet, in waves, through a control database that any
    number of workers (`planrun fleet-apply` on several machines) join."""

    targets: FleetTargets = Field(..., description="Where the targets are listed.")
    control: str = Field(
        ..., description="The PostgreSQL database that holds the fleet's state, usually ${CONTROL_URL}."
    )
    canary: int = Field(
        1, ge=0, le=1_000_000, description="Migrate this many targets first; stop the fleet if one fails."
    )
    batch: int | str = Field("10%", description="Then waves of this many targets (or this share of them, e.g. 10%).")
    concurrency: int = Field(1, ge=1, le=64, description="Targets at once per worker.")
    max_failures: int = Field(1, ge=1, le=1_000_000, description="Stop taking new targets once this many have failed.")
    lease: Duration = Field(
        timedelta(seconds=30),
        description="How long a worker's claim on a target lasts without a heartbeat; after it, another worker "
        "takes the target over (recovering it first).",
    )

    @field_validator("batch")
    @classmethod
    def _batch(cls, value):
        if isinstance(value, int) and 1 <= value <= 1_000_000:
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*%\s*", value) and float(value.strip()[:-1]) > 0:
            return value.strip()
        raise ValueError(f"expected a number of targets or a share like 10%, got {value!r}")

    def wave_size(self, total: int) -> int:
        if isinstance(self.batch, int):
            return self.batch
        return max(1, math.ceil(total * float(self.batch[:-1]) / 100))
