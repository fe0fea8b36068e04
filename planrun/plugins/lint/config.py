"""The plan's ``lint:`` section."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from planrun.engine.plan.model import Section

from .rules import RULES


def _known(rule: str) -> str:
    if rule not in RULES:
        import difflib

        guess = difflib.get_close_matches(rule, RULES, n=1, cutoff=0.6)
        hint = f" (did you mean '{guess[0]}'?)" if guess else ""
        raise ValueError(f"unknown lint rule '{rule}'{hint}; see planrun lint --rules")
    return rule


class LintConfig(Section):
    """How ``planrun lint`` (and the lint that ``apply`` runs first) judges the revisions."""

    rules: dict[str, Literal["error", "warning", "off"]] = Field(
        {}, description="Severity per rule id, overriding the default (see planrun lint --rules)."
    )
    allow: dict[str, str] = Field(
        {}, description="Rules this plan allows, each with its reason, e.g. {drop-column: 'description unused since v42'}. "
        "Destructive rules can only be allowed by a contract plan whose backup is verified by restore."
    )

    @field_validator("rules", mode="before")
    @classmethod
    def _off(cls, value):
        """YAML 1.1 reads a bare ``off`` as false: take it as meant."""
        if isinstance(value, dict):
            return {rule: "off" if severity is False else severity for rule, severity in value.items()}
        return value

    @field_validator("rules", "allow")
    @classmethod
    def _rule_ids(cls, value: dict) -> dict:
        for rule in value:
            _known(rule)
        return value

    @field_validator("allow")
    @classmethod
    def _reasons(cls, value: dict[str, str]) -> dict[str, str]:
        for rule, reason in value.items():
            if not str(reason).strip():
                raise ValueError(f"lint.allow.{rule} needs a reason")
        return value

    def severity(self, rule: str) -> str:
        return self.rules.get(rule, RULES[rule].severity)
