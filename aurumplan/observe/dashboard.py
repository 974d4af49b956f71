"""`aurumplan dashboard`: one self-contained HTML page of the fleet (docs/operations.md#dashboard).

No external assets: styles are inline, and the charts are drawn by Chart.js with its matrix plugin,
both inlined from vendor/ (MIT; README.md there). The figures the page shows are embedded as JSON
(`<script type="application/json" id="aurumplan-data">`), equal to what `cost --json`, `trends --json`
and `health --json` print for the same state; the charts read them from there. Once drawn, the page
writes what each chart drew into `<pre id="rendered">`, so a headless browser can check it.
"""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

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
<th>wall seconds</th><th>CPU seconds</th><th>quota-days</th><th>cost ({{ cost.currency }})</th></tr>
{% for r in cost.rows + [cost.total] %}<tr><td>{{ r[cost.group_by] }}</td><td class="num">{{ r.operations }}</td>
<td class="num">{{ r.requests }}</td><td class="num">{{ r.bytes }}</td><td class="num">{{ r.records }}</td>
<td class="num">{{ r.duration_seconds }}</td><td class="num">{{ r.cpu_seconds }}</td>
<td class="num">{{ r.quota_days }}</td><td class="num">{{ r.cost }}</td></tr>{% endfor %}</table>
<canvas id="cost-chart" width="560" height="{{ 60 + 28 * (cost.rows|length) }}"></canvas>
<h2>Coverage by series{% if coverage.columns %}, {{ coverage.columns[0][:10] }} to {{ coverage.columns[-1][:10] }}
{% endif %}</h2>
{% if coverage.rows %}<div class="muted">one column per {{ (coverage.column_seconds // 86400)|int }} day(s):
<span style="color:#17803d">loaded</span>, <span style="color:#8fc79f">partial</span>,
<span style="color:#c0262d">failed</span>, <span style="color:#c9ced6">missing</span></div>
<canvas id="coverage-heatmap" width="{{ 260 + 24 * (coverage.columns|length) }}"
 height="{{ 80 + 22 * (coverage.rows|length) }}"></canvas>
{% else %}<p id="coverage-heatmap">Nothing loaded yet.</p>{% endif %}
<h2>Trends, {{ trends_range }}</h2>
{% if trends.rows %}<table id="trends"><tr><th>kind</th><th>source</th><th>operations</th><th>avg s</th><th>p95 s</th>
<th>error rate</th><th>records/s</th><th>requests/s</th></tr>
{% for r in trends.rows %}<tr><td>{{ r.kind }}</td><td>{{ r.source }}</td><td class="num">{{ r.operations }}</td>
<td class="num">{{ dash(r.avg_duration_seconds) }}</td><td class="num">{{ dash(r.p95_duration_seconds) }}</td>
<td class="num">{{ dash(r.error_rate) }}</td><td class="num">{{ dash(r.records_per_second) }}</td>
<td class="num">{{ dash(r.requests_per_second) }}</td></tr>{% endfor %}</table>
{% else %}<p id="trends">No operations in the range.</p>{% endif %}
<script type="application/json" id="aurumplan-data">{{ data }}</script>
<pre id="rendered" hidden></pre>
<script>{{ chart_js }}</script>
<script>{{ matrix_js }}</script>
<script>{{ charts }}</script>
</body></html>
""", autoescape=True)


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


def _dash(v: Any) -> str:
    return "-" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


VENDOR = Path(__file__).parent / "vendor"
STATUS_COLORS = {"loaded": "#17803d", "partial": "#8fc79f", "failed": "#c0262d", "missing": "#c9ced6"}


@cache
def vendored(name: str) -> str:
    """A vendored script without its sourceMappingURL line (the map is not shipped)."""
    text = (VENDOR / name).read_text(encoding="utf-8")
    return "\n".join(x for x in text.splitlines() if not x.startswith("//# sourceMappingURL=")).replace("</", "<\\/")


CHARTS = """
(function () {
  const data = JSON.parse(document.getElementById("aurumplan-data").textContent);
  const out = {};
  const painted = (canvas) => {
    const px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 3; i < px.length; i += 4) { if (px[i] > 0) n++; }
    return n;
  };
  Chart.defaults.animation = false;
  Chart.defaults.responsive = false;
  const cost = document.getElementById("cost-chart");
  if (cost && data.cost.rows.length) {
    const labels = data.cost.rows.map(r => String(r[data.cost.group_by]));
    const values = data.cost.rows.map(r => r.requests);
    new Chart(cost, {type: "bar", data: {labels, datasets: [{label: "API requests", data: values,
      backgroundColor: "#3b6fd8"}]}, options: {indexAxis: "y", plugins: {legend: {display: false},
      title: {display: true, text: "API requests by " + data.cost.group_by}}}});
    out.cost_chart = {labels, values, painted: painted(cost)};
  }
  const heat = document.getElementById("coverage-heatmap");
  if (heat && heat.tagName === "CANVAS") {
    const m = window["chartjs-chart-matrix"];
    Chart.register(m.MatrixController, m.MatrixElement);
    const cov = data.coverage, colors = __COLORS__;
    const ys = cov.rows.map(r => r.source + " " + r.dataset + " " + r.series);
    const cells = [];
    cov.rows.forEach((r, y) => r.cells.forEach((c, x) => cells.push({x: cov.columns[x].slice(0, 10), y: ys[y],
      v: c.loaded, s: c.status})));
    new Chart(heat, {type: "matrix", data: {datasets: [{label: "coverage", data: cells,
      backgroundColor: ctx => colors[ctx.raw.s],
      width: ({chart}) => (chart.chartArea || {}).width / cov.columns.length - 2,
      height: ({chart}) => (chart.chartArea || {}).height / ys.length - 2}]},
      options: {plugins: {legend: {display: false}, tooltip: {callbacks: {label: ctx => ctx.raw.y + " " + ctx.raw.x +
        ": " + ctx.raw.s + " (" + Math.round(ctx.raw.v * 100) + "% loaded)"}}},
        scales: {x: {type: "category", labels: cov.columns.map(c => c.slice(0, 10)), grid: {display: false}},
                 y: {type: "category", labels: ys, offset: true, grid: {display: false}, ticks: {autoSkip: false}}}}});
    const counts = {};
    cells.forEach(c => { counts[c.s] = (counts[c.s] || 0) + 1; });
    out.heatmap = {cells: cells.length, rows: ys.length, columns: cov.columns.length, counts, painted: painted(heat)};
  }
  document.getElementById("rendered").textContent = JSON.stringify(out);
})();
""".replace("__COLORS__", json.dumps(STATUS_COLORS))


def render(ops: list[OpFigures], health: dict[str, Any], cost: dict[str, Any], trends: dict[str, Any],
           state_url: str, cost_range: str, trends_range: str, failures: int = 20, now: float | None = None,
           coverage: dict[str, Any] | None = None) -> str:
    """The page; `cost`, `trends` and `health` are what the commands of the same names return as JSON,
    `coverage` what observe/coverage.py computes."""
    cov = coverage or {"columns": [], "column_seconds": 0, "rows": []}
    at = time.time() if now is None else now
    active = [o for o in ops if o.status in ACTIVE]
    failed = sorted((o for o in ops if o.status in FAILED), key=lambda o: -o.updated_at)[:failures]
    data = {"active": [o.to_dict() for o in active], "failures": [o.to_dict() for o in failed], "health": health,
            "cost": cost, "trends": trends, "coverage": cov}
    text = json.dumps(data, sort_keys=True, default=str).replace("</", "<\\/")
    html: str = PAGE.render(generated=_when(at), state=state_url, active=active, failures=failed, health=health,
                            cost=cost, trends=trends, cost_range=cost_range, trends_range=trends_range, when=_when,
                            dash=_dash, data=Markup(text), coverage=cov, chart_js=Markup(vendored("chart.umd.js")),
                            matrix_js=Markup(vendored("chartjs-chart-matrix.min.js")), charts=Markup(CHARTS))
    return html
