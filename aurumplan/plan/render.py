"""Plans rendered for people: + create, ~ replace, = unchanged, ! conflict, per dataset."""

from __future__ import annotations

from typing import Any

SYMBOL = {"create": "+", "replace": "~", "unchanged": "=", "missing": "?", "conflict": "!"}


def human_duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 1:
        return f"{seconds:.1f}s"
    s = round(seconds)
    parts: list[str] = []
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= n or (unit == "s" and not parts):
            parts.append(f"{s // n}{unit}")
            s %= n
    return "".join(parts[:2])


def _ranges(intervals: list[list[str]], limit: int = 4) -> str:
    shown = [f"{a} .. {b}" for a, b in intervals[:limit]]
    if len(intervals) > limit:
        shown.append(f"(+{len(intervals) - limit} more ranges)")
    return ", ".join(shown)


def _series(series: list[str], limit: int = 6) -> str:
    if len(series) <= limit:
        return ",".join(series)
    return ",".join(series[:limit]) + f",+{len(series) - limit}"


def basis_text(basis: dict[str, Any] | None) -> str:
    """`last 5 runs`, `last run` or `no earlier runs`: what an estimate rests on (`estimates.basis`)."""
    runs = int((basis or {}).get("runs") or 0)
    if runs <= 0:
        return "no earlier runs"
    return "last run" if runs == 1 else f"last {runs} runs"


def duration_line(estimates: dict[str, Any]) -> str:
    """`about 35s (quota floor 27s; last 5 runs)`: the estimate, the least the quota allows, and what
    the estimate rests on (docs/operations.md, "Estimates")."""
    e = estimates
    about = e.get("duration_seconds", e["min_duration_seconds"])
    return (f"about {human_duration(about)} (quota floor {human_duration(e['min_duration_seconds'])}; "
            f"{basis_text(e.get('basis'))})")


def summary_line(plan: dict[str, Any]) -> str:
    """The last line of a plan, in CONTRACT.md's words: `... N records, at least DURATION.` (the quota
    floor); the estimate itself is on the `Estimates:` line above it."""
    c = plan["summary"]
    e = plan["estimates"]
    return (f"Plan: {c['create']} periods to create, {c['replace']} to replace, {c['unchanged']} unchanged. "
            f"{e['requests']} requests, {e['records']} records, at least {human_duration(e['min_duration_seconds'])}.")


def render_plan(plan: dict[str, Any], *, show_unchanged: bool = True) -> str:
    op = plan["operation"]
    lines = [f"{op['kind']} {op['id']} on source '{op['source']}'"
             + (f" — {op['reason']}" if op.get("reason") else ""), ""]
    lines.append("aurumplan will perform the following actions:")
    lines.append("")
    for ds in plan["datasets"]:
        via = f", cascade from {ds['cascade_from']}" if ds.get("cascade_from") else ""
        lines.append(f"  # {op['source']} {ds['dataset']} ({ds['grain']}{via})")
        for a in ds["actions"]:
            if a["action"] == "unchanged" and not show_unchanged:
                continue
            lines.append(f"  {SYMBOL[a['action']]} {_series(a['series']):<24} {_ranges(a['intervals'])}"
                         f"  {a['periods']} periods  ({a['reason']})")
        lines.append("")
    for w in plan.get("warnings", []):
        lines.append(f"Warning: {w}")
    e = plan["estimates"]
    rate = f"{e['rate_per_second']:g} req/s" if e.get("rate_per_second") else "unlimited"
    lines.append(f"Estimates: {e['requests']} requests at {rate}, {e['records']} records, "
                 f"~{e['bytes'] / 1e6:.1f} MB, {e['days_of_quota']} day(s) of quota, {duration_line(e)}.")
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"
