"""Entry point of a parse worker process: `python -m aurumplan.executors.parseworker READ_FD WRITE_FD`.

A module of its own so that the worker's classes keep their real module names (what it sends back
unpickles in the apply). See executors/parsepool.py.
"""

from __future__ import annotations

import sys

from aurumplan.executors.parsepool import serve

if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
