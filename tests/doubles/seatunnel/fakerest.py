"""A fake SeaTunnel (Zeta) REST API v2 on 127.0.0.1 (docs/seatunnel.md), doing the work of engine.py.

    with FakeZetaServer() as zeta:
        zeta.base_url  -> the config's seatunnel.rest_url
        zeta.submissions, zeta.stops, zeta.jobs

Endpoints: POST /submit-job (?jobId=&jobName=&format=json, JSON body), GET /job-info/{id},
GET /running-job/{id}, POST /stop-job, GET /running-jobs, GET /overview. Shapes as documented:
ids and metric values are strings, errors are {"status":"fail","message":...} with 400/500, an
unknown (or expired) id answers a bare {"jobId": "..."}. States: CREATED -> RUNNING -> FINISHED |
FAILED | CANCELED, and DOING_SAVEPOINT -> SAVEPOINT_DONE on a stop with savepoint.

The JSON body's `${VAR}` text is NOT resolved (SeaTunnel does not resolve JSON bodies). Knobs:
fail (an errorMsg: the job fails at its last source), slow (seconds before each source),
expire_history (a finished job is forgotten at once), lower_camel_metrics (docs-style keys),
version (the release emulated and reported by /overview).
Request bodies are never logged; `requests` records method and path only.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aurumplan.executors.seatunnel.reader import ConfigReadError, read_config
from tests.doubles.seatunnel.engine import DEFAULT_VERSION, JobCancelled, JobFailed, run_job

FINAL = {"FINISHED", "FAILED", "CANCELED", "SAVEPOINT_DONE", "UNKNOWABLE"}


def _now() -> str:
    return dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


class _Job:
    def __init__(self, job_id: str, name: str, config: dict[str, Any]) -> None:
        self.id, self.name, self.config = job_id, name, config
        self.status = "CREATED"
        self.create_time = _now()
        self.finish_time: str | None = None
        self.error: str | None = None
        self.metrics: dict[str, str] = {}
        self.stop = threading.Event()
        self.savepoint = False
        self.done = threading.Event()


class FakeZetaServer:
    """The fake cluster; use as a context manager or start()/stop()."""

    def __init__(self, *, fail: str | None = None, slow: float = 0.0, expire_history: bool = False,
                 lower_camel_metrics: bool = False, version: str = DEFAULT_VERSION) -> None:
        self.fail, self.slow, self.expire_history, self.version = fail, slow, expire_history, version
        self.lower_camel_metrics = lower_camel_metrics
        self.jobs: dict[str, _Job] = {}
        self.submissions: list[tuple[str, str]] = []
        self.stops: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # lifecycle -----------------------------------------------------------------------------------
    def start(self) -> FakeZetaServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._serve(self, "GET")

            def do_POST(self) -> None:
                server._serve(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        for job in self.jobs.values():
            job.stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeZetaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def wait(self, job_id: str, timeout: float = 30.0) -> bool:
        """Block until the job ends (tests only)."""
        job = self.jobs.get(job_id)
        return job is not None and job.done.wait(timeout)

    # HTTP ----------------------------------------------------------------------------------------
    def _serve(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        self.requests.append((method, parts.path))
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length).decode("utf-8") if length else ""
        try:
            status, payload = self._route(method, parts.path, parse_qs(parts.query), body)
        except ValueError as exc:  # IllegalArgumentException -> 400
            status, payload = 400, {"status": "fail", "message": str(exc)}
        except Exception as exc:  # anything else -> 500
            status, payload = 500, {"status": "fail", "message": f"{type(exc).__name__}: {exc}"}
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: str) -> tuple[int, Any]:
        if method == "POST" and path == "/submit-job":
            return 200, self._submit(query, body)
        m = re.fullmatch(r"/(?:job-info|running-job)/(\d+)", path)
        if method == "GET" and m:
            return 200, self._info(m.group(1))
        if method == "POST" and path == "/stop-job":
            return 200, self._stop(body)
        if method == "GET" and path == "/running-jobs":
            return 200, [self._info(j.id) for j in list(self.jobs.values()) if j.status not in FINAL]
        if method == "GET" and path == "/overview":
            counts = {s: sum(j.status == s for j in self.jobs.values()) for s in ("FINISHED", "FAILED", "CANCELED")}
            return 200, {"projectVersion": self.version, "runningJobs": str(len(self.jobs) - sum(counts.values())),
                         "finishedJobs": str(counts["FINISHED"]), "failedJobs": str(counts["FAILED"]),
                         "cancelledJobs": str(counts["CANCELED"])}
        return 500, {"status": "fail", "message": f"Unsupported path {path}"}

    def _submit(self, query: dict[str, list[str]], body: str) -> dict[str, str]:
        fmt = (query.get("format") or ["json"])[0]
        if fmt != "json":
            raise ValueError(f"unsupported format {fmt} (this fake takes the JSON form)")
        if (query.get("isStartWithSavePoint") or ["false"])[0] == "true" and not query.get("jobId"):
            raise ValueError("Please provide jobId when start with save point.")
        try:
            config = read_config(body, fmt="json", name="submit-job")
        except ConfigReadError as exc:
            raise ValueError(str(exc)) from None
        job_id = (query.get("jobId") or [str(random.randrange(10**17, 10**18))])[0]
        if not job_id.isdigit():
            raise ValueError(f"jobId must be a number: {job_id}")
        env_name = config.get("env", {}).get("job", {}).get("name") if isinstance(config.get("env"), dict) else None
        name = (query.get("jobName") or [env_name or "SeaTunnel_Job"])[0]
        with self.lock:
            old = self.jobs.get(job_id)
            if old is not None and old.status not in FINAL:
                return {"jobId": job_id, "jobName": old.name}
            if old is not None:
                raise ValueError(f"The job id {job_id} has already been submitted and is not starting with a "
                                 "savepoint.")
            job = self.jobs[job_id] = _Job(job_id, name, config)
            self.submissions.append((job_id, name))
        threading.Thread(target=self._run, args=(job,), name=f"zeta-job-{job_id}", daemon=True).start()
        return {"jobId": job_id, "jobName": name}

    def _run(self, job: _Job) -> None:
        job.status = "RUNNING"
        try:
            totals = run_job(job.config, environ=None, log=lambda _lvl, _msg: None, should_stop=job.stop.is_set,
                             slow=self.slow, fail=self.fail, version=self.version)
            job.metrics = {"SourceReceivedCount": str(totals.read), "SinkWriteCount": str(totals.written),
                           "SourceReceivedBytes": str(totals.bytes), "SourceReceivedQPS": "0.0",
                           "SinkWriteQPS": "0.0"}
            job.status = "FINISHED"
        except JobCancelled:
            job.status = "SAVEPOINT_DONE" if job.savepoint else "CANCELED"
        except JobFailed as exc:
            job.error, job.status = str(exc), "FAILED"
        except Exception as exc:
            job.error, job.status = f"{type(exc).__name__}: {exc}", "FAILED"
        job.finish_time = _now()
        if self.expire_history:
            with self.lock:
                self.jobs.pop(job.id, None)
        job.done.set()

    def _info(self, job_id: str) -> dict[str, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            return {"jobId": job_id}
        metrics = job.metrics
        if self.lower_camel_metrics:
            metrics = {k[0].lower() + k[1:]: v for k, v in metrics.items()}
        info: dict[str, Any] = {"jobId": job.id, "jobName": job.name, "jobStatus": job.status,
                                "createTime": job.create_time, "jobDag": {"jobId": job.id, "vertexInfoMap": []},
                                "metrics": metrics}
        if job.status in FINAL:
            info.update(finishTime=job.finish_time, errorMsg=job.error)
        else:
            info.update(envOptions={}, pluginJarsUrls=[], isStartWithSavePoint=False)
        return info

    def _stop(self, body: str) -> dict[str, str]:
        data = json.loads(body or "{}")
        raw = data.get("jobId")
        if raw is None or not str(raw).isdigit():
            raise ValueError("jobId is required")
        job_id = str(raw)
        self.stops.append(data)
        job = self.jobs.get(job_id)
        if job is None:
            raise ValueError(f"Job {job_id} not found")
        if job.status not in FINAL:
            job.savepoint = bool(data.get("isStopWithSavePoint"))
            job.status = "DOING_SAVEPOINT" if job.savepoint else "CANCELING"
            job.stop.set()
        return {"jobId": job_id}
