"""Executor `seatunnel-cli`: one `$SEATUNNEL_HOME/bin/seatunnel.sh --config FILE` run per extract node.

The HOCON config goes to `<logs>/seatunnel/<operation>/<node>.conf` (secrets only as `${VAR}`,
resolved by the client from the environment this executor passes it). The job gets a
deterministic id (`--set-job-id`, recorded through job.record_external_id *before* the client
starts), so that a resumed operation asks the cluster about that id (`seatunnel.sh -j ID`)
instead of submitting the node twice. Client output is masked (SeaTunnel hides only
password/username/auth/token keys, not an `api_key` parameter) and goes both to the logger
"aurumplan.seatunnel" and to `<job id>.log` next to the config.

Exit codes (docs/seatunnel.md, "Executors"): 0 finished, 1 failed (job, config or connection), 234 usage error.
Rows written are read from the client's final "Job Statistic Information" (Total Write Count;
in cluster mode `-j ID` metrics when the table is missing) and must equal the rows staged under
job.load_id; exit 0 alone is never trusted. Pause/cancel: cluster mode runs
`seatunnel.sh -can ID`; local mode has no cluster to ask, so the client gets SIGTERM, which
its shutdown hook (`-cj`, default on) turns into a job cancel. In local mode the engine dies with
the client, so after an aurumplan crash the job cannot be found again and is resubmitted.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from aurumplan.config import Config
from aurumplan.errors import ExecutorError
from aurumplan.executors.base import Counters, ExtractJob, Stopped
from aurumplan.executors.seatunnel.conformance import check_cli_variables
from aurumplan.executors.seatunnel.executor import (
    FINAL,
    Prepared,
    SeaTunnelExecutor,
    log,
    masked,
    metric,
    submitted_name,
)

USAGE_EXIT = 234
_LEVEL = re.compile(r"^\S+ \S+ (TRACE|DEBUG|INFO|WARN|ERROR)\b")
_WRITE = re.compile(r"^Total Write Count\s*:\s*(\d+)\s*$")
_LEVELS = {"TRACE": logging.DEBUG, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
           "ERROR": logging.ERROR}


def _safe(name: str) -> str:
    return re.sub(r"[^\w.\-]", "_", name)


class _Output:
    """Streams the client's output, masked, into the logger and the job's log file."""

    def __init__(self, stream: IO[str], file: Path, secrets: tuple[str, ...]) -> None:
        self.tail: collections.deque[str] = collections.deque(maxlen=40)
        self.written: int | None = None
        self._stream, self._file, self._secrets = stream, file, secrets
        self._thread = threading.Thread(target=self._pump, name="seatunnel-output", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        level = logging.INFO
        with self._file.open("a", encoding="utf-8") as out:
            for raw in self._stream:
                line = masked(raw.rstrip("\n"), self._secrets)
                out.write(line + "\n")
                m = _LEVEL.match(line)
                if m:
                    level = _LEVELS[m.group(1)]
                w = _WRITE.match(line)
                if w:
                    self.written = int(w.group(1))
                self.tail.append(line)
                log.log(level, "%s", line)

    def join(self) -> str:
        self._thread.join(timeout=30)
        return "\n".join(self.tail)


class SeaTunnelCliExecutor(SeaTunnelExecutor):
    """Runs each extract node as one seatunnel.sh client process."""

    name = "seatunnel-cli"

    @classmethod
    def check_settings(cls, config: Config) -> None:
        if not (config.seatunnel.home or os.environ.get("SEATUNNEL_HOME")):
            raise ExecutorError("executor seatunnel-cli needs seatunnel.home in aurumplan.yaml or SEATUNNEL_HOME")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        home = self.st.home or os.environ.get("SEATUNNEL_HOME") or ""
        self.script = Path(home) / "bin" / "seatunnel.sh"
        self.mode = self.st.deploy_mode

    def folder(self, job: ExtractJob) -> Path:
        return self.config.path(self.config.logs) / "seatunnel" / _safe(job.operation_id)

    def run_extract(self, job: ExtractJob) -> Counters:
        if not self.script.is_file():
            raise ExecutorError(f"SeaTunnel client not found: {self.script} (set seatunnel.home)")
        prepared = self.prepare(job)
        if job.stop.is_set():
            raise Stopped()
        folder = self.folder(job)
        folder.mkdir(parents=True, exist_ok=True)
        conf = folder / f"{_safe(job.node_id)}.conf"
        conf.write_text(prepared.rendered.hocon, encoding="utf-8")
        previous = job.external_id
        if previous and self.mode == "cluster":
            info = self._wait(job, previous)
            adopted = self.adopt_finished(job, previous, info, prepared)
            if adopted is not None:
                return adopted
        job_id = self.fresh_job_id(job, previous, prepared)
        return self._submit(job, job_id, conf, prepared)

    def _command(self, *args: str) -> list[str]:
        return [str(self.script), *args]

    def _submit(self, job: ExtractJob, job_id: str, conf: Path, prepared: Prepared) -> Counters:
        variables = {"aurumplan_operation": _safe(job.operation_id), "aurumplan_node": _safe(job.node_id)}
        problems = check_cli_variables(prepared.rendered.config, variables)
        if problems:
            raise ExecutorError("refusing seatunnel.sh variables: " + "; ".join(problems))
        cmd = self._command("--config", str(conf), "-m", self.mode, "--set-job-id", job_id,
                            "-n", submitted_name(prepared.rendered.config["env"]["job"]["name"], job_id),
                            *(a for k, v in variables.items() for a in ("-i", f"{k}={v}")))
        log.info("submitting SeaTunnel job %s for node %s: %s", job_id, job.node_id, " ".join(cmd))
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=prepared.environ, cwd=conf.parent, text=True, encoding="utf-8",
                                    errors="replace")
        except OSError as exc:
            raise ExecutorError(f"cannot run {self.script}: {exc.strerror or exc}") from None
        assert proc.stdout is not None
        output = _Output(proc.stdout, conf.parent / f"{job_id}.log", prepared.secrets)
        while proc.poll() is None:
            if job.stop.is_set():
                self._cancel(job_id, proc)
                output.join()
                raise Stopped()
            time.sleep(0.05)
        tail = output.join()
        rc = proc.returncode
        if rc == 0:
            written = output.written
            if written is None and self.mode == "cluster":  # no statistics table: ask the cluster
                info = self.status(job_id)
                written = metric(info.get("metrics"), "SinkWriteCount") if info else None
            return self.accept(job, job_id, written, prepared.requests)
        if rc == USAGE_EXIT:
            raise ExecutorError(f"seatunnel.sh rejected its arguments (exit 234, usage error) for job {job_id}:\n"
                                f"{tail}")
        if job.stop.is_set():
            raise Stopped()
        raise ExecutorError(f"SeaTunnel job {job_id} of node {job.node_id} failed (exit {rc}):\n{tail}")

    def _cancel(self, job_id: str, proc: subprocess.Popen[str]) -> None:
        """Cancel the job: `-can ID` on a cluster, SIGTERM to a local client; then reap the client."""
        log.info("cancelling SeaTunnel job %s", job_id)
        if self.mode == "cluster":
            self._manage("-can", job_id)
        else:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            log.warning("seatunnel.sh for job %s did not end after the cancel; killing it", job_id)
            proc.kill()
            proc.wait(timeout=10)

    def _manage(self, *args: str) -> subprocess.CompletedProcess[str] | None:
        """A management command (-can, -j); None when it could not run to the end."""
        try:
            done = subprocess.run(self._command(*args), capture_output=True, text=True, timeout=120,
                                  stdin=subprocess.DEVNULL, env=self._plain_env(), check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("seatunnel.sh %s failed: %s", " ".join(args), type(exc).__name__)
            return None
        if done.returncode != 0:
            log.warning("seatunnel.sh %s exited %s", " ".join(args), done.returncode)
        return done

    def _plain_env(self) -> dict[str, str]:
        """Management commands read no config, so they get no secrets."""
        return dict(os.environ)

    def status(self, job_id: str) -> dict[str, Any] | None:
        """`seatunnel.sh -j ID` as JobInfo data; None when the cluster does not know the id."""
        done = self._manage("-j", job_id, "-m", self.mode)
        if done is None or done.returncode != 0:
            return None
        for line in reversed(done.stdout.splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    info = json.loads(line)
                except ValueError:
                    continue
                if isinstance(info, dict) and "jobStatus" in info:
                    return info
        return None

    def _wait(self, job: ExtractJob, job_id: str) -> dict[str, Any] | None:
        """The job's final JobInfo, waiting while it still runs; None when unknown."""
        while True:
            info = self.status(job_id)
            if info is None or str(info.get("jobStatus")) in FINAL:
                return info
            if job.stop.is_set():
                self._manage("-can", job_id)
                raise Stopped()
            time.sleep(self.st.poll_interval)
