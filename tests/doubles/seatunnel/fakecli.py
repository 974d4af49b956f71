"""A fake `bin/seatunnel.sh` (the Zeta client, docs/seatunnel.md), installed by `install_fake_seatunnel(home)`.

It checks arguments the way the real client's JCommander does (exit 234 on a usage error, 1 on a
failed job or a bad config, 0 when the job finished), runs the job in-process with engine.py,
and prints SeaTunnel-like log lines: the parsed config with only password/username/auth/token
masked (as SeaTunnel does, so an `api_key` parameter would show: the caller must mask it), the
job id, and the "Job Statistic Information" table.

"Cluster" state lives under $SEATUNNEL_HOME/fake-state/: jobs/<id>.json (what `-j ID` prints),
cancel/<id> (written by `-can ID`; the running job polls it), submissions.jsonl and calls.jsonl
(every invocation's argv, for tests). Knobs (environment): FAKE_SEATUNNEL_FAIL=<errorMsg> fails
the job at its last source, FAKE_SEATUNNEL_SLOW=<seconds> waits before each source;
FAKE_SEATUNNEL_VERSION (written into the script by `install_fake_seatunnel(home, version=...)`) is
the release emulated where behaviour differs between releases.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import signal
import sys
from pathlib import Path
from typing import Any

from aurumplan.executors.seatunnel.conformance import RESERVED_VARIABLES
from aurumplan.executors.seatunnel.reader import ConfigReadError, read_config_file
from tests.doubles.seatunnel.engine import (
    DEFAULT_VERSION,
    JobCancelled,
    JobFailed,
    resolve_refs,
    run_job,
)

USAGE = 234
_SENSITIVE = ("password", "username", "auth", "token")
_ARITY1 = {"-c": "config", "--config": "config", "-m": "master", "--master": "master", "-e": "master",
           "--deploy-mode": "master", "-n": "name", "--name": "name", "--set-job-id": "job_id",
           "-j": "status", "--job-id": "status"}
_I_VAR = re.compile(r"\$\{([^:{}]+)(?::([^}]*))?\}")


class Usage(Exception):
    """A JCommander ParameterException: the client prints usage and exits 234."""


def out(text: str) -> None:
    """Print like Java's System.out: a reader that went away (aurumplan killed) does not stop the job."""
    try:
        print(text, flush=True)
    except OSError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115


def log(level: str, msg: str) -> None:
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
    out(f"{now} {level:<5} [o.a.s.c.s.SeaTunnelClient] [main] - {msg}")


def parse_args(argv: list[str]) -> dict[str, Any]:
    args: dict[str, Any] = {"variables": [], "cancel": [], "master": "cluster"}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            raise Usage("help")
        if a in _ARITY1 or a in ("-i", "--variable"):
            if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                raise Usage(f"Expected a value after parameter {a}")
            if a in ("-i", "--variable"):
                args["variables"].append(argv[i + 1])
            else:
                if a in ("-e", "--deploy-mode"):
                    log("WARN", "-e/--deploy-mode is deprecated, use -m/--master")
                args[_ARITY1[a]] = argv[i + 1]
            i += 2
        elif a in ("-can", "--cancel-job"):
            i += 1
            while i < len(argv) and not argv[i].startswith("-"):
                args["cancel"].append(argv[i])
                i += 1
            if not args["cancel"]:
                raise Usage(f"Expected a value after parameter {a}")
        elif a in ("--async", "--check", "-cj", "--close-job"):
            args[a.lstrip("-")] = True
            i += 1
        elif a.startswith("-"):
            raise Usage(f"Was passed unknown option '{a}'")
        else:
            raise Usage(f"Was passed main parameter '{a}' but no main parameter was defined in your arg class")
    if args["master"] not in ("local", "cluster"):
        raise Usage(f"Invalid value for -m parameter. Allowed values:[local, cluster], got {args['master']}")
    if "job_id" in args and not args["job_id"].isdigit():
        raise Usage(f"--set-job-id must be a number, got {args['job_id']}")
    return args


def _variables(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise Usage(f"variable {item!r} is not key=value")
        k, v = item.split("=", 1)
        if k in RESERVED_VARIABLES:
            raise JobFailed(f"Variable {k} is reserved and cannot be set with -i")
        out[k] = v
    return out


def _substitute(value: Any, variables: dict[str, str]) -> Any:
    """SeaTunnel's -i pass: ${name} / ${name:default} inside string values, when name is set."""
    if isinstance(value, str):
        def one(m: re.Match[str]) -> str:
            if m.group(1) in variables:
                return variables[m.group(1)]
            return m.group(2) if m.group(2) is not None else m.group(0)
        return _I_VAR.sub(one, value)
    if isinstance(value, dict):
        return {k: _substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, variables) for v in value]
    return value


def _desensitised(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "******" if any(s in k.lower() for s in _SENSITIVE) else _desensitised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_desensitised(v) for v in value]
    return value


class State:
    """The fake cluster's memory of jobs, in files so that every client invocation shares it."""

    def __init__(self, home: Path) -> None:
        self.root = home / "fake-state"
        for sub in ("jobs", "cancel"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def job(self, job_id: str) -> dict[str, Any] | None:
        p = self.root / "jobs" / f"{job_id}.json"
        return json.loads(p.read_text()) if p.exists() else None

    def save(self, info: dict[str, Any]) -> None:
        p = self.root / "jobs" / f"{info['jobId']}.json"
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(p)

    def append(self, name: str, entry: dict[str, Any]) -> None:
        with (self.root / name).open("a") as f:
            f.write(json.dumps(entry) + "\n")

    def cancelled(self, job_id: str) -> bool:
        return (self.root / "cancel" / job_id).exists()


def submit(args: dict[str, Any], state: State) -> int:
    config = Path(args.get("config") or "")
    if not args.get("config") or not config.is_file():
        log("ERROR", f"Can't find config file: {config}")
        return 1
    variables = _variables(args["variables"])
    try:
        parsed = read_config_file(config)
    except ConfigReadError as exc:
        log("ERROR", f"Config file parse failed: {exc}")
        return 1
    parsed = _substitute(parsed, variables) if variables else parsed
    job_id = args.get("job_id") or str(random.randrange(10**17, 10**18))
    name = args.get("name") or parsed.get("env", {}).get("job", {}).get("name") or "SeaTunnel"
    if state.job(job_id) is not None:
        log("ERROR", f"Job id {job_id} has already been submitted")
        return 1
    state.append("submissions.jsonl", {"jobId": job_id, "jobName": name, "master": args["master"]})
    shown = _desensitised(resolve_refs(parsed, os.environ))  # what SeaTunnel prints: resolved, partly masked
    log("INFO", "Parsed config file: \n" + json.dumps(shown, indent=2))
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    info: dict[str, Any] = {"jobId": job_id, "jobName": name, "jobStatus": "RUNNING", "createTime": now,
                            "metrics": {}, "errorMsg": None}
    state.save(info)
    log("INFO", f"Submit job finished, job id: {job_id}, job name: {name}")
    terminated: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: terminated.append(1))  # -cj: the shutdown hook cancels the job
    start = dt.datetime.now()
    try:
        totals = run_job(parsed, environ=os.environ, log=log,
                         should_stop=lambda: bool(terminated) or state.cancelled(job_id),
                         slow=float(os.environ.get("FAKE_SEATUNNEL_SLOW") or 0),
                         fail=os.environ.get("FAKE_SEATUNNEL_FAIL") or None,
                         version=os.environ.get("FAKE_SEATUNNEL_VERSION") or DEFAULT_VERSION)
    except JobCancelled:
        state.save({**info, "jobStatus": "CANCELED", "finishTime": _now()})
        log("WARN", f"Job {name} ({job_id}) end with state CANCELED")
        return 1
    except JobFailed as exc:
        state.save({**info, "jobStatus": "FAILED", "finishTime": _now(), "errorMsg": str(exc)})
        log("ERROR", f"Job {name} ({job_id}) end with state FAILED: {exc}")
        out("Exception in thread \"main\" org.apache.seatunnel.core.starter.exception.CommandExecuteException: "
            "SeaTunnel job executed failed")
        return 1
    metrics = {"SourceReceivedCount": str(totals.read), "SinkWriteCount": str(totals.written),
               "SourceReceivedBytes": str(totals.bytes)}
    state.save({**info, "jobStatus": "FINISHED", "finishTime": _now(), "metrics": metrics})
    end = dt.datetime.now()
    out("\n".join([
        "***********************************************", "           Job Statistic Information",
        "***********************************************",
        f"Start Time                : {start:%Y-%m-%d %H:%M:%S}",
        f"End Time                  : {end:%Y-%m-%d %H:%M:%S}",
        f"Total Time(s)             : {int((end - start).total_seconds()):>19}",
        f"Total Read Count          : {totals.read:>19}", f"Total Write Count         : {totals.written:>19}",
        f"Total Failed Count        : {0:>19}", "***********************************************"]))
    log("INFO", f"Job {name} ({job_id}) end with state FINISHED")
    return 0


def _now() -> str:
    return dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def main(argv: list[str]) -> int:
    home = Path(os.environ.get("SEATUNNEL_HOME") or Path(__file__).resolve().parent)
    state = State(home)
    state.append("calls.jsonl", {"argv": argv})
    try:
        args = parse_args(argv)
        if args["cancel"]:
            for job_id in args["cancel"]:
                (state.root / "cancel" / job_id).touch()
                log("INFO", f"Cancel job {job_id} success")
            return 0
        if "status" in args:
            info = state.job(args["status"])
            if info is None:
                log("ERROR", f"Job {args['status']} not found")
                return 1
            out(json.dumps(info))
            return 0
        return submit(args, state)
    except Usage as exc:
        print(f"{exc}\nUsage: seatunnel.sh [options]", file=sys.stderr, flush=True)
        return USAGE
    except JobFailed as exc:
        log("ERROR", str(exc))
        return 1


def install_fake_seatunnel(home: Path, version: str = DEFAULT_VERSION) -> Path:
    """Create home/bin/seatunnel.sh running this module with this Python; returns the script.

    Like the real script it passes `$@` unquoted, so a value with a space splits into two words.
    The script puts the repository root on PYTHONPATH: the fake lives under tests/, not in the wheel.
    """
    bin_dir = home / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "seatunnel.sh"
    root = Path(__file__).resolve().parents[3]
    script.write_text("#!/usr/bin/env bash\n"
                      f"export PYTHONPATH='{root}'${{PYTHONPATH:+:$PYTHONPATH}}\n"
                      f"export SEATUNNEL_HOME=\"${{SEATUNNEL_HOME:-{home}}}\"\n"
                      f"export FAKE_SEATUNNEL_VERSION='{version}'\n"
                      "args=$@\n"
                      f"exec '{sys.executable}' -m tests.doubles.seatunnel.fakecli $args\n")
    script.chmod(0o755)
    return script


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
