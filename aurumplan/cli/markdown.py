"""Plans as a pull-request comment (`show PLAN... --format markdown`): a view of plan dicts.

Reviewers read conflicts first, then one summary table, then per-dataset details folded in
<details>. GitHub refuses a comment over 65,536 characters, so a large plan is summarised: details
are dropped (then dataset rows) until the comment fits, saying what was left out and that the plan
artifact holds everything (docs/team-workflow.md).
"""

from __future__ import annotations

from typing import Any

GITHUB_COMMENT_LIMIT = 65_536
MARKER = "<!-- aurumplan-plan -->"
SYMBOL = {"create": "+", "replace": "~", "unchanged": "=", "missing": "?", "conflict": "!"}
SERIES_SHOWN = 40
RANGES_SHOWN = 6


def _duration(seconds: float) -> str:
    """The same reading as the text view: `0.4s`, `2m15s`, `3d4h`."""
    if float(seconds) < 1:
        return f"{float(seconds):.1f}s"
    out, rest = [], round(float(seconds))
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= n:
            out.append(f"{rest // n}{unit}")
            rest %= n
    return "".join(out[:2])


def _about(e: dict[str, Any]) -> str:
    """`about 35s (quota floor 27s; last 5 runs)`, as the text view prints it (plan/render.py)."""
    runs = int((e.get("basis") or {}).get("runs") or 0)
    basis = "no earlier runs" if runs <= 0 else "last run" if runs == 1 else f"last {runs} runs"
    return (f"about {_duration(e.get('duration_seconds', e['min_duration_seconds']))} "
            f"(quota floor {_duration(e['min_duration_seconds'])}; {basis})")


def _cell(text: str) -> str:
    """Table cells must not break the table: pipes escaped, newlines folded."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _series(series: list[str]) -> str:
    shown = ", ".join(series[:SERIES_SHOWN])
    return shown + (f" (+{len(series) - SERIES_SHOWN} more)" if len(series) > SERIES_SHOWN else "")


def _ranges(intervals: list[list[str]]) -> str:
    shown = "<br>".join(f"{a} .. {b}" for a, b in intervals[:RANGES_SHOWN])
    return shown + (f"<br>(+{len(intervals) - RANGES_SHOWN} more ranges)" if len(intervals) > RANGES_SHOWN else "")


def _name(plan: dict[str, Any], label: str | None) -> str:
    return label or plan.get("spec", {}).get("file") or plan["operation"]["id"]


def _estimates(plan: dict[str, Any]) -> str:
    e = plan["estimates"]
    rate = f"{e['rate_per_second']:g} req/s" if e.get("rate_per_second") else "unlimited"
    return (f"{e['requests']} requests at {rate}, {e['records']} records, ~{e['bytes'] / 1e6:.1f} MB, "
            f"{_about(e)}, {e['days_of_quota']} day(s) of quota")


def _summary_table(named: list[tuple[str, dict[str, Any]]], limit: int | None = None) -> list[str]:
    rows = ["| | spec | operation | create | replace | unchanged | conflict | requests | records | about |",
            "|---|---|---|--:|--:|--:|--:|--:|--:|--:|"]
    order = sorted(named, key=lambda np: (not np[1]["summary"].get("conflict"), np[0]))
    for name, p in order[:limit]:
        c, e = p["summary"], p["estimates"]
        mark = "!" if c.get("conflict") else ("~" if c["create"] or c["replace"] else "=")
        rows.append(f"| {mark} | `{_cell(name)}` | {p['operation']['kind']} `{p['operation']['id']}` | "
                    f"{c['create']} | {c['replace']} | {c['unchanged']} | {c.get('conflict', 0)} | "
                    f"{e['requests']} | {e['records']} | "
                    f"{_duration(e.get('duration_seconds', e['min_duration_seconds']))} |")
    if limit is not None and len(order) > limit:
        rows.append(f"| | … {len(order) - limit} more plan(s) | | | | | | | | |")
    return rows


def _conflict_lines(named: list[tuple[str, dict[str, Any]]]) -> list[str]:
    out = []
    for name, p in named:
        for ds in p["datasets"]:
            for a in ds["actions"]:
                if a["action"] == "conflict":
                    ranges = ", ".join(f"{x} .. {y}" for x, y in a["intervals"][:3])
                    out.append(f"- `{_cell(name)}` {ds['dataset']} {_series(a['series'])} {ranges}: {a['reason']}")
    return out


def _dataset_details(ds: dict[str, Any]) -> str:
    c = ds["counts"]
    via = f", cascade from {ds['cascade_from']}" if ds.get("cascade_from") else ""
    counts = ", ".join(f"{SYMBOL[k]} {v}" for k, v in c.items() if v)
    lines = [f"<details><summary><b>{ds['dataset']}</b> ({ds['grain']}{via}): {counts or 'nothing'}</summary>",
             "", "| | series | ranges | periods | reason |", "|---|---|---|--:|---|"]
    for a in ds["actions"]:
        lines.append(f"| {SYMBOL[a['action']]} | {_cell(_series(a['series']))} | {_ranges(a['intervals'])} | "
                     f"{a['periods']} | {_cell(a['reason'])} |")
    lines += ["", "</details>", "", ""]
    return "\n".join(lines)


def _dataset_row(name: str, ds: dict[str, Any]) -> str:
    c = ds["counts"]
    series = len({s for a in ds["actions"] for s in a["series"]})
    return (f"| `{_cell(name)}` | {ds['dataset']} | {series} | {c['create']} | {c['replace']} | "
            f"{c['unchanged']} | {c.get('conflict', 0)} |")


def _plan_head(name: str, p: dict[str, Any]) -> list[str]:
    op = p["operation"]
    lines = [f"### `{_cell(name)}` — {op['kind']} `{op['id']}` on `{op['source']}`", ""]
    if op.get("reason"):
        lines += [f"> {_cell(op['reason'])}", ""]
    lines.append(f"Estimates: {_estimates(p)}. Plan id `{p.get('plan_id', '')[:12]}`.")
    lines += [f"- Warning: {_cell(w)}" for w in p.get("warnings", [])]
    lines.append("")
    return lines


def render_markdown(plans: list[tuple[str | None, dict[str, Any]]], *, limit: int = GITHUB_COMMENT_LIMIT,
                    title: str = "aurumplan plan") -> str:
    """One comment for one or more plans (label, plan dict), never longer than `limit` characters."""
    named = [(_name(p, label), p) for label, p in plans]
    changes = sum(1 for _, p in named if p["summary"]["create"] or p["summary"]["replace"])
    conflicts = sum(1 for _, p in named if p["summary"].get("conflict"))
    head = [MARKER, f"## {title}: {len(named)} plan(s), {changes} with changes, {conflicts} with conflicts", ""]
    if not named:
        return "\n".join([*head, "No spec to plan.", ""])
    budget = limit - 600  # room for the closing note
    tail_note = "_The plan artifact holds every range; `aurumplan show PLAN --full` lists every series._"
    conflict_lines = _conflict_lines(named)
    parts: list[str] = []
    if conflict_lines:
        parts += ["#### Conflicts (apply refuses these plans)", "", *conflict_lines, ""]
    parts += [*_summary_table(named), ""]
    text = "\n".join(head + parts)
    if len(text) > budget:
        text = _squeeze(head, conflict_lines, named, budget)
        return text + f"\n\n_Summarised to fit a comment._ {tail_note}\n"
    omitted = 0
    chunks = [text]
    total = len(text)
    details_done = True
    for name, p in named:
        block = "\n".join(_plan_head(name, p)) + "\n" + "".join(_dataset_details(ds) for ds in p["datasets"])
        if total + len(block) + 1 <= budget and details_done:
            chunks.append(block)
            total += len(block) + 1
            continue
        details_done = False
        omitted += 1
    if omitted:
        rest = named[len(named) - omitted:]
        for name, p in rest:
            plan_head = "\n".join(_plan_head(name, p))
            if total + len(plan_head) + 1 > budget // 2:
                break
            chunks.append(plan_head)
            total += len(plan_head) + 1
        rows = _dataset_rows_within(rest, budget - total)
        chunks.append("\n".join(rows))
        chunks.append(f"\n_Details of {omitted} plan(s) summarised to fit a comment._ {tail_note}\n")
    return "\n".join(chunks)


def _dataset_rows_within(named: list[tuple[str, dict[str, Any]]], budget: int) -> list[str]:
    """Per-dataset counts, one row each, as many as fit; then how many were left out."""
    rows = ["#### Datasets (periods)", "", "| spec | dataset | series | create | replace | unchanged | conflict |",
            "|---|---|--:|--:|--:|--:|--:|"]
    every = [(name, ds) for name, p in named for ds in sorted(
        p["datasets"], key=lambda d: (not d["counts"].get("conflict"), -(d["counts"]["create"] +
                                                                           d["counts"]["replace"])))]
    used = sum(len(r) + 1 for r in rows) + 120
    for i, (name, ds) in enumerate(every):
        row = _dataset_row(name, ds)
        if used + len(row) + 1 > budget:
            rows.append(f"\n… and {len(every) - i} more dataset(s).")
            return rows
        rows.append(row)
        used += len(row) + 1
    return rows


def _squeeze(head: list[str], conflict_lines: list[str], named: list[tuple[str, dict[str, Any]]],
             budget: int) -> str:
    """Too many plans or conflicts for even the summary: the first of each that fit, then counts."""
    out = list(head)
    if conflict_lines:
        out += ["#### Conflicts (apply refuses these plans)", ""]
        room = budget // 2
        for i, line in enumerate(conflict_lines):
            if sum(len(x) + 1 for x in out) + len(line) > room:
                out.append(f"- … and {len(conflict_lines) - i} more conflict(s)")
                break
            out.append(line)
        out.append("")
    used = sum(len(x) + 1 for x in out)
    per_row = max(len(r) for r in _summary_table(named[:50])) + 1
    fit = max(1, (budget - used - 400) // per_row)
    out += _summary_table(named, limit=fit)
    return "\n".join(out)
