"""Broker operations only tests need, written on the broker's public API."""

from __future__ import annotations

import time

from neuralis.execution import Broker


def cull_idle(broker: Broker, max_idle: float) -> list[str]:
    """Shut down idle kernels whose last run ended more than ``max_idle`` seconds ago (or that
    never ran one); return their notebooks. The app culls by browser session instead
    (neuralis/session/browsers.py)."""
    now = time.time()
    idle = []
    for key in broker.notebooks():
        if broker.kernel_status(key) != "idle" or broker.busy(key):
            continue
        ends = [r.ended_at for r in broker.records(key).values() if r.ended_at is not None]
        if ends and now - max(ends) <= max_idle:
            continue
        idle.append(key)
    for key in idle:
        broker.shutdown(key)
    return idle
