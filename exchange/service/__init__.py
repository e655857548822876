"""What each RPC means, one module per RPC family. The servicers (`servicers`) take parsed
requests (with their raw bytes, which the per-call signature covers), ask `auth` who is calling
and call the plain function that means the RPC: `submissions` hands commands to the writer,
`query_plan` and `matching` search the index, `feed` and `feed_events` read the feed,
`snapshots`, `signals`, `reports` and `admin` the rest; `context` holds what they share (the
`Hub`). Errors are raised as HubError; `server` turns them into statuses.

The names other modules, tests and docs/costs.md use are importable from here.
"""

from .context import FeedNotifier, Hub, RawRequest, parsed, sign_head
from .feed import FEED_PAGE_EVENTS, FOLLOW_LINGER_SECONDS, FOLLOW_WAKE_SECONDS
from .feed_events import event_for as _event_for
from .matching import (
    MAX_ANSWER_BYTES,
    MAX_LINKED,
    MAX_LINKED_CASES_PER_CALL,
    MAX_LINKED_PER_CALL,
    MAX_MATCHES_PER_CALL,
    MAX_MATCHES_PER_QUERY,
    _cut_to_budget,
)
from .query_plan import MatchPlan, VideoThresholds, plan_match
from .reports import MAX_REPORT_DAYS, member_usage
from .servicers import AdminService, ExchangeService
from .signals import ENVELOPE_BYTES_PER_PAGE, SUBMISSIONS_PAGE_MAX, signal_types_response

__all__ = [
    "ENVELOPE_BYTES_PER_PAGE",
    "FEED_PAGE_EVENTS",
    "FOLLOW_LINGER_SECONDS",
    "FOLLOW_WAKE_SECONDS",
    "MAX_ANSWER_BYTES",
    "MAX_LINKED",
    "MAX_LINKED_CASES_PER_CALL",
    "MAX_LINKED_PER_CALL",
    "MAX_MATCHES_PER_CALL",
    "MAX_MATCHES_PER_QUERY",
    "MAX_REPORT_DAYS",
    "SUBMISSIONS_PAGE_MAX",
    "AdminService",
    "ExchangeService",
    "FeedNotifier",
    "Hub",
    "MatchPlan",
    "RawRequest",
    "VideoThresholds",
    "_cut_to_budget",
    "_event_for",
    "member_usage",
    "parsed",
    "plan_match",
    "sign_head",
    "signal_types_response",
]
