"""Quality results as Markdown for people and as JSON-ready dicts for scripts (the CLI prints them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aurumplan.intervals import fmt_ts
from aurumplan.quality.compare import Comparison
from aurumplan.quality.coverage import CoverageRow, heat_strip
from aurumplan.quality.model import CHECKS, DatasetQuality


def quality_to_dict(qualities: Sequence[DatasetQuality], threshold: float | None = None) -> dict[str, Any]:
    """{"datasets": [...], "passed": bool|None, "threshold": ...} for `check --json` and reports."""
    items = [q.to_dict(threshold) for q in qualities]
    passed = None if threshold is None else all(q.passed(threshold) for q in qualities)
    return {"threshold": threshold, "passed": passed, "datasets": items}


def comparison_to_dict(comparisons: Sequence[Comparison]) -> list[dict[str, Any]]:
    return [c.to_dict() for c in comparisons]


def coverage_to_dicts(rows: Sequence[CoverageRow]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in rows]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.2%}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_quality_markdown(qualities: Sequence[DatasetQuality], threshold: float | None = None, *,
                            title: str = "Data quality", max_findings: int = 20) -> str:
    """A score table (one row per dataset) and each dataset's first findings."""
    checks = [c for c in CHECKS if any(c in q.results for q in qualities)]
    lines = [f"## {title}", ""]
    if threshold is not None:
        verdict = "passed" if all(q.passed(threshold) for q in qualities) else "FAILED"
        lines += [f"Threshold {threshold:.2%}: **{verdict}**", ""]
    head = ["dataset", "window", "score", *checks] + (["passed"] if threshold is not None else [])
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for q in qualities:
        row = [q.dataset, f"{fmt_ts(q.window[0])} – {fmt_ts(q.window[1])}", _pct(q.score),
               *(_pct(q.results[c].score) if c in q.results else "–" for c in checks)]
        if threshold is not None:
            row.append("yes" if q.passed(threshold) else "**no**")
        lines.append("| " + " | ".join(_cell(x) for x in row) + " |")
    for q in qualities:
        findings = q.findings
        if not findings:
            continue
        lines += ["", f"### {q.dataset}: {len(findings)} findings", ""]
        for name, r in q.results.items():
            for f in r.findings[:max_findings]:
                lines.append(f"- {name}: {f.describe()}")
            if len(r.findings) > max_findings:
                lines.append(f"- {name}: … {len(r.findings) - max_findings} more")
    return "\n".join(lines) + "\n"


def render_comparison_markdown(comparisons: Sequence[Comparison], *, title: str = "Before and after") -> str:
    """Counts, score changes, largest changes and the summary diff of each dataset."""
    lines = [f"## {title}", ""]
    for c in comparisons:
        lines += [f"### {c.dataset}", "",
                  f"{c.changed:,} changed, {c.added:,} added, {c.removed:,} removed, "
                  f"{c.unchanged:,} unchanged", "",
                  "| check | before | after |", "|---|---|---|"]
        lines += [f"| {k} | {_pct(b)} | {_pct(a)} |" for k, (b, a) in c.scores.items()]
        if c.largest:
            lines += ["", "| series | period | before | after | diff |", "|---|---|---|---|---|"]
            for ch in c.largest:
                lines.append(f"| {_cell(ch.series_id)} | {fmt_ts(ch.period)} | {ch.before} | {ch.after} | "
                             f"{'–' if ch.diff is None else f'{ch.diff:+g}'} |")
        lines += ["", "```", c.diff_text, "```", ""]
    return "\n".join(lines)


def render_coverage_markdown(rows: Sequence[CoverageRow], *, title: str = "Coverage") -> str:
    """The heat strip in a code block, for reports."""
    return f"## {title}\n\n```\n{heat_strip(rows)}\n```\n"
