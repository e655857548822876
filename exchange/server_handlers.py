"""How the servicers' methods become gRPC handlers: every method of a service is routed to the
servicer method of the same name, built from the service's descriptor rather than with the
generated `add_*_to_server`, so that each method's deserializer keeps the exact request bytes
(the per-call signature covers them) and a request that does not parse becomes
INVALID_ARGUMENT instead of gRPC's INTERNAL. Here too: HubError to status (with
google.rpc.Status details), the request id, the access log and the per-RPC metrics, and
letting go of a stream whose subscriber stopped reading."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from .auth import CERTIFICATE_MEMBER
from .errors import HubError
from .logs import request_id
from .metrics import HubMetrics
from .service import RawRequest
from .tls import certificate_member

log = logging.getLogger("signalhub.server")
access_log = logging.getLogger("signalhub.access")
REQUEST_ID_HEADER = "x-signalhub-request-id"


def _deserializer(cls: type[Message]) -> Callable[[bytes], RawRequest[Any]]:
    """Keeps a request's bytes as they came; they are parsed once the call is authenticated."""

    def parse(raw: bytes) -> RawRequest[Any]:
        return RawRequest(raw, cls)  # parsed after the call is authenticated

    return parse


async def _abort(context: grpc.aio.ServicerContext[Any, Any], error: HubError) -> None:
    """Ends the call with the error's code, message and google.rpc.Status details
    (BadRequest field violations, RetryInfo) and the request id."""
    message = error.answer if error.answer is not None else error.message
    status = status_pb2.Status(code=error.code.value[0], message=message)
    if error.violations:
        detail = any_pb2.Any()
        detail.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                    for f, d in error.violations
                ]
            )
        )
        status.details.append(detail)
    if error.retry_after_seconds is not None:
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(int(error.retry_after_seconds * 1000))
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        status.details.append(detail)
    await context.abort(
        error.code,
        message,
        trailing_metadata=(
            ("grpc-status-details-bin", status.SerializeToString()),
            (REQUEST_ID_HEADER, request_id.get()),
        ),
    )


def _metadata(
    context: grpc.aio.ServicerContext[Any, Any], bind_certificate: bool
) -> Mapping[str, str | bytes]:
    """The call's metadata; with `bind_certificate` (mTLS), plus the member its client
    certificate names under CERTIFICATE_MEMBER ("" for none), for Hub.authenticate to hold
    the signed member to. A client can send any key, so its own value of that one is dropped."""
    metadata: dict[str, str | bytes] = {
        key: value
        for key, value in (context.invocation_metadata() or ())
        if key != CERTIFICATE_MEMBER
    }
    if bind_certificate:
        pem = (context.auth_context() or {}).get("x509_pem_cert") or [b""]
        metadata[CERTIFICATE_MEMBER] = certificate_member(pem[0]) or ""
    return metadata


class RpcHandlers(grpc.GenericRpcHandler):  # type: ignore[misc]
    """Routes every method of the given services to the servicer method of the same name."""

    def __init__(
        self,
        metrics: HubMetrics,
        services: list[tuple[Any, object]],
        stall_seconds: float = 30.0,
        bind_certificate: bool = False,
    ) -> None:
        self._metrics = metrics
        # mTLS: calls must be signed as the member their client certificate names.
        self._bind_certificate = bind_certificate
        self._stall_seconds = stall_seconds
        self._methods: dict[str, grpc.RpcMethodHandler] = {}
        for descriptor, servicer in services:
            for method in descriptor.methods:
                full = f"/{descriptor.full_name}/{method.name}"
                fn = getattr(servicer, method.name, None)
                if fn is None:  # not served: gRPC answers UNIMPLEMENTED
                    continue
                self._methods[full] = self._handler(full, method, fn)

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        """The handler of the called method (None: UNIMPLEMENTED)."""
        return self._methods.get(handler_call_details.method)

    def _observe(
        self, method: str, code: grpc.StatusCode, started: float, error: HubError | None
    ) -> None:
        elapsed = time.perf_counter() - started
        self._metrics.rpc_requests.labels(method, code.name).inc()
        self._metrics.rpc_duration.labels(method).observe(elapsed)
        if error is not None and error.auth_reason:
            self._metrics.auth_failures.labels(error.auth_reason).inc()
        # The access log: method, code and time only, never request contents.
        fields = {"method": method, "code": code.name, "duration_ms": round(elapsed * 1000, 3)}
        access_log.info("rpc", extra=fields)

    @staticmethod
    def _begin(context: grpc.aio.ServicerContext[Any, Any]) -> float:
        """Gives the call a request id (logged with every line of it, and sent to the caller
        as x-signalhub-request-id so a member can quote it to the operator)."""
        rid = uuid.uuid4().hex[:16]
        request_id.set(rid)
        context.set_trailing_metadata(((REQUEST_ID_HEADER, rid),))
        return time.perf_counter()

    def _handler(self, full: str, method: MethodDescriptor, fn: Any) -> grpc.RpcMethodHandler:
        request_cls = message_factory.GetMessageClass(method.input_type)
        if method.server_streaming:
            return self._stream_handler(full, method.name, request_cls, fn)
        return self._unary_handler(full, method.name, request_cls, fn)

    def _stream_handler(
        self, full: str, name: str, request_cls: type[Message], fn: Any
    ) -> grpc.RpcMethodHandler:
        async def stream(
            request: RawRequest[Any], context: grpc.aio.ServicerContext[Any, Any]
        ) -> None:
            started = self._begin(context)
            try:
                async for item in fn(request, _metadata(context, self._bind_certificate)):
                    # A write waits while the subscriber's flow-control window is full: the
                    # stream's buffer is that window and one page. One that stays full means
                    # the subscriber stopped reading; it is let go rather than held.
                    try:
                        await asyncio.wait_for(context.write(item), self._stall_seconds)
                    except TimeoutError:
                        self._metrics.follower_disconnects.inc()
                        raise HubError(
                            grpc.StatusCode.RESOURCE_EXHAUSTED,
                            f"the subscriber read nothing for {self._stall_seconds:g} s; "
                            "resume after the last cursor received",
                        ) from None
            except HubError as e:
                self._observe(name, e.code, started, e)
                await _abort(context, e)
            except Exception as e:
                if isinstance(e, asyncio.CancelledError):
                    raise
                if context.cancelled() or context.done():
                    # The caller went away mid-write (grpc raises on the write): not a
                    # failure of the hub's, so no traceback and no INTERNAL.
                    self._observe(name, grpc.StatusCode.CANCELLED, started, None)
                    return
                log.exception("%s failed", full)
                self._observe(name, grpc.StatusCode.INTERNAL, started, None)
                await _abort(context, HubError(grpc.StatusCode.INTERNAL, "internal error"))
            else:
                self._observe(name, grpc.StatusCode.OK, started, None)

        return grpc.unary_stream_rpc_method_handler(
            stream,
            request_deserializer=_deserializer(request_cls),
            # A stream may hand over bytes it serialised once for many subscribers.
            response_serializer=lambda m: m if isinstance(m, bytes) else m.SerializeToString(),
        )

    def _unary_handler(
        self, full: str, name: str, request_cls: type[Message], fn: Any
    ) -> grpc.RpcMethodHandler:
        async def unary(
            request: RawRequest[Any], context: grpc.aio.ServicerContext[Any, Any]
        ) -> Message:
            started = self._begin(context)
            try:
                response: Message = await fn(request, _metadata(context, self._bind_certificate))
            except HubError as e:
                self._observe(name, e.code, started, e)
                await _abort(context, e)
                raise  # unreachable: abort raises
            except Exception:
                log.exception("%s failed", full)
                self._observe(name, grpc.StatusCode.INTERNAL, started, None)
                await _abort(context, HubError(grpc.StatusCode.INTERNAL, "internal error"))
                raise
            self._observe(name, grpc.StatusCode.OK, started, None)
            return response

        return grpc.unary_unary_rpc_method_handler(
            unary,
            request_deserializer=_deserializer(request_cls),
            response_serializer=lambda m: m.SerializeToString(),
        )
