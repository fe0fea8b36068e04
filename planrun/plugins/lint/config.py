"""The plan's ``lint:`` section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from planrun.plugin import Section

# Rule ids and reasons are checked by the plugin's planrun_validate_plan, which can point at
# the exact key of the plan that is wrong.


class LintConfig(Section):
    """How ``planrun lint`` (and the lint that ``apply`` runs first) judges the revisions."""

    rules: dict[str, Literal["error", "warning", "off"]] = Field(
        {}, description="Severity per rule id, overriding the default (see planrun lint --rules)."
    )
    allow: dict[str, str] = Field(
        {},
        description="Rules this plan allows, each with its reason, e.g. {drop-column: 'description unused since v42'}. "
        "Destructive rules can only be allowed by a contract plan whose backup is verified by restore.",
    )

    since: str | None = Field(
        None,
        description="Adopting lint on a long history: findings in this revision and the ones before it are "
        "summarized, not failures (default: [tool.planrun.lint] since in pyproject.toml, if any).",
    )

    @field_validator("rules", mode="before")
    @classmethod
    def _off(cls, value):
        """YAML 1.1 reads a bare ``off`` as false: take it as meant."""
        if isinstance(value, dict):
            return {rule: "off" if severity is False else severity for rule, severity in value.items()}
        return value
