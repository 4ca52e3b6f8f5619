"""What every schema users declare shares: unknown fields are errors (a typo
is never silently ignored), values are frozen, and fields are accepted by
their YAML (camelCase) name or their Python name."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
