"""The SeaTunnel differential check against a REAL SeaTunnel: every case of the test suite's check.

Each case (tests/seatunnel_exec/differential.py: every source, facet subsets, paging, empty pages,
markers, the shipped examples) is applied with executor local and then with seatunnel-cli and/or
seatunnel-rest on a real installation, against local fake APIs; observations_current must match row for
row. docs/seatunnel.md ("Checking a real SeaTunnel") gives the set-up.

    PYTHONPATH=. .venv/bin/python bench/seatunnel_differential.py --home $SEATUNNEL_HOME --deploy-mode local \\
        --db postgresql+psycopg://user@db-host:5432/wh --jdbc-url jdbc:postgresql://db-host:5432/wh?user=user
    PYTHONPATH=. .venv/bin/python bench/seatunnel_differential.py --rest-url http://zeta:8080 \\
        --listen 0.0.0.0 --advertise this-host.example --db ... --jdbc-url ...

The fake APIs must be reachable from the SeaTunnel workers (--listen/--advertise), and the warehouse
database from both this machine (--db) and the workers (--jdbc-url; put the password in
AURUMPLAN_WAREHOUSE_PASSWORD, never in the URL). Exit status 1 when any case differs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

from tests.seatunnel_exec import differential as d


def fresh_db(url: str, folder: Path) -> str:
    """An empty database per run: a SQLite file, or a new PostgreSQL schema (search_path in the URL)."""
    if url.startswith("sqlite"):
        return f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}"
    schema = f"diff_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", default=os.environ.get("SEATUNNEL_HOME"), help="SEATUNNEL_HOME: runs seatunnel-cli")
    ap.add_argument("--rest-url", help="Zeta REST API v2 base URL: runs seatunnel-rest")
    ap.add_argument("--deploy-mode", choices=["local", "cluster"], default="cluster")
    ap.add_argument("--version", default="2.3.12", help="the SeaTunnel version the configs are written for")
    ap.add_argument("--db", required=True, help="warehouse (and state) URL as aurumplan reaches it")
    ap.add_argument("--jdbc-url", help="the warehouse as SeaTunnel's Jdbc sink reaches it")
    ap.add_argument("--listen", default="127.0.0.1", help="address the fake APIs listen on")
    ap.add_argument("--advertise", help="host name SeaTunnel uses to reach the fake APIs")
    ap.add_argument("--case", action="append", help="run only these cases (by name)")
    args = ap.parse_args(argv)
    executors = {name: st for name, st in (
        ("seatunnel-cli", {"home": args.home, "deploy_mode": args.deploy_mode} if args.home else None),
        ("seatunnel-rest", {"rest_url": args.rest_url} if args.rest_url else None)) if st is not None}
    if not executors:
        ap.error("give --home (or SEATUNNEL_HOME) and/or --rest-url")
    for st in executors.values():
        st.update({"version": args.version, "poll_interval": 1.0})
        if args.jdbc_url:
            st["jdbc_url"] = args.jdbc_url
    os.environ.update(d.KEYS)
    cases = [c for c in [*d.CASES, *d.example_cases()] if not args.case or c.name in args.case]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp, d.servers(host=args.listen) as fakes:
        root = Path(tmp)
        for case in cases:
            ref_db = fresh_db("sqlite://", root)
            config = d.write_project(root / f"local-{case.name}", ref_db, fakes, "local", {}, case.settings,
                                     args.advertise)
            d.prepare(config, case)
            code, output = d.apply(config, case.spec, case.name)
            if code != 0:
                print(f"{case.name:32} local run failed (exit {code}); skipped\n{output}")
                failed += 1
                continue
            expected = d.current(ref_db)
            for executor, st in executors.items():
                db = fresh_db(args.db, root)
                config = d.write_project(root / f"{executor}-{case.name}", db, fakes, executor, st, case.settings,
                                         args.advertise)
                d.prepare(config, case)
                code, output = d.apply(config, case.spec, case.name)
                got = d.current(db) if code == 0 else set()
                same = code == 0 and got == expected
                failed += not same
                verdict = "same" if same else (f"exit {code}" if code else d.describe(expected, got))
                print(f"{case.name:32} {executor:15} {len(expected):7} rows  {verdict}", flush=True)
                if code:
                    print(output)
    print(f"{len(cases)} cases, {failed} differing" if failed else f"{len(cases)} cases, all equal")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
