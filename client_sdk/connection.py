"""The SDK's connection to a hub: one gRPC channel (plain or TLS), every call signed by the
caller's key (signalhub.domain defines the bytes), and transient failures retried with
exponential backoff. `Client` and the operator's client are built on `_Connection`."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.message import Message

from signalhub import domain
from signalhub.v1 import coalition_pb2, common_pb2

from .errors import SignalhubError, error_from_rpc
from .signing import Signer

R = TypeVar("R", bound=Message)
RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
SignedPayload = (
    common_pb2.SubmissionBatch
    | common_pb2.OpinionChange
    | common_pb2.Retraction
    | coalition_pb2.WarningProposal
    | coalition_pb2.Appeal
    | coalition_pb2.ReviewDone
)
"""What a member signs into an envelope: each names its member and when it was made."""


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried: exponential backoff with full jitter."""

    attempts: int = 5
    initial_backoff_seconds: float = 0.2
    max_backoff_seconds: float = 5.0
    multiplier: float = 2.0
    max_wait_seconds: float = 60.0
    """A failure whose RetryInfo asks for a longer wait (a spent daily match budget, a member
    throttled as sweeping) is raised at once: so long a wait is the caller's to decide."""

    def waits_too_long(self, error: SignalhubError) -> bool:
        """Whether the hub asks `error`'s caller to wait longer than `max_wait_seconds`."""
        return (error.retry_after_seconds or 0.0) > self.max_wait_seconds

    def delays(self) -> Iterator[float]:
        """Sleeps before attempt 2, 3, ... (one fewer than attempts)."""
        backoff = self.initial_backoff_seconds
        for _ in range(self.attempts - 1):
            yield random.uniform(0, backoff)
            backoff = min(backoff * self.multiplier, self.max_backoff_seconds)


def _identity(data: bytes) -> bytes:
    return data


def load_key(key: Ed25519PrivateKey | str | Path) -> Ed25519PrivateKey:
    """A private key object, or one read from a key file."""
    if isinstance(key, Ed25519PrivateKey):
        return key
    try:
        return domain.read_private_key(Path(key))
    except FileNotFoundError:
        raise SignalhubError(f"no key file at {key}") from None
    except domain.InvalidValue as e:
        raise SignalhubError(str(e)) from None


@dataclass(frozen=True)
class TlsConfig:
    """TLS to the hub: the CA that issued its certificate and, for mTLS, this client's
    certificate and key (PEM files)."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        """The channel credentials these files make (SignalhubError when one is unreadable)."""
        if (self.cert is None) != (self.key is None):
            raise SignalhubError("a client certificate needs both its certificate and its key")
        try:
            return grpc.ssl_channel_credentials(
                root_certificates=self.ca.read_bytes() if self.ca else None,
                private_key=self.key.read_bytes() if self.key else None,
                certificate_chain=self.cert.read_bytes() if self.cert else None,
            )
        except OSError as e:
            raise SignalhubError(f"cannot read a TLS file: {e}") from None


class _Connection:
    """A channel plus signed, retried calls."""

    def __init__(
        self,
        endpoint: str,
        signer: Signer,
        timeout_seconds: float,
        retry: RetryPolicy,
        tls: TlsConfig | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.signer = signer
        self.timeout_seconds = timeout_seconds
        self.retry = retry
        options = [
            ("grpc.max_receive_message_length", domain.MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", domain.MAX_MESSAGE_BYTES),
        ]
        if tls is None:
            self.channel = grpc.insecure_channel(endpoint, options=options)
        else:
            self.channel = grpc.secure_channel(endpoint, tls.credentials(), options=options)

    def with_retries(self, attempt: Callable[[], R]) -> R:
        """Runs `attempt` until it succeeds, fails for good, or the attempts run out."""
        delays = self.retry.delays()
        while True:
            try:
                return attempt()
            except grpc.RpcError as e:
                error = error_from_rpc(e)
                if error.code not in RETRYABLE:
                    raise error from None
                delay = None if self.retry.waits_too_long(error) else next(delays, None)
                if delay is None:
                    raise error from None
                # The hub's RetryInfo (rate limit, full disk) says how long to wait at least.
                time.sleep(max(delay, error.retry_after_seconds or 0.0))

    def signed_unary(self, method: str, request: Message, response_cls: type[R]) -> R:
        """A metadata-signed unary call; each attempt is signed afresh (new nonce)."""
        raw = request.SerializeToString()
        call = self.channel.unary_unary(
            method, request_serializer=_identity, response_deserializer=response_cls.FromString
        )

        def attempt() -> R:
            result: R = call(
                raw, metadata=self.signer.call_metadata(method, raw), timeout=self.timeout_seconds
            )
            return result

        return self.with_retries(attempt)

    def signed_command(
        self,
        method: str,
        prefix: bytes,
        payload: SignedPayload,
        request_cls: type[Message],
        response_cls: type[R],
    ) -> R:
        """A unary call whose request carries `payload` in an envelope signed with `prefix`,
        retried like `signed_unary`. The payload is stamped with the signer's member id and,
        on every attempt, a fresh created_at."""
        call = self.channel.unary_unary(
            method, request_serializer=_identity, response_deserializer=response_cls.FromString
        )

        def attempt() -> R:
            # Re-signed on every attempt: a fresh created_at (the same request id, so the hub
            # answers a retry from its first answer) and fresh call metadata.
            signer = self.signer
            payload.member_id = signer.member_id
            payload.created_at.CopyFrom(signer.now())
            envelope = signer.sign_payload(prefix, payload.SerializeToString())
            request = request_cls()
            getattr(request, "envelope").CopyFrom(envelope)  # noqa: B009 (any request class)
            raw = request.SerializeToString()
            metadata = signer.call_metadata(method, raw)
            result: R = call(raw, metadata=metadata, timeout=self.timeout_seconds)
            return result

        return self.with_retries(attempt)

    def signed_stream(
        self, method: str, raw: bytes, response_deserializer: Callable[[bytes], Any]
    ) -> Any:
        """One metadata-signed server-streaming call of `method` with the serialised request
        `raw`, not retried: the caller knows where a dropped stream resumes. Returns the
        call, an iterator of responses that can be cancelled."""
        call = self.channel.unary_stream(
            method, request_serializer=_identity, response_deserializer=response_deserializer
        )
        return call(raw, metadata=self.signer.call_metadata(method, raw))

    def close(self) -> None:
        """Closes the channel."""
        self.channel.close()
