"""A validation script: hourly demand of a balancing authority is positive and below 250 GW.

aurumplan calls check(data) on the rows being judged (the staged rows at the gate) and counts the
score it returns in the quality score (docs/quality.md, "Validation scripts").
"""

from aurumplan.quality.scripts import ScriptData, ScriptFinding, ScriptResult

CEILING_MWH = 250_000.0


def check(data: ScriptData) -> ScriptResult:
    """Share of rows with a plausible value; each series with implausible ones is a finding."""
    rows = bad = 0
    findings = []
    for sid, series in data.series.items():
        wrong = [p for p, v in zip(series.periods, series.values, strict=True)
                 if v is not None and not 0 < v < CEILING_MWH]
        rows += len(series.values)
        bad += len(wrong)
        if wrong:
            findings.append(ScriptFinding(sid, f"{len(wrong)} hours outside (0, {CEILING_MWH:,.0f}) MWh", wrong))
    return ScriptResult(1.0 - bad / rows if rows else 1.0, findings)
