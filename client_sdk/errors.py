"""The SDK's errors: one class per canonical status a caller may want to handle, each carrying
the hub's message and field violations."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2


class SignalhubError(Exception):
    """Any failure reported by the hub or met on the way to it."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        violations: list[tuple[str, str]] | None = None,
        code: grpc.StatusCode | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.violations = violations or []
        self.retry_after_seconds = retry_after_seconds
        """From google.rpc.RetryInfo: how long the hub asks the caller to wait."""
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        if not self.violations:
            return self.message
        field, description = self.violations[0]
        if field in self.message or description in self.message:
            return self.message
        return f"{self.message} ({field}: {description})"


class InvalidArgument(SignalhubError):
    """The hub refused a value of the request; `violations` names each field (and index) and why."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class Unauthenticated(SignalhubError):
    """The call did not prove who is calling: an unknown or revoked key, a bad signature, a
    timestamp outside the hub's window, a nonce already used."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(SignalhubError):
    """The caller is known but may not do this: a suspended or removed member, an operator
    call with a member's key, a certificate naming another member (mTLS)."""

    code = grpc.StatusCode.PERMISSION_DENIED


class NotFound(SignalhubError):
    """What the call names (a signal, a member, a key) does not exist, or not for the caller."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(SignalhubError):
    """What the call would create exists already (a member id, a key)."""

    code = grpc.StatusCode.ALREADY_EXISTS


class ResourceExhausted(SignalhubError):
    """A rate or concurrency limit, or a full store; `retry_after_seconds` says how long to
    wait. Retried by the SDK."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(SignalhubError):
    """The hub cannot be reached or is not serving just now. Retried by the SDK."""

    code = grpc.StatusCode.UNAVAILABLE


class DataLoss(SignalhubError):
    """The hub found a stored record corrupt and refused to serve it: its operator must check
    and restore the store (the message says what to run). Not retried."""

    code = grpc.StatusCode.DATA_LOSS


class SnapshotRejected(SignalhubError):
    """A snapshot that does not verify (digest, signature, hub key, shape): nothing of it is
    kept. Raised by the SDK itself, not by the hub."""

    code = grpc.StatusCode.DATA_LOSS


_BY_CODE: dict[grpc.StatusCode, type[SignalhubError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        Unauthenticated,
        PermissionDenied,
        NotFound,
        AlreadyExists,
        ResourceExhausted,
        Unavailable,
        DataLoss,
    )
}


def error_from_rpc(error: grpc.RpcError) -> SignalhubError:
    """Converts a gRPC error (with google.rpc.Status details, when present) to the SDK's."""
    code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
    message = (error.details() if isinstance(error, grpc.Call) else str(error)) or code.name
    violations: list[tuple[str, str]] = []
    retry_after: float | None = None
    if isinstance(error, grpc.Call):
        for key, value in error.trailing_metadata() or ():
            if key == "grpc-status-details-bin" and isinstance(value, bytes):
                status = status_pb2.Status.FromString(value)
                for detail in status.details:
                    if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                        bad = error_details_pb2.BadRequest()
                        detail.Unpack(bad)
                        violations += [(v.field, v.description) for v in bad.field_violations]
                    elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                        info = error_details_pb2.RetryInfo()
                        detail.Unpack(info)
                        retry_after = info.retry_delay.ToMilliseconds() / 1000
    cls = _BY_CODE.get(code, SignalhubError)
    return cls(message, violations, code, retry_after)
