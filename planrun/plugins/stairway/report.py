"""The result of ``planrun test``: named cases with outcomes and timings, written as a console
table, JUnit XML (for CI systems) or JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field


@dataclass
class StairwayCase:
    """One named test: a revision's round trip (``suite='stairway'``) or a static check."""

    suite: str
    name: str
    outcome: str  # passed | failed | skipped | irreversible (marked so: upgrade and repeatability checked)
    message: str = ""
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0
    revision: str | None = None
    description: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # up / down / up again
    output: str = ""  # what Alembic and env.py printed while this case ran (captured; shown when it fails)
    measures: dict[str, dict] = field(default_factory=dict)  # at volume: per direction, locks, rewrites, clients
    remarks: list[str] = field(default_factory=list)  # how a passed case was judged, where it is not plain


@dataclass
class StairwayReport:
    """Every case of one ``planrun test`` run."""

    project: str
    cases: list[StairwayCase] = field(default_factory=list)
    revisions_total: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No case failed and every revision was reached (a revision not reached is not tested)."""
        return bool(self.cases) and all(
            c.outcome != "failed" and not (c.suite == "stairway" and c.outcome == "skipped") for c in self.cases
        )

    @property
    def round_tripped(self) -> int:
        return sum(1 for c in self.cases if c.suite == "stairway" and c.outcome == "passed")

    def coverage(self) -> str:
        """``118 of 124 revisions round-tripped, 1 irreversible, 4 failed, 1 not reached``."""
        stairway = [c for c in self.cases if c.suite == "stairway"]
        counts = {o: sum(c.outcome == o for c in stairway) for o in ("irreversible", "failed", "skipped")}
        text = f"{self.round_tripped} of {self.revisions_total} revisions round-tripped"
        for outcome, words in (("irreversible", "irreversible"), ("failed", "failed"), ("skipped", "not reached")):
            text += f", {counts[outcome]} {words}" if counts[outcome] else ""
        return text

    def to_json(self) -> str:
        return json.dumps(
            {
                "project": self.project,
                "ok": self.ok,
                "coverage": self.coverage(),
                "revisions_total": self.revisions_total,
                "round_tripped": self.round_tripped,
                "notes": self.notes,
                "cases": [asdict(c) for c in self.cases],
            },
            indent=2,
        )

    def to_junit(self) -> str:
        suites = ET.Element("testsuites", name=f"planrun test {self.project}")
        for suite_name in dict.fromkeys(c.suite for c in self.cases):
            cases = [c for c in self.cases if c.suite == suite_name]
            suite = ET.SubElement(
                suites,
                "testsuite",
                name=suite_name,
                tests=str(len(cases)),
                failures=str(sum(c.outcome == "failed" for c in cases)),
                skipped=str(sum(c.outcome == "skipped" for c in cases)),
                time=f"{sum(c.seconds for c in cases):.3f}",
            )
            for case in cases:
                element = ET.SubElement(
                    suite, "testcase", classname=f"planrun.{suite_name}", name=case.name, time=f"{case.seconds:.3f}"
                )
                if case.outcome == "failed":
                    failure = ET.SubElement(element, "failure", message=case.message)
                    failure.text = "\n".join(case.details)
                    if case.output:
                        ET.SubElement(element, "system-out").text = case.output
                elif case.outcome == "skipped":
                    ET.SubElement(element, "skipped", message=case.message)
        ET.indent(suites)
        return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
