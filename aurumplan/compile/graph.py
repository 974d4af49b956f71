"""Work per dataset -> a DAG of extract / derive -> validate -> commit nodes.

One extract node per planned request (the driver cuts windows to one page each, so the
number of extract nodes is the number of requests); drivers are reached through the
RequestPlanner seam of aurumplan.compile.requests. A derived dataset gets a derive node
that waits for its input's commit. Node attributes are plain data already in the plan file's
shape (windows as `fmt_ts` strings), so the graph goes into the plan file as is.

Planning builds a `JobGraph`, the part of a networkx DiGraph it uses, because importing networkx costs
a plan of a small spec about as much as the rest of planning (issue 18); `build_graph` gives the
networkx form for code that wants its algorithms.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from aurumplan.catalog import DatasetDef, SourceDef
from aurumplan.compile.requests import RequestPlanner, RequestSpec, bridge, group_series, periods_cap, planner_for
from aurumplan.intervals import IntervalSet, fmt_ts

if TYPE_CHECKING:
    import networkx as nx

Work = Mapping[str, Mapping[str, IntervalSet]]


class JobGraph:
    """A DAG with networkx DiGraph's spelling for what planning uses: `nodes[n]` is the node's attribute
    dict, `edges` the (a, b) pairs in insertion order, `graph` the graph's own attributes."""

    def __init__(self) -> None:
        self.graph: dict[str, Any] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self._succ: dict[str, list[str]] = {}
        self._pred: dict[str, list[str]] = {}

    def add_node(self, node: str, **attrs: Any) -> None:
        self.nodes.setdefault(node, {}).update(attrs)
        self._succ.setdefault(node, [])
        self._pred.setdefault(node, [])

    def add_nodes_from(self, nodes: Iterable[tuple[str, dict[str, Any]]]) -> None:
        for node, attrs in nodes:
            self.add_node(node, **attrs)

    def add_edge(self, a: str, b: str) -> None:
        for n in (a, b):
            if n not in self.nodes:
                self.add_node(n)
        if b not in self._succ[a]:
            self._succ[a].append(b)
            self._pred[b].append(a)

    def add_edges_from(self, edges: Iterable[tuple[str, str]]) -> None:
        for a, b in edges:
            self.add_edge(a, b)

    @property
    def edges(self) -> list[tuple[str, str]]:
        return [(a, b) for a, succ in self._succ.items() for b in succ]

    def predecessors(self, node: str) -> Iterator[str]:
        return iter(self._pred[node])

    def successors(self, node: str) -> Iterator[str]:
        return iter(self._succ[node])

    def __contains__(self, node: object) -> bool:
        return node in self.nodes

    def __len__(self) -> int:
        return len(self.nodes)


def lexicographic_order(g: JobGraph) -> list[str]:
    """Topological order, ties broken by node id (networkx's lexicographical_topological_sort)."""
    waiting = {n: len(p) for n, p in g._pred.items()}
    ready = [n for n, k in waiting.items() if k == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        n = heapq.heappop(ready)
        order.append(n)
        for m in g._succ[n]:
            waiting[m] -= 1
            if waiting[m] == 0:
                heapq.heappush(ready, m)
    if len(order) != len(g):
        raise ValueError("job graph has a cycle; check depends_on in the catalog")
    return order


def plan_requests(source: SourceDef, dataset: str, targets: Mapping[str, IntervalSet],
                  bridge_gaps: bool = False) -> list[RequestSpec]:
    """The driver's minimal requests for the targets of one dataset.

    With bridge_gaps (Backfill), a request window may also span loaded periods between two gaps
    when that saves requests; the request then carries the periods to keep (`targets`).
    """
    ds = source.datasets[dataset]
    driver = planner_for(source.driver)
    if not bridge_gaps:
        return driver.plan_requests(source, ds, targets)
    limits = source.dataset_limits(ds)
    out: list[RequestSpec] = []
    for series, where in group_series(targets):
        n = min(len(series), limits.max_series or len(series))
        covering = bridge(where, ds.grain, periods_cap(ds.grain, limits, n))
        for req in driver.plan_requests(source, ds, dict.fromkeys(series, covering)):
            keep = where.clip(req.start, req.end)
            if keep.intervals != ((req.start, req.end),):
                req = RequestSpec(req.source, req.dataset, req.series, req.start, req.end,
                                  keep.periods(ds.grain) * len(req.series), keep.intervals)
            out.append(req)
    return out


def _extract_attrs(source: SourceDef, driver: RequestPlanner | None, req: RequestSpec) -> dict[str, Any]:
    """An extract node's attributes; without a driver, the request itself is left out."""
    attrs: dict[str, Any] = {"kind": "extract", "dataset": req.dataset, "series": list(req.series),
                             "window": [fmt_ts(req.start), fmt_ts(req.end)], "expected_rows": req.expected_rows,
                             "request": None}
    if driver is not None:
        attrs["request"] = driver.first_call(source, source.datasets[req.dataset], req).public()
        if req.targets:
            attrs["targets"] = IntervalSet.from_normalized(req.targets).to_json()
    return attrs


def _derive_attrs(ds: DatasetDef, source_dataset: str, targets: Mapping[str, IntervalSet]) -> dict[str, Any]:
    """A derive node covers the span of all its series' targets."""
    span = IntervalSet([iv for w in targets.values() for iv in w]).span or (0, 0)
    return {"kind": "derive", "dataset": ds.name, "series": sorted(targets),
            "window": [fmt_ts(span[0]), fmt_ts(span[1])],
            "expected_rows": sum(w.periods(ds.grain) for w in targets.values()), "request": None,
            "intervals": {sid: w.to_json() for sid, w in sorted(targets.items())}, "input": source_dataset}


def build_graph(source: SourceDef, work: Work, *, with_requests: bool = True, bridge_gaps: bool = False) -> nx.DiGraph:
    """The job graph for work as a networkx DiGraph (the same nodes, attributes, edges and order)."""
    import networkx as nx  # only for callers that want networkx's algorithms; planning uses JobGraph

    jobs = build_job_graph(source, work, with_requests=with_requests, bridge_gaps=bridge_gaps)
    g = nx.DiGraph()
    g.add_nodes_from(jobs.nodes.items())
    g.add_edges_from(jobs.edges)
    g.graph.update(jobs.graph)
    return g


def build_job_graph(source: SourceDef, work: Work, *, with_requests: bool = True,
                    bridge_gaps: bool = False) -> JobGraph:
    """The job graph for work (dataset -> series -> intervals to load)."""
    g = JobGraph()
    driver = planner_for(source.driver) if with_requests else None
    order: list[str] = []  # a topological order, built as the nodes are added (inputs before outputs)
    for name in sorted(work, key=lambda n: (bool(source.datasets[n].derive), n)):
        targets = {sid: where for sid, where in work[name].items() if where}
        if not targets:
            continue
        ds = source.datasets[name]
        validate, commit = f"{name}/validate", f"{name}/commit"
        g.add_node(validate, kind="validate", dataset=name)
        g.add_node(commit, kind="commit", dataset=name)
        g.add_edge(validate, commit)
        ends = [validate, commit]
        if ds.derive is not None:
            node = f"{name}/derive"
            g.add_node(node, **_derive_attrs(ds, ds.derive.source_dataset, targets))
            g.add_edge(node, validate)
            upstream = f"{ds.derive.source_dataset}/commit"
            if upstream in g:
                g.add_edge(upstream, node)
            order.extend([node, *ends])
            continue
        extract = [(f"{name}/extract/{i:05d}", _extract_attrs(source, driver, req))
                   for i, req in enumerate(plan_requests(source, name, targets, bridge_gaps))]
        g.add_nodes_from(extract)
        g.add_edges_from((node, validate) for node, _ in extract)
        order.extend(node for node, _ in extract)
        order.extend(ends)
    _check_order(g, order)
    g.graph["order"] = order
    return g


def _check_order(g: JobGraph, order: list[str]) -> None:
    """Every edge must run forward in order: then order is topological and the graph has no cycle."""
    pos = {n: i for i, n in enumerate(order)}
    if len(pos) != len(g) or any(pos[a] >= pos[b] for a, b in g.edges):
        raise ValueError("job graph has a cycle; check depends_on in the catalog")


def graph_to_json(g: JobGraph) -> dict[str, Any]:
    """Nodes in topological order (ties by id) with their attributes and edges: stable output."""
    order = g.graph.get("order") or lexicographic_order(g)
    return {"nodes": [{"id": n, **g.nodes[n]} for n in order],
            "edges": sorted([a, b] for a, b in g.edges)}


def to_dot(g: JobGraph) -> str:
    lines = ["digraph aurumplan {", "  rankdir=LR;"]
    for n in lexicographic_order(g):
        kind = g.nodes[n]["kind"]
        shape = {"extract": "box", "derive": "box", "validate": "diamond", "commit": "doubleoctagon"}[kind]
        lines.append(f'  "{n}" [shape={shape}];')
    lines.extend(f'  "{a}" -> "{b}";' for a, b in sorted(g.edges))
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(g: JobGraph) -> str:
    ids = {n: f"n{i}" for i, n in enumerate(lexicographic_order(g))}
    lines = ["flowchart LR"]
    for n, nid in ids.items():
        kind = g.nodes[n]["kind"]
        label = n.replace('"', "'")
        lines.append(f'  {nid}{{"{label}"}}' if kind == "validate" else f'  {nid}["{label}"]')
    lines.extend(f"  {ids[a]} --> {ids[b]}" for a, b in sorted(g.edges))
    return "\n".join(lines) + "\n"
