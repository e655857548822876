"""Flood quarantine as the hub runs it (issue 21.2): the node's match counts logged every few
seconds (exchange.match_counts; apply decides quarantine from them), the quarantine flag on
match answers, the operator's list and decision, and the metrics."""

from __future__ import annotations

import asyncio
import logging

from signalhub.v1 import admin_pb2, exchange_pb2

from ..store import StoreView
from .context import Hub

log = logging.getLogger(__name__)


async def log_match_counts(hub: Hub) -> int:
    """Logs the matches counted since the last call (one entry per MAX_COUNTS_PER_ENTRY pairs);
    returns how many entries. Counts whose entry fails are kept for the next call."""
    commands = hub.tally.take(hub.quarantine)
    done = 0
    for i, command in enumerate(commands):
        try:
            await hub.log.execute(hub.log_entry(match_counts=command))
        except Exception:
            hub.tally.restore(commands[i:])
            log.exception("logging match counts failed; kept for the next flush")
            break
        done += 1
    if done:
        refresh_metrics(hub)
    hub.metrics.match_counts_dropped.set(hub.tally.dropped)
    return done


async def log_match_counts_periodically(hub: Hub, interval: float) -> None:
    """Logs the node's match counts every `interval` seconds."""
    while True:
        await asyncio.sleep(interval)
        await log_match_counts(hub)


def flag_quarantined(result: exchange_pb2.QueryMatches, drop: bool) -> int:
    """Flags a query's matches of quarantined signals; drops them when `drop` (counted in
    `excluded_quarantined`). Returns how many it flagged."""
    flagged = 0
    kept = []
    for match in result.matches:
        if match.signal.quarantined:
            flagged += 1
            match.quarantined = True
            if drop:
                result.excluded_quarantined += 1
                continue
        kept.append(match)
    if drop and flagged:
        del result.matches[:]
        result.matches.extend(kept)
    return flagged


def list_quarantined(view: StoreView) -> admin_pb2.ListQuarantinedResponse:
    """The signals in quarantine, oldest quarantine first."""
    held = sorted(view.quarantine(), key=lambda q: (q.log_sequence, q.signal.signal_id))
    return admin_pb2.ListQuarantinedResponse(signals=[q.signal for q in held])


def refresh_metrics(hub: Hub) -> None:
    """Sets the quarantine gauge from the store."""
    with hub.store.read() as view:
        hub.metrics.signals_quarantined.set(len(view.quarantine()))
