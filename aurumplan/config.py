"""Project configuration: `aurumplan.yaml` (CONTRACT §1) plus environment overrides.

Every key is optional; with no file at all aurumplan runs on the embedded default (SQLite
state and warehouse under `.aurumplan/`, the local executor). Keys are never stored here,
only the *names* of the environment variables that hold them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aurumplan.errors import ConfigError, Diagnostic
from aurumplan.yamlpos import YamlSyntaxError, load_yaml, validation_diagnostics

CONFIG_NAME = "aurumplan.yaml"
DEFAULT_STATE = "sqlite:///.aurumplan/state.db"
DEFAULT_WAREHOUSE = "sqlite:///.aurumplan/warehouse.db"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Quota(_Model):
    """Requests allowed per window; any subset of the four windows."""

    per_second: float | None = Field(default=None, gt=0)
    per_minute: float | None = Field(default=None, gt=0)
    per_hour: float | None = Field(default=None, gt=0)
    per_day: float | None = Field(default=None, gt=0)

    def windows(self) -> list[tuple[float, float]]:
        """(window seconds, allowed requests) for each window set."""
        pairs = [(1.0, self.per_second), (60.0, self.per_minute), (3600.0, self.per_hour),
                 (86400.0, self.per_day)]
        return [(w, float(n)) for w, n in pairs if n is not None]


class SourceConfig(_Model):
    """Per-source settings; every key overrides the built-in catalog."""

    driver: str | None = Field(default=None, description="driver of a source the config adds (eia, fred, ...)")
    base_url: str | None = None
    api_key_env: str | None = Field(default=None, description="name of the environment variable with the key")
    quota: Quota | None = None
    headroom: float | None = Field(default=None, description="share of the tightest quota rateLimit: auto uses")
    recordings: str | None = Field(default=None, description="folder of recorded responses to serve offline")
    limits: dict[str, Any] | None = Field(default=None, description="per-request limits, e.g. max_rows")
    frozen: bool = Field(default=False, description="refuse every write to this source")
    datasets: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not v.replace("_", "").isalnum():
            raise ValueError("api_key_env names an environment variable (e.g. EIA_API_KEY), not a key")
        return v


class SeaTunnelConfig(_Model):
    home: str | None = None
    rest_url: str | None = None
    deploy_mode: Literal["local", "cluster"] = "cluster"
    version: str = "2.3.12"
    jdbc_url: str | None = Field(default=None, description="the warehouse as SeaTunnel's Jdbc sink reaches it")
    poll_interval: float = 2.0


class CostConfig(_Model):
    """Prices `aurumplan cost` multiplies figures by; all 0 by default (the APIs are free). docs/operations.md"""

    currency: str = "USD"
    per_1000_requests: dict[str, float] = Field(default_factory=dict, description="price per 1,000 calls, by source")
    per_gb: float = Field(default=0.0, ge=0, description="price per GB of responses received")
    per_hour: float = Field(default=0.0, ge=0, description="price per hour of operation wall time")


class AlertChannel(_Model):
    """Where alerts go; secrets (webhook URLs, routing keys, SMTP passwords) come from named env variables."""

    type: Literal["slack", "pagerduty", "webhook", "email"]
    url_env: str | None = Field(default=None, description="env variable with the webhook URL (slack, webhook)")
    url: str | None = Field(default=None, description="a URL that is no secret (pagerduty: the Events API v2 URL)")
    routing_key_env: str | None = Field(default=None, description="env variable with the PagerDuty routing key")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password_env: str | None = None
    starttls: bool = False
    mail_from: str = "aurumplan@localhost"
    mail_to: list[str] = Field(default_factory=list)


class AlertRule(_Model):
    """One condition over the state, its channels, and when to escalate."""

    name: str
    when: Literal["status", "interrupted", "duration", "error_rate", "quota", "freshness"]
    statuses: list[str] = Field(default_factory=lambda: ["failed", "halted"], description="when: status")
    minutes: float = Field(default=15.0, ge=0, description="interrupted or running longer; freshness: data older")
    threshold: float = Field(default=0.05, ge=0, description="error_rate above it; quota: share of the day used")
    window_minutes: float = Field(default=60.0, gt=0, description="when: error_rate, over ended operations")
    source: str | None = None
    severity: Literal["info", "warning", "critical"] = "warning"
    channels: list[str] = Field(default_factory=list)
    repeat_minutes: float | None = Field(default=None, gt=0, description="notify again while it stays firing")
    escalate_after_minutes: float | None = Field(default=None, ge=0)
    escalate_to: list[str] = Field(default_factory=list, description="channels added once escalated")


class AlertsConfig(_Model):
    channels: dict[str, AlertChannel] = Field(default_factory=dict)
    rules: list[AlertRule] = Field(default_factory=list)


QUALITY_CHECKS = ("completeness", "accuracy", "consistency", "schema")


class CheckParams(_Model):
    """Parameters of the built-in checks a profile may set (docs/quality.md, "Quality profiles")."""

    window_size: int | None = Field(default=None, ge=2, description="accuracy: outlier window, in periods")
    sensitivity: float | None = Field(default=None, gt=0, le=1, description="accuracy: outlier sensitivity")
    threshold: float | None = Field(default=None, gt=0, description="accuracy: outlier cut-off (MADs); wins "
                                                                    "over sensitivity")
    revision_band: float | None = Field(default=None, gt=0, description="consistency: largest relative revision "
                                                                        "not flagged")


class QualityProfile(_Model):
    """A named gate: which checks, their threshold, weights and parameters (docs/quality.md)."""

    description: str = ""
    checks: list[Literal["completeness", "accuracy", "consistency", "schema"]] | None = Field(
        default=None, min_length=1, description="checks to run; a spec's own validation.checks wins")
    threshold: float | None = Field(default=None, ge=0, le=1,
                                    description="minimum score; a spec's own validation.threshold wins")
    weights: dict[str, float] = Field(default_factory=dict,
                                      description="weight per check name or validation script path")
    params: CheckParams = Field(default_factory=CheckParams)

    @field_validator("weights")
    @classmethod
    def _weight_names(cls, v: dict[str, float]) -> dict[str, float]:
        for name, w in v.items():
            if name not in QUALITY_CHECKS and not name.endswith(".py"):
                raise ValueError(f"weights: '{name}' is neither a check ({', '.join(QUALITY_CHECKS)}) "
                                 "nor a validation script path (checks/x.py)")
            if w < 0:
                raise ValueError(f"weights: '{name}' is negative; weights are >= 0")
        return v


class Config(_Model):
    """The whole project configuration, resolved against its folder."""

    state: str = DEFAULT_STATE
    warehouse: str = DEFAULT_WAREHOUSE
    executor: Literal["local", "seatunnel-cli", "seatunnel-rest"] = "local"
    seatunnel: SeaTunnelConfig = Field(default_factory=SeaTunnelConfig)
    parse_workers: int | None = Field(
        default=None, ge=0, description="processes that decode pages and build rows for the local executor: 0 = "
        "none (the fetching threads do it), unset = one per core beyond the first for an operation of at least "
        "50,000 planned records; with any, a judge worker also validates staged chunks (docs/architecture.md, "
        "\"Staging\")")
    logs: str = Field(default=".aurumplan/logs", description="operation logs and failure logs")
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    costs: CostConfig = Field(default_factory=CostConfig, description="prices for `aurumplan cost`")
    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description="rules and channels of `serve --alerts`")
    quality_profiles: dict[str, QualityProfile] = Field(
        default_factory=dict, description="named quality gates a spec selects with qualityProfile")
    root: str = Field(default=".", description="folder relative paths resolve against (set by the loader)")
    file: str | None = Field(default=None, description="the file this was read from (set by the loader)")

    def path(self, p: str) -> Path:
        """A path from the config, resolved against the project root."""
        q = Path(p)
        return q if q.is_absolute() else Path(self.root) / q

    def db_url(self, url: str) -> str:
        """A SQLAlchemy URL with a relative SQLite path resolved against the project root."""
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.path(url[len(prefix):]))
        return url

    @property
    def state_url(self) -> str:
        return self.db_url(self.state)

    @property
    def warehouse_url(self) -> str:
        return self.db_url(self.warehouse)

    def source(self, name: str) -> SourceConfig:
        return self.sources.get(name) or SourceConfig()


def find_config(start: Path) -> Path | None:
    """aurumplan.yaml in start or its parents."""
    for folder in [start, *start.parents]:
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def _env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    data = dict(data)
    for key, name in (("state", "AURUMPLAN_STATE_URL"), ("warehouse", "AURUMPLAN_WAREHOUSE_URL"),
                      ("executor", "AURUMPLAN_EXECUTOR")):
        if env.get(name):
            data[key] = env[name]
    given = data.get("sources") or {}
    if not isinstance(given, dict) or not all(isinstance(v, dict | None) for v in given.values()):
        return data  # a wrong shape: the model reports it at its line
    sources = {k: dict(v or {}) for k, v in given.items()}
    for name, value in env.items():
        if not name.startswith("AURUMPLAN_") or not value:
            continue
        for suffix, key in (("_BASE_URL", "base_url"), ("_RECORDINGS", "recordings")):
            if name.endswith(suffix):
                src = name[len("AURUMPLAN_"):-len(suffix)].lower()
                if src and src not in ("state", "warehouse"):
                    sources.setdefault(src, {})[key] = value
    if sources:
        data["sources"] = sources
    return data


def load_config(path: str | Path | None = None, *, cwd: str | Path | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    """Read the config (explicit path, AURUMPLAN_CONFIG, or found upward from cwd)."""
    env = os.environ if env is None else env
    here = Path(cwd or os.getcwd()).resolve()
    if path is None and env.get("AURUMPLAN_CONFIG"):
        path = env["AURUMPLAN_CONFIG"]
    file: Path | None
    if path is not None:
        file = Path(path)
        if not file.is_absolute():
            file = here / file
        if not file.is_file():
            raise ConfigError([Diagnostic(str(path), 1, 1, "config file not found")])
    else:
        file = find_config(here)
    data: dict[str, Any] = {}
    doc = None
    if file is not None:
        try:
            doc = load_yaml(file.read_text(encoding="utf-8"), str(file))
        except YamlSyntaxError as exc:
            raise ConfigError(exc.diagnostics) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([Diagnostic(str(file), 1, 1, f"cannot read the config: {exc}")]) from None
        if doc.data is not None and not isinstance(doc.data, dict):
            raise ConfigError([doc.diag((), "aurumplan.yaml must be a mapping of settings")])
        data = dict(doc.data or {})
    root = file.parent if file is not None else here
    data = _env_overrides(data, env)
    data["root"] = str(root)
    data["file"] = str(file) if file else None
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        if doc is None:
            raise ConfigError([Diagnostic("environment", 1, 1, str(e["msg"])) for e in err.errors()]) from None
        raise ConfigError(validation_diagnostics(err, doc, Config)) from None
