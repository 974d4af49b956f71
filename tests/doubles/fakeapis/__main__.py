"""`python -m tests.doubles.fakeapis eia --port 0 --quota-per-second 5`: serve one fake until killed."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from tests.doubles.fakeapis import SERVERS
from tests.doubles.fakeapis.synth import Synth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.doubles.fakeapis", description=__doc__)
    parser.add_argument("source", choices=sorted(SERVERS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default=None, help="the only key accepted (default: any key)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--no-quota", action="store_true", help="drop the API's default quota")
    parser.add_argument("--cache-pages", action="store_true",
                        help="answer a request asked before with the page built then (benchmarks: the server "
                             "is then not the limit)")
    for window in ("second", "minute", "hour", "day"):
        parser.add_argument(f"--quota-per-{window}", type=float, default=None)
    args = parser.parse_args(argv)
    cls = SERVERS[args.source]
    windows = {f"per_{w}": getattr(args, f"quota_per_{w}") for w in ("second", "minute", "hour", "day")}
    quota = {k: v for k, v in windows.items() if v is not None} or (None if args.no_quota else "default")
    srv = cls(data=Synth(args.seed), quota=quota, api_key=args.api_key, delay=args.delay,
              host=args.host, port=args.port, cache_pages=args.cache_pages)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with srv:
        print(srv.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        print(f"requests={srv.requests} throttled={srv.throttled}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
