"""A plug-in algorithm that lives next to the spec (replay-algorithm-file.yaml; docs/replay.md, "Algorithms").

Values outside [low, high] are set to the nearer bound; each changed record keeps its original value in its
attributes. The plan embeds this file's text, and apply runs that text.
"""

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ClipRange:
    name: ClassVar[str] = "clip_range"
    version: ClassVar[str] = "1"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        low: float | None = Field(default=None, description="smallest value kept")
        high: float | None = Field(default=None, description="largest value kept")

        @model_validator(mode="after")
        def _ordered(self) -> "ClipRange.Params":
            if self.low is not None and self.high is not None and self.low > self.high:
                raise ValueError("low must not be above high")
            return self

    def run(self, records: list[dict[str, Any]], params: Any) -> list[dict[str, Any]]:
        out = []
        for rec in records:
            x = rec["value"]
            clipped = x
            if x is not None and params.low is not None and x < params.low:
                clipped = params.low
            if x is not None and params.high is not None and x > params.high:
                clipped = params.high
            if clipped != x:
                attrs = {**(rec["attributes"] or {}), "algorithm": "clip_range@1", "original": x}
                rec = {**rec, "value": clipped, "attributes": attrs}
            out.append(rec)
        return out
