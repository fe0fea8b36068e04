"""Alert rules over samples, one firing per episode: a rule fires when its condition becomes
true and stays quiet until the condition has been false on a sample (the episode ended)."""

from __future__ import annotations

from dataclasses import dataclass

from .config import METRICS, AlertRule


@dataclass(frozen=True)
class Firing:
    rule: AlertRule
    value: float

    def message(self, detail: str = "") -> str:
        unit = METRICS[self.rule.when.metric][0]
        shown = {"duration": f"{self.value:.1f}s", "percent": f"{self.value:.1f}%"}.get(unit, f"{self.value:g}")
        text = f"alert {self.rule.when}: {self.rule.when.metric} is {shown} (do: {self.rule.do})"
        return f"{text}; {detail}" if detail else text


class AlertTracker:
    def __init__(self, rules: list[AlertRule]):
        self.rules = rules
        self.active = [False] * len(rules)

    def evaluate(self, metrics: dict[str, float | None]) -> tuple[list[Firing], list[AlertRule]]:
        """Return the rules that fire now (an episode begins) and those whose episode ended."""
        fired, ended = [], []
        for index, rule in enumerate(self.rules):
            value = metrics.get(rule.when.metric)
            holds = rule.when.holds(value)
            if holds and not self.active[index]:
                fired.append(Firing(rule, float(value)))
            elif not holds and self.active[index]:
                ended.append(rule)
            self.active[index] = holds
        return fired, ended
