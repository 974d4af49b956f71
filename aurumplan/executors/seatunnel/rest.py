"""Executor `seatunnel-rest`: submit each extract node to the Zeta REST API v2 and poll it.

`POST {rest_url}/submit-job?jobId=&jobName=&format=json` with the JSON form of the job, its
`${VAR}` references filled in memory just before the request (SeaTunnel does not resolve a JSON
body; the filled body is never logged or written). The job id is deterministic and recorded
through job.record_external_id before the POST, so that after a crash resume asks
`GET /job-info/{id}` first: FINISHED -> accept the staged rows, still running -> keep polling,
unknown (a bare {"jobId"} once history expired) or ended otherwise -> discard and resubmit under
a new id (SeaTunnel refuses to reuse an ended id). Ids are kept as text: they exceed 2**53.

Pause/cancel: `POST /stop-job {"jobId", "isStopWithSavePoint": true}`, wait for the job to end,
raise Stopped. FINISHED is accepted only when SinkWriteCount equals the rows staged.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from aurumplan.config import Config
from aurumplan.errors import ExecutorError
from aurumplan.executors.base import Counters, ExtractJob, Stopped
from aurumplan.executors.seatunnel.executor import (
    FINAL,
    Prepared,
    SeaTunnelExecutor,
    log,
    masked,
    metric,
    submitted_name,
)
from aurumplan.executors.seatunnel.render import fill_secret_refs

STOP_WAIT = 120.0


class SeaTunnelRestExecutor(SeaTunnelExecutor):
    """Runs each extract node as one job on a SeaTunnel (Zeta) cluster through REST API v2."""

    name = "seatunnel-rest"

    @classmethod
    def check_settings(cls, config: Config) -> None:
        if not config.seatunnel.rest_url:
            raise ExecutorError("executor seatunnel-rest needs seatunnel.rest_url in aurumplan.yaml")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base = str(self.st.rest_url or "").rstrip("/")
        self.http = httpx.Client(timeout=60.0, headers={"User-Agent": "aurumplan"})

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        """One REST call; SeaTunnel's errors come as {"status":"fail","message":...} with 400/500."""
        try:
            resp = self.http.request(method, self.base + path, **kw)
        except httpx.HTTPError as exc:
            raise ExecutorError(f"SeaTunnel REST {method} {path}: {type(exc).__name__}: {exc}") from None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code >= 400 or (isinstance(body, dict) and body.get("status") == "fail"):
            message = body.get("message") if isinstance(body, dict) else resp.text[:500]
            raise ExecutorError(f"SeaTunnel REST {method} {path} answered {resp.status_code}: {message}")
        return body

    def job_info(self, job_id: str) -> dict[str, Any] | None:
        """JobInfo, or None when the cluster does not know the id (or its history expired)."""
        info = self._call("GET", f"/job-info/{job_id}")
        if not isinstance(info, dict) or "jobStatus" not in info:
            return None
        return info

    def run_extract(self, job: ExtractJob) -> Counters:
        prepared = self.prepare(job)
        if job.stop.is_set():
            raise Stopped()
        previous = job.external_id
        if previous:
            info = self.job_info(previous)
            if info is not None and str(info["jobStatus"]) not in FINAL:
                log.info("SeaTunnel job %s of node %s is still %s; following it", previous, job.node_id,
                         info["jobStatus"])
                return self._follow(job, previous, prepared)
            adopted = self.adopt_finished(job, previous, info, prepared)
            if adopted is not None:
                return adopted
        job_id = self.fresh_job_id(job, previous, prepared)
        self._submit(job, job_id, prepared)
        return self._follow(job, job_id, prepared)

    def _submit(self, job: ExtractJob, job_id: str, prepared: Prepared) -> None:
        body = json.dumps(fill_secret_refs(prepared.rendered.config, prepared.rendered.env_refs, prepared.environ))
        name = submitted_name(prepared.rendered.config["env"]["job"]["name"], job_id)
        log.info("submitting SeaTunnel job %s for node %s to %s", job_id, job.node_id, self.base)
        try:
            answer = self._call("POST", "/submit-job", params={"jobId": job_id, "jobName": name, "format": "json"},
                                content=body.encode(), headers={"Content-Type": "application/json"})
        except ExecutorError as exc:  # a server may echo the (filled-in) config in its message
            raise ExecutorError(masked(str(exc), prepared.secrets)) from None
        got = str(answer.get("jobId")) if isinstance(answer, dict) else ""
        if got != job_id:
            if job.record_external_id is not None and got:
                job.record_external_id(got)
            raise ExecutorError(f"SeaTunnel answered job id {got or '?'} to a submission of {job_id}")

    def _follow(self, job: ExtractJob, job_id: str, prepared: Prepared) -> Counters:
        """Poll job-info until the job ends; stop it with a savepoint when the operation stops."""
        while True:
            if job.stop.is_set():
                self._stop(job_id)
                raise Stopped()
            info = self.job_info(job_id)
            if info is None:
                raise ExecutorError(f"SeaTunnel no longer knows job {job_id} (history expired?); "
                                    "its rows are not accepted")
            status = str(info["jobStatus"])
            if status == "FINISHED":
                return self._finished(job, job_id, info, prepared)
            if status == "FAILED":
                raise ExecutorError(f"SeaTunnel job {job_id} of node {job.node_id} failed: "
                                    f"{info.get('errorMsg') or 'no error message'}")
            if status in FINAL:
                if job.stop.is_set():
                    raise Stopped()
                raise ExecutorError(f"SeaTunnel job {job_id} of node {job.node_id} ended {status}")
            time.sleep(self.st.poll_interval)

    def _finished(self, job: ExtractJob, job_id: str, info: dict[str, Any], prepared: Prepared) -> Counters:
        metrics = info.get("metrics")
        log.info("SeaTunnel job %s finished: %s rows read, %s written", job_id,
                 metric(metrics, "SourceReceivedCount"), metric(metrics, "SinkWriteCount"))
        return self.accept(job, job_id, metric(metrics, "SinkWriteCount"), prepared.requests,
                           metric(metrics, "SourceReceivedBytes") or 0)

    def _stop(self, job_id: str) -> None:
        """Stop with savepoint and wait (bounded) for the job to reach a final state."""
        log.info("stopping SeaTunnel job %s (savepoint)", job_id)
        try:
            self._call("POST", "/stop-job", content=f'{{"jobId":{int(job_id)},"isStopWithSavePoint":true}}'.encode(),
                       headers={"Content-Type": "application/json"})
            deadline = time.monotonic() + STOP_WAIT
            while time.monotonic() < deadline:
                info = self.job_info(job_id)
                if info is None or str(info["jobStatus"]) in FINAL:
                    return
                time.sleep(min(self.st.poll_interval, 0.5))
        except ExecutorError as exc:  # the node stops either way; resume asks job-info again
            log.warning("stopping SeaTunnel job %s: %s", job_id, exc)
            return
        log.warning("SeaTunnel job %s did not stop within %.0fs", job_id, STOP_WAIT)
