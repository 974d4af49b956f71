"""The rate limiter an operation's workers share, built from the source's quota and the spec's rateLimit."""

from __future__ import annotations

import uuid
from typing import Any

from aurumplan.apply.ratelimit import RateLimiter
from aurumplan.catalog import SourceDef
from aurumplan.config import Quota
from aurumplan.plan.model import Settings
from aurumplan.state.waiters import PRIORITY


def make_limiter(source: SourceDef, settings: Settings, store: Any) -> RateLimiter:
    """One limiter per source for all workers; every grant is also reserved in the state store, so
    concurrent applies with the same key stay under the quota together, a lower priority yielding to a
    higher one waiting for the same source (state/waiters.py; docs/operations.md, "Priority").

    A source served from `recordings:` reaches no API and spends no quota: its limiter never waits
    and reserves nothing (offline examples run at full speed, examples/recordings/README.md).
    """
    if source.recordings:
        return RateLimiter.for_source(Quota(), source.headroom, "auto", source=source.name)
    holder, level = uuid.uuid4().hex, PRIORITY[settings.priority]  # its place in the quota queue
    return RateLimiter.for_source(source.quota, source.headroom, settings.rateLimit,
                                  source=source.name,
                                  reserve=lambda s, windows, _now: store.reserve_request(
                                      s, windows, holder=holder, priority=level))
