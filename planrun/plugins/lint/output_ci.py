"""The lint report for code-review tools: SARIF 2.1.0 (GitHub code scanning, and most other
scanners' viewers) and GitLab Code Quality (the merge request widget). Both point at the
revision's file and the line of the call that emitted the statement, like the text report."""

from __future__ import annotations

import hashlib
import json

from planrun import __version__

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "allowed": "note"}
_GITLAB_SEVERITY = {"error": "critical", "warning": "minor", "allowed": "info"}


def _fingerprint(f) -> str:
    """Stable across runs and line moves within the revision: the rule, the file and the SQL."""
    return hashlib.sha256(f"{f.rule}\0{f.path}\0{' '.join(f.sql.split())}".encode()).hexdigest()


def _message(f) -> str:
    if f.severity == "allowed":
        return f"{f.message} (allowed: {f.allowed})"
    return f"{f.message} Instead: {f.alternative}"


def _page(rule) -> str:
    """The rule's page (as ``planrun lint --explain`` prints it), which code scanning shows
    beside each alert: why, what to write instead, flagged and not flagged examples."""
    from .book import rule_page

    return "\n".join(rule_page(rule))


def sarif(report) -> str:
    used = sorted({f.rule for f in report.findings})
    rules = [
        {
            "id": rule,
            "name": rule,
            "shortDescription": {"text": report.rules[rule].reason},
            "help": {"text": report.rules[rule].alternative, "markdown": _page(report.rules[rule])},
            "defaultConfiguration": {"level": _SARIF_LEVEL[report.rules[rule].severity]},
            "properties": {"category": report.rules[rule].category},
        }
        for rule in used
    ]
    results = []
    for f in report.findings:
        result = {
            "ruleId": f.rule,
            "ruleIndex": used.index(f.rule),
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": _message(f)},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": f.line, "startColumn": f.column},
                    }
                }
            ],
            "partialFingerprints": {"planrunFinding/v1": _fingerprint(f)},
            "properties": {"revision": f.revision, "table": f.table, "sql": f.sql},
        }
        if f.severity == "allowed":
            result["suppressions"] = [{"kind": "inSource", "justification": f.allowed or ""}]
        results.append(result)
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "planrun lint", "version": __version__, "rules": rules}},
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def gitlab(report) -> str:
    issues = [
        {
            "type": "issue",
            "check_name": f.rule,
            "description": _message(f),
            "categories": [f.category.capitalize()],
            "severity": _GITLAB_SEVERITY[f.severity],
            "fingerprint": _fingerprint(f),
            "location": {"path": f.path, "lines": {"begin": f.line}},
        }
        for f in report.findings
    ]
    return json.dumps(issues, indent=2) + "\n"
