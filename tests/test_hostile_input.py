"""Hostile and broken input: every case ends in one clear error, fast and small, never "internal error".

Over a hundred generated bad specs, configs, plan files and outputs (alias bombs, huge lists and
files, deep nesting, wrong types, impossible dates, unwritable outputs, Terraform habits) go
through the real entry point in a subprocess (tests/hostile_worker.py). Each must exit non-zero
with every error line `FILE:LINE:COL: message` or `Error: message`, within 5 s of CPU time, and
the process must stay under 300 MB. CPU time, not wall time, is bounded: the machine is shared.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

GOOD = {
    "apiVersion": "aurumplan/v1", "kind": "Backfill", "metadata": {"name": "hostile"},
    "spec": {"source": "eia", "datasets": ["ELEC.DEMAND"], "series": ["PJM"],
             "window": {"start": "2024-01-01", "end": "2024-01-07"}, "concurrency": 2,
             "retries": {"max": 2, "backoff": "1s", "maxBackoff": "5s"}, "rateLimit": "auto",
             "validation": {"checks": ["schema"], "threshold": 0.5}},
}
BAD_VALUES: list[Any] = [None, 1, -5, 1e308, "x" * 300, [1, 2], {"a": 1}, True, "2024-13-01", [[[]]]]
FIELDS = [("apiVersion",), ("kind",), ("metadata",), ("metadata", "name"), ("spec",), ("spec", "source"),
          ("spec", "datasets"), ("spec", "series"), ("spec", "window"), ("spec", "window", "start"),
          ("spec", "window", "end"), ("spec", "concurrency"), ("spec", "retries"), ("spec", "retries", "max"),
          ("spec", "rateLimit"), ("spec", "validation")]
LOCATED = re.compile(r"^\S+:\d+:\d+: \S")
CLICK_USAGE = ("Usage: ", "Try '")  # click's usage lines above its own "Error: ..." line


def yaml_of(data: Any) -> str:
    """JSON is YAML; dates stay strings that YAML reads as dates."""
    return json.dumps(data).replace('"2024-01-01"', "2024-01-01").replace('"2024-01-07"', "2024-01-07")


def with_value(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(GOOD))
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return doc


def alias_bomb(levels: int, width: int) -> str:
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def spec_cases(rng: random.Random) -> list[tuple[str, str | bytes]]:
    out: list[tuple[str, str | bytes]] = []
    for path in FIELDS:
        for value in rng.sample(BAD_VALUES, 5):
            out.append((f"spec {'.'.join(path)}={str(value)[:20]!r}", yaml_of(with_value(path, value))))
    good = yaml_of(GOOD)
    out += [
        ("alias bomb 9x9", alias_bomb(9, 9)),
        ("alias bomb 30x2", alias_bomb(30, 2)),
        ("alias bomb inside spec", alias_bomb(8, 10) + "apiVersion: aurumplan/v1\nkind: Backfill\n"),
        ("merge-key bomb", "a: &a {x: 1, y: 2}\n" + "".join(
            f"b{i}: &b{i} {{<<: *{'a' if i == 0 else f'b{i - 1}'}, z{i}: {i}}}\n" for i in range(200))),
        ("20,000 series", yaml_of(with_value(("spec", "series"), [f"S{i}" for i in range(20000)]))),
        ("200,000 series (1.7 MB)", yaml_of(with_value(("spec", "series"), [f"SER{i}" for i in range(200000)]))),
        ("5,000 unknown series", yaml_of(with_value(("spec", "series"), [f"S{i}" for i in range(5000)]))),
        ("duplicated series", yaml_of(with_value(("spec", "series"), ["PJM"] * 9000))),
        ("deep list 40", "x: " + "[" * 40 + "]" * 40 + "\n"),
        ("deep list 5000", "x: " + "[" * 5000 + "]" * 5000 + "\n"),
        ("deep map 200", "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v\n"),
        ("big comment", "#" + "x" * 400_000 + "\n" + good),
        ("window 0001..9999", yaml_of(with_value(("spec", "window"), {"start": "0001-01-01", "end": "9999-12-31"}))),
        ("window 2024-02-30", good.replace("2024-01-07", "2024-02-30")),
        ("window 2024-13-01", good.replace("2024-01-07", "2024-13-01")),
        ("window reversed", good.replace("2024-01-07", "2023-01-01")),
        ("empty", ""),
        ("comment only", "# nothing\n"),
        ("top-level list", "[1, 2, 3]\n"),
        ("scalar", "hello\n"),
        ("tab indent", "spec:\n\tsource: eia\n"),
        ("binary", bytes(range(256)) * 4),
        ("latin-1", "apiVersion: aurumplan/v1\nkind: Backfill # caf\xe9\n".encode("latin-1")),
        ("unknown tag", "x: !!python/object:os.system echo\n"),
        ("duplicate keys", good + "\nkind: Replay\n"),
        ("huge number", yaml_of(with_value(("spec", "concurrency"), 10**400))),
    ]
    return out


def config_cases() -> list[tuple[str, str]]:
    return [
        ("config sources list", "sources: [1, 2]\n"),
        ("config source scalar", "sources: {eia: 3}\n"),
        ("config quota scalar", "sources: {eia: {quota: 5}}\n"),
        ("config quota negative", "sources: {eia: {quota: {per_second: -1}}}\n"),
        ("config quota unknown window", "sources: {eia: {quota: {per_week: 5}}}\n"),
        ("config headroom text", "sources: {eia: {headroom: lots}}\n"),
        ("config state list", "state: [1]\n"),
        ("config executor", "executor: mainframe\n"),
        ("config top list", "- 1\n- 2\n"),
        ("config alias bomb", alias_bomb(9, 9)),
        ("config huge", "sources:\n" + "".join(f"  s{i}: {{base_url: 'http://x', driver: eia}}\n"
                                               for i in range(12000))),
        ("config deep", "sources: " + "{a: " * 60 + "1" + "}" * 60 + "\n"),
        ("config bad date", "logs: 2024-13-01\n"),
        ("config api_key_env holds a key", "sources: {eia: {api_key_env: 'abc-123-def'}}\n"),
    ]


def plan_cases(good_plan: dict[str, Any]) -> list[tuple[str, str | bytes]]:
    def changed(**kw: Any) -> str:
        p = json.loads(json.dumps(good_plan))
        p.update(kw)
        return json.dumps(p)

    no_graph = json.loads(json.dumps(good_plan))
    del no_graph["graph"]
    return [
        ("plan not json", "{not json"),
        ("plan json list", "[1, 2]"),
        ("plan empty object", "{}"),
        ("plan truncated", json.dumps(good_plan)[:500]),
        ("plan other format", changed(format_version=999)),
        ("plan edited concurrency", changed(settings={**good_plan["settings"], "concurrency": -5})),
        ("plan without graph", json.dumps(no_graph)),
        ("plan binary", bytes(range(256))),
        ("plan deep nesting", "[" * 100_000 + "]" * 100_000),
        ("plan empty file", ""),
    ]


def build_cases(tmp: Path) -> list[dict[str, Any]]:
    rng = random.Random(13)
    project = tmp / "project"
    project.mkdir()
    (project / "aurumplan.yaml").write_text("state: sqlite:///state.db\nwarehouse: sqlite:///warehouse.db\n")
    (project / "good.yaml").write_text(yaml_of(GOOD))
    cfg = ["--config", str(project / "aurumplan.yaml")]
    cases: list[dict[str, Any]] = []

    def add(name: str, argv: list[str], cwd: Path = project) -> None:
        cases.append({"name": name, "argv": argv, "cwd": str(cwd)})

    for i, (name, text) in enumerate(spec_cases(rng)):  # a mutation may happen to be valid ("1" as a name)
        f = project / f"spec{i}.yaml"
        f.write_bytes(text if isinstance(text, bytes) else text.encode())
        add(name, [*cfg, "validate", str(f)] if i % 2 else [*cfg, "plan", str(f)])
    for i, (name, text) in enumerate(config_cases()):
        folder = tmp / f"config{i}"
        folder.mkdir()
        (folder / "aurumplan.yaml").write_text(text)
        (folder / "good.yaml").write_text(yaml_of(GOOD))
        add(name, ["--config", str(folder / "aurumplan.yaml"), "plan", str(folder / "good.yaml")], folder)
    good_plan = plan_of(project)
    for i, (name, text) in enumerate(plan_cases(good_plan)):
        f = project / f"plan{i}.json"
        f.write_bytes(text if isinstance(text, bytes) else text.encode())
        add(name, [*cfg, "apply", str(f), "--auto-approve"] if i % 2 else [*cfg, "show", str(f)])
    good = str(project / "good.yaml")
    add("output into a missing folder", [*cfg, "plan", good, "-o", str(tmp / "missing" / "plan.json")])
    add("output onto a full device", [*cfg, "plan", good, "-o", "/dev/full"])
    add("output onto a folder", [*cfg, "plan", good, "-o", str(tmp)])
    add("terraform -out=", [*cfg, "plan", good, "-out=plan.json"])
    add("terraform -auto-approve", [*cfg, "apply", good, "-auto-approve"])
    add("missing spec file", [*cfg, "plan", str(project / "nope.yaml")])
    add("missing plan file", [*cfg, "apply", str(project / "nope.json"), "--auto-approve"])
    add("missing config file", ["--config", str(tmp / "nope.yaml"), "plan", good])
    add("spec is a folder", [*cfg, "validate", str(tmp)])
    return cases


def plan_of(project: Path) -> dict[str, Any]:
    out = project / "good.json"
    res = subprocess.run([sys.executable, "-m", "aurumplan.cli.main", "--config", str(project / "aurumplan.yaml"),
                          "plan", str(project / "good.yaml"), "-o", str(out)], capture_output=True, text=True,
                         timeout=120, cwd=project)
    assert res.returncode in (0, 2), res.stderr
    data: dict[str, Any] = json.loads(out.read_text())
    return data


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("hostile")
    cases = build_cases(tmp)
    (tmp / "cases.json").write_text(json.dumps(cases))
    res = subprocess.run([sys.executable, "-m", "tests.hostile_worker", str(tmp / "cases.json"),
                          str(tmp / "out.json")], capture_output=True, text=True, timeout=1500, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    data: dict[str, Any] = json.loads((tmp / "out.json").read_text())
    return data


def test_over_a_hundred_cases(outcomes: dict[str, Any]) -> None:
    assert len(outcomes["results"]) >= 100


def test_every_case_is_one_clear_error(outcomes: dict[str, Any]) -> None:
    bad = []
    for r in outcomes["results"]:
        if r["code"] == 0 and r["name"].startswith("spec ") and not r["stderr"]:
            continue  # a generated field value that is valid after all (name "1", concurrency 1)
        lines = [ln for ln in r["stderr"].splitlines() if ln.strip() and not ln.startswith(CLICK_USAGE)]
        clear = bool(lines) and all(LOCATED.match(ln) or ln.startswith("Error: ") for ln in lines)
        if r["code"] in (0, None) or not isinstance(r["code"], int) or not clear or "internal error" in r["stderr"]:
            bad.append((r["name"], r["code"], r["stderr"][:300]))
    assert not bad, "\n".join(map(str, bad))


def test_every_case_is_fast_and_small(outcomes: dict[str, Any]) -> None:
    slow = [(r["name"], round(r["cpu"], 2), round(r["wall"], 2)) for r in outcomes["results"] if r["cpu"] >= 5.0]
    assert not slow, slow
    first_over = next((r["name"] for r in outcomes["results"] if r["peak_mb_after"] >= 300), None)
    assert outcomes["peak_mb"] < 300, (outcomes["peak_mb"], first_over)


def test_messages_point_at_the_value_and_say_what_to_do(tmp_path: Path) -> None:
    from aurumplan.errors import SpecError
    from aurumplan.spec.loader import load_spec

    spec = tmp_path / "s.yaml"
    spec.write_text("apiVersion: aurumplan/v1\nkind: Backfill\nmetadata: {name: t}\nspec:\n  source: eia\n"
                    "  window: {start: 2024-13-01, end: 2024-12-31}\n")
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert str(err.value).startswith(f"{spec}:6:19: invalid date '2024-13-01'")
    spec.write_text(alias_bomb(12, 10))
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert "more than 50000 values" in str(err.value)
    spec.write_text("spec:\n  series: [" + ", ".join(f"S{i}" for i in range(10001)) + "]\n")
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert f"{spec}:2:11: a list of 10001 items, above the limit of 10000" in str(err.value)


def test_output_cut_short_by_head_ends_quietly(tmp_path: Path) -> None:
    (tmp_path / "aurumplan.yaml").write_text("state: sqlite:///state.db\nwarehouse: sqlite:///warehouse.db\n")
    (tmp_path / "s.yaml").write_text("apiVersion: aurumplan/v1\nkind: Backfill\nmetadata: {name: t}\nspec:\n"
                                     "  source: eia\n  window: {start: 2015-07-01, end: 2024-12-31}\n")
    proc = subprocess.Popen([sys.executable, "-m", "aurumplan.cli.main", "plan", "s.yaml", "-o", "p.json"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does, while the plan is still being written
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert err == ""
