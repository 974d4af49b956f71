"""`aurumplan dashboard`: one self-contained HTML page of the fleet (docs/operations.md#dashboard).

No external assets: styles are inline, charts are inline SVG, and the figures the page shows are
also embedded as JSON (`<script type="application/json" id="aurumplan-data">`), equal to what
`cost --json`, `trends --json` and `health --json` print for the same state.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jinja2
from markupsafe import Markup, escape

from aurumplan.observe.fleet import OpFigures

ACTIVE = ("planned", "running", "paused", "interrupted")
FAILED = ("failed", "halted")

PAGE = jinja2.Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>aurumplan operations</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#1d2330;background:#f6f7f9}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
table{border-collapse:collapse;background:#fff;min-width:50%}
th,td{border:1px solid #d8dce3;padding:4px 10px;text-align:left;font-size:13px}
th{background:#e9edf3} td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#17803d;font-weight:600} .down{color:#c0262d;font-weight:600} .muted{color:#6b7280}
.tiles{display:flex;gap:12px;flex-wrap:wrap} .tile{background:#fff;border:1px solid #d8dce3;padding:10px 16px}
.tile b{display:block;font-size:24px}
</style></head><body>
<h1>aurumplan operations</h1>
<div class="muted">generated {{ generated }} UTC from {{ state }}</div>
<h2>Fleet</h2>
<div class="tiles">
<div class="tile"><b id="tile-active">{{ active|length }}</b>active operations</div>
<div class="tile"><b id="tile-failures">{{ failures|length }}</b>recent failures</div>
<div class="tile"><b id="tile-health" class="{{ 'ok' if health.ok else 'down' }}">{{ 'healthy' if health.ok
 else 'DOWN' }}</b>health</div>
<div class="tile"><b id="tile-cost">{{ '%g'|format(cost.total.cost) }} {{ cost.currency }}</b>
cost, {{ cost_range }}</div>
</div>
<h2>Active operations</h2>
{% if active %}<table id="active"><tr><th>id</th><th>kind</th><th>source</th><th>status</th><th>requests</th>
<th>records</th><th>running for</th></tr>
{% for o in active %}<tr><td>{{ o.id }}</td><td>{{ o.kind }}</td><td>{{ o.source }}</td><td>{{ o.status }}</td>
<td class="num">{{ o.requests }}</td><td class="num">{{ o.records }}</td>
<td class="num">{{ '%.0f'|format(o.duration_seconds) }} s</td></tr>{% endfor %}</table>
{% else %}<p id="active">No active operations.</p>{% endif %}
<h2>Recent failures</h2>
{% if failures %}<table id="failures"><tr><th>id</th><th>kind</th><th>source</th><th>status</th><th>when</th>
<th>first error</th></tr>
{% for o in failures %}<tr><td>{{ o.id }}</td><td>{{ o.kind }}</td><td>{{ o.source }}</td><td>{{ o.status }}</td>
<td>{{ when(o.updated_at) }}</td><td>{{ o.errors[0] if o.errors else '' }}</td></tr>{% endfor %}</table>
{% else %}<p id="failures">No failed or halted operations.</p>{% endif %}
<h2>Health</h2>
<table id="health"><tr><th>check</th><th>state</th><th>detail</th></tr>
{% for c in health.checks %}<tr><td>{{ c.name }}</td><td class="{{ 'ok' if c.ok else 'down' }}">{{ 'ok' if c.ok
 else 'DOWN' }}</td><td>{{ c.detail }}</td></tr>{% endfor %}</table>
<h2>Cost by {{ cost.group_by }}, {{ cost_range }}</h2>
<table id="cost"><tr><th>{{ cost.group_by }}</th><th>operations</th><th>requests</th><th>bytes</th><th>records</th>
<th>wall seconds</th><th>cost ({{ cost.currency }})</th></tr>
{% for r in cost.rows + [cost.total] %}<tr><td>{{ r[cost.group_by] }}</td><td class="num">{{ r.operations }}</td>
<td class="num">{{ r.requests }}</td><td class="num">{{ r.bytes }}</td><td class="num">{{ r.records }}</td>
<td class="num">{{ r.duration_seconds }}</td><td class="num">{{ r.cost }}</td></tr>{% endfor %}</table>
{{ cost_chart }}
<h2>Trends, {{ trends_range }}</h2>
{% if trends.rows %}<table id="trends"><tr><th>kind</th><th>source</th><th>operations</th><th>avg s</th><th>p95 s</th>
<th>error rate</th><th>records/s</th><th>requests/s</th></tr>
{% for r in trends.rows %}<tr><td>{{ r.kind }}</td><td>{{ r.source }}</td><td class="num">{{ r.operations }}</td>
<td class="num">{{ dash(r.avg_duration_seconds) }}</td><td class="num">{{ dash(r.p95_duration_seconds) }}</td>
<td class="num">{{ dash(r.error_rate) }}</td><td class="num">{{ dash(r.records_per_second) }}</td>
<td class="num">{{ dash(r.requests_per_second) }}</td></tr>{% endfor %}</table>
{% else %}<p id="trends">No operations in the range.</p>{% endif %}
<script type="application/json" id="aurumplan-data">{{ data }}</script>
</body></html>
""", autoescape=True)


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


def _dash(v: Any) -> str:
    return "-" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def bar_chart(rows: list[dict[str, Any]], label: str, value: str, title: str) -> str:
    """A horizontal bar chart as inline SVG (no script, no external asset)."""
    if not rows:
        return ""
    top = max(float(r[value]) for r in rows) or 1.0
    height = 22 * len(rows) + 30
    bars = []
    for i, r in enumerate(rows):
        w = 300 * float(r[value]) / top
        y = 24 + 22 * i
        bars.append(f'<text x="0" y="{y + 13}" font-size="12">{escape(str(r[label]))}</text>'
                    f'<rect x="130" y="{y}" width="{w:.1f}" height="16" fill="#3b6fd8"></rect>'
                    f'<text x="{136 + w:.1f}" y="{y + 13}" font-size="12">{float(r[value]):g}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="520" height="{height}" '
            f'aria-label="{escape(title)}"><text x="0" y="14" font-size="13" font-weight="600">'
            f'{escape(title)}</text>{"".join(bars)}</svg>')


def render(ops: list[OpFigures], health: dict[str, Any], cost: dict[str, Any], trends: dict[str, Any],
           state_url: str, cost_range: str, trends_range: str, failures: int = 20, now: float | None = None) -> str:
    """The page; `cost`, `trends` and `health` are what the commands of the same names return as JSON."""
    at = time.time() if now is None else now
    active = [o for o in ops if o.status in ACTIVE]
    failed = sorted((o for o in ops if o.status in FAILED), key=lambda o: -o.updated_at)[:failures]
    data = {"active": [o.to_dict() for o in active], "failures": [o.to_dict() for o in failed], "health": health,
            "cost": cost, "trends": trends}
    text = json.dumps(data, sort_keys=True, default=str).replace("</", "<\\/")
    chart = Markup(bar_chart(cost["rows"], cost["group_by"], "requests", "API requests"))
    html: str = PAGE.render(generated=_when(at), state=state_url, active=active, failures=failed, health=health,
                            cost=cost, trends=trends, cost_range=cost_range, trends_range=trends_range, when=_when,
                            dash=_dash, data=Markup(text), cost_chart=chart)
    return html
