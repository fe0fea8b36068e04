"""What a lint rule is: its id, category, default severity, the reason in one line and the safe
alternative (both printed with every finding and in the rule catalogue)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: str
    category: str  # destructive | locking | breaking | rollback | hygiene
    severity: str  # error | warning
    reason: str
    alternative: str

    @property
    def destructive(self) -> bool:
        return self.category == "destructive"
