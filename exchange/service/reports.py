"""Reports and usage: a member's report over a period (GetMemberReport, built in a worker
process by exchange.report_worker) and each member's usage counts (Admin GetMemberUsage), with
the period checks both share."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import grpc

from signalhub.v1 import admin_pb2, exchange_pb2

from .. import usage
from ..auth import Caller
from ..errors import HubError, invalid
from ..report_worker import ReportWorkers
from ..store import StoreView
from .context import Hub

MAX_REPORT_DAYS = 366
USAGE_DEFAULT_DAYS = 30
EPOCH = date(1970, 1, 1)


async def member_report(
    hub: Hub,
    workers: ReportWorkers,
    caller: Caller,
    message: exchange_pb2.GetMemberReportRequest,
) -> exchange_pb2.GetMemberReportResponse:
    """The caller's report over the request's days, as JSON."""
    first, last = report_period(message)
    # One report at a time per member, in a process of its own: a report replays the log,
    # and in the hub's threads it would hold the GIL against matching.
    with hub.reports.hold(caller.member_id, caller.is_operator):
        text = await workers.member_report(caller.member_id, first, last)
    return exchange_pb2.GetMemberReportResponse(report_json=text)


def report_period(
    message: exchange_pb2.GetMemberReportRequest | admin_pb2.GetMemberUsageRequest,
) -> tuple[date, date]:
    """The request's first and last days (YYYY-MM-DD, at most MAX_REPORT_DAYS apart), or
    INVALID_ARGUMENT naming the bad field."""
    days: list[date] = []
    violations: list[tuple[str, str]] = []
    for name in ("first_day", "last_day"):
        text = getattr(message, name)
        try:
            if len(text) != 10:
                raise ValueError
            days.append(date.fromisoformat(text))
        except ValueError:
            violations.append((name, f"a day as YYYY-MM-DD is required, got {text[:40]!r}"))
    if not violations:
        first, last = days
        if last < first:
            violations.append(("last_day", "the period ends before it starts"))
        elif (last - first).days >= MAX_REPORT_DAYS:
            violations.append(("last_day", f"a report covers at most {MAX_REPORT_DAYS} days"))
    if violations:
        raise invalid(f"invalid period: {violations[0][0]}: {violations[0][1]}", violations)
    return days[0], days[1]


def usage_period(message: admin_pb2.GetMemberUsageRequest) -> tuple[date, date]:
    """GetMemberUsage's days: as a report's, where an empty last_day is today (UTC) and an
    empty first_day is USAGE_DEFAULT_DAYS days up to last_day."""
    today = datetime.now(UTC).date()
    filled = admin_pb2.GetMemberUsageRequest(
        first_day=message.first_day, last_day=message.last_day or today.isoformat()
    )
    if not filled.first_day:
        try:
            anchor = date.fromisoformat(filled.last_day)
        except ValueError:
            anchor = today  # a bad last_day is refused, naming it alone
        filled.first_day = (anchor - timedelta(days=USAGE_DEFAULT_DAYS - 1)).isoformat()
    return report_period(filled)


def member_usage(
    view: StoreView, member_id: str, first: date, last: date
) -> admin_pb2.GetMemberUsageResponse:
    """Each member's usage (or one's: NOT_FOUND when unknown) over days first..last, from the
    usage counts (exchange.usage: written every few seconds, so the newest seconds are not
    in them) and the live-submission counters (exchange.store). Costs one walk over the
    period's `s` and `q` records (days x members) plus one lookup per member."""
    if member_id:
        member = view.member(member_id)
        if member is None:
            raise HubError(grpc.StatusCode.NOT_FOUND, f"no member {member_id!r}")
        members = [member]
    else:
        members = view.members("", 1 << 31)
    response = admin_pb2.GetMemberUsageResponse(
        first_day=first.isoformat(), last_day=last.isoformat()
    )
    rows: dict[str, admin_pb2.MemberUsage] = {}
    for m in members:
        row = response.usage.add(
            member_id=m.member_id, live_submissions=view.live_submissions(m.member_id)
        )
        seen = view.stat(usage.last_seen_key(m.member_id))
        if seen is not None:
            row.last_seen.FromMilliseconds(usage.decode_last_seen(seen))
        rows[m.member_id] = row
    first_day, last_day = (first - EPOCH).days, (last - EPOCH).days
    for key, value in view.stats(usage.SUBMISSIONS, first_day, last_day):
        s = usage.decode_submissions(key, value)
        if s.member_id in rows:
            rows[s.member_id].signals_submitted += s.signals
            rows[s.member_id].batches += s.batches
    for key, value in view.stats(usage.QUERIES, first_day, last_day):
        q = usage.decode_queries(key, value)
        if q.member_id in rows:
            rows[q.member_id].queries += q.queries
            rows[q.member_id].queries_with_match += q.matched
    return response
