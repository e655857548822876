"""The member SDK: `Client` signs, batches, retries, matches and follows the feed; `hashing`
computes PDQ of images; `cli` is the member side of the `signalhub` command. Never imports
`exchange`."""

from .batching import Batcher
from .client import AdminClient, Client, RetryPolicy, Subscription, TlsConfig
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
from .models import FeedEvent, Match, MatchResult, Signal, SignalDetail, SignalInfo, SubmitResult

__all__ = [
    "AdminClient",
    "AlreadyExists",
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
