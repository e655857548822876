"""The member SDK: `Client` signs, batches, retries, matches and follows the feed; `AdminClient`
(`admin`) is the operator's, returning the values of `admin_models`; `hashing` computes PDQ of
images; `interchange` reads and writes hash lists (CSV, JSONL, pytx); `cli` is the member and
operator side of the `signalhub` command. Never imports `exchange`."""

from .admin import AdminClient
from .batching import Batcher
from .client import Client, RetryPolicy, Subscription, TlsConfig
from .errors import (
    AlreadyExists,
    DataLoss,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    SignalhubError,
    SnapshotRejected,
    Unauthenticated,
    Unavailable,
)
from .hashing import PDQHash, pdq_from_image
from .models import (
    AppealResult,
    FeedEvent,
    Match,
    MatchResult,
    Signal,
    SignalDetail,
    SignalInfo,
    SubmitResult,
)
from .review_models import ReviewNotice
from .warnings import WarningEntry, WarningList, WarningLists

__all__ = [
    "WarningEntry",
    "WarningList",
    "WarningLists",
    "AdminClient",
    "AlreadyExists",
    "AppealResult",
    "Batcher",
    "Client",
    "FeedEvent",
    "InvalidArgument",
    "Match",
    "MatchResult",
    "NotFound",
    "PDQHash",
    "PermissionDenied",
    "ResourceExhausted",
    "RetryPolicy",
    "ReviewNotice",
    "Signal",
    "SignalDetail",
    "SignalInfo",
    "SignalhubError",
    "DataLoss",
    "SnapshotRejected",
    "SubmitResult",
    "Subscription",
    "TlsConfig",
    "Unauthenticated",
    "Unavailable",
    "pdq_from_image",
]
