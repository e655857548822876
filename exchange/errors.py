"""The hub's one error type: a canonical gRPC code, a message for humans, field violations for
bad input and, for authentication failures, the metric reason."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc


@dataclass
class HubError(Exception):
    """An RPC failure to report to the caller as a google.rpc.Status."""

    code: grpc.StatusCode
    message: str
    violations: list[tuple[str, str]] = field(default_factory=list)
    """(field path, description) pairs, sent as google.rpc.BadRequest field violations."""
    auth_reason: str | None = None
    """Set on authentication and authorisation failures: the `reason` label of
    signalhub_auth_failures_total."""
    retry_after_seconds: float | None = None
    """Sent as google.rpc.RetryInfo: when the caller may try again (rate limits, full disk)."""
    answer: str | None = None
    """What the caller is told, when it must be less than `message` (which is logged)."""

    def __str__(self) -> str:
        return self.message


def invalid(message: str, violations: list[tuple[str, str]]) -> HubError:
    """INVALID_ARGUMENT with field violations."""
    return HubError(grpc.StatusCode.INVALID_ARGUMENT, message, violations)


def unauthenticated(message: str, reason: str) -> HubError:
    """UNAUTHENTICATED: the call does not prove who makes it; `reason` labels the metric."""
    return HubError(grpc.StatusCode.UNAUTHENTICATED, message, auth_reason=reason)


def permission_denied(message: str, reason: str) -> HubError:
    """PERMISSION_DENIED: the caller is known but may not do this; `reason` labels the metric."""
    return HubError(grpc.StatusCode.PERMISSION_DENIED, message, auth_reason=reason)


RESTORE_ADVICE = (
    "run `signalhub admin check --data-dir DATA_DIR` and `signalhub audit verify --data-dir "
    "DATA_DIR` on the hub, and restore a backup (`signalhub admin restore BACKUP --data-dir "
    "DATA_DIR --force`)"
)
"""What the operator should do about a corrupt store (DATA_DIR, BACKUP: theirs to fill in)."""


def data_loss(what: str, table: str = "") -> HubError:
    """DATA_LOSS for a stored record that is corrupt: `what` says which and how (for the
    operator's log and tools). The caller is told only that a record of `table` is: which
    one would tell a member that a signal it may not see exists."""
    where = f" of the {table} table" if table else ""
    return HubError(
        grpc.StatusCode.DATA_LOSS,
        f"{what}; {RESTORE_ADVICE}",
        answer=f"a stored record{where} is corrupt; {RESTORE_ADVICE}",
    )
