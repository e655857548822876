"""Hostile-member benchmark (issue 19): what one member, or one unauthenticated caller, can do
to the others' matching, and how much memory and disk it can make the hub hold.

A real `signalhub serve` (fresh data directory, LMDB sync on) with members `victim` and
`hostile`; the hostile member submits --signals random PDQ signals and --linked-signals near one
hash under one incident. Then, scenario by scenario, in one run, each on a hub process of its
own over that same store (what one attacker leaves behind, memory not given back or work still
queued, is not charged to the next):

  idle       nobody attacks: the baseline (measured first, and again last);
  linked     the hostile member sends MatchHashes of --linked-queries queries near the cluster,
             one call after another: each match lists the signals linked by the incident;
  bomb       --bomb-senders unauthenticated connections send gzip-compressed MatchHashes
             requests (gRPC per-message compression) of --bomb-mib MiB that compress to about
             21 KB, --bomb-inflight at a time each, half with no signed metadata and half with a
             forged signature. The requests are compressed once and written by a minimal
             HTTP/2 sender in this module, so a sender costs the machine the compressed bytes
             only, as a real attacker's would;
  snapshots  the hostile member opens --snapshot-streams GetSnapshot streams, reads each one's
             header and then nothing more, until the victim is done;
  reports    the hostile member keeps --report-calls GetMemberReport calls (a year) in flight.

In every scenario the victim, a process of its own, issues single-query MatchHashes (near
duplicates of stored signals, each found) in a closed loop for --seconds, starting --lead-seconds
after the attack; its p50/p99/max are compared with the first idle's (the goal: within 2x, and
no errors). Meanwhile the hub's RSS (VmRSS sampled every 0.1 s, and VmHWM, reset through
clear_refs when the attack starts) and the disk it holds (its data directory, its TMPDIR and its
open deleted files, where spools go) are sampled from the attack's start until the hub is idle
again after the attacker stopped (at most --settle-seconds: "busy after"). Once the victim is
done the attacker starts nothing new; calls in flight may finish within --grace-seconds. Its
outcome is recorded as it saw it: status codes and their messages, bytes sent and received,
answer sizes; a refusal is an outcome, never a crash. With --rss-bound-mib / --disk-bound-mib
(a fix's stated bounds) the table says whether each scenario's growth stayed within them.

Victim, attacker and hub share the machine's cores: the table gives the hub's CPU (cores used
while the victim ran) and each attacker's own CPU seconds.

    python -m benchmarks.hostile --json-out /tmp/hostile.json      # ~5 minutes before fixes
    python -m benchmarks.hostile --signals 5000 --seconds 3 --scenarios bomb,reports
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import json
import multiprocessing as mp
import os
import secrets
import select
import shutil
import socket
import stat
import struct
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.load import HubProcess, add_members, machine, ms_stats, proc_cpu_seconds

SCENARIOS = ("idle", "linked", "bomb", "snapshots", "reports")
DEFAULT_SCENARIOS = "idle,linked,bomb,snapshots,reports,idle"
GOAL_RATIO = 2.0
"""Victims' p50 and p99 under attack within this factor of idle's."""
VICTIM = "victim"
HOSTILE = "hostile"
INCIDENT = "case-hostile-1"
SUBMIT_BATCH_SIGNALS = 10_000
VICTIM_QUERIES = 2000
VICTIM_CALL_TIMEOUT_SECONDS = 30.0
SAMPLE_INTERVAL_SECONDS = 0.1
READY_TIMEOUT_SECONDS = 180.0
ATTACKER_EXIT_SECONDS = 30.0
"""How long an attacker may take to stop after its grace period (then it is terminated)."""
SETTLED_CORES = 0.1
"""The hub is idle again once it uses less than this share of a core over a second."""
MATCH_METHOD = "/signalhub.v1.Exchange/MatchHashes"
SNAPSHOT_METHOD = "/signalhub.v1.Exchange/GetSnapshot"
REPORT_METHOD = "/signalhub.v1.Exchange/GetMemberReport"


# ------------------------------------------------------------------ the hub's memory and disk


def reset_peak_rss(pid: int) -> bool:
    """Resets the process's VmHWM to its current RSS (Linux clear_refs 5); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB; (0, 0) once the process is gone."""
    found = {"VmRSS:": 0, "VmHWM:": 0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name = line.split(":", 1)[0] + ":"
            if name in found:
                found[name] = int(line.split()[1])
    return found["VmRSS:"], found["VmHWM:"]


def disk_held(pid: int, data_dir: Path, temp_dir: Path) -> dict[str, int]:
    """Bytes on disk (allocated blocks) the hub holds: files in its data directory ("store"),
    and in its temporary directory or open but deleted, e.g. snapshot spools ("temp")."""
    store: dict[tuple[int, int], int] = {}
    temp: dict[tuple[int, int], int] = {}
    for where, into in ((data_dir, store), (temp_dir, temp)):
        for path in where.rglob("*"):
            with contextlib.suppress(OSError):
                st = path.lstat()
                if stat.S_ISREG(st.st_mode):
                    into[(st.st_dev, st.st_ino)] = st.st_blocks * 512
    with contextlib.suppress(OSError):
        for fd in os.scandir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if not os.readlink(fd.path).endswith(" (deleted)"):
                    continue
                st = os.stat(fd.path)
                key = (st.st_dev, st.st_ino)
                if stat.S_ISREG(st.st_mode) and key not in store:
                    temp[key] = st.st_blocks * 512
    return {"store": sum(store.values()), "temp": sum(temp.values())}


class Sampler:
    """Samples the hub's RSS and disk every SAMPLE_INTERVAL_SECONDS in a thread."""

    def __init__(self, hub: HubProcess, temp_dir: Path) -> None:
        self.hub = hub
        self.temp_dir = temp_dir
        self.peak_rss_kib = 0
        self.peak_store = 0
        self.peak_temp = 0
        self.peak_disk = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_INTERVAL_SECONDS)

    def sample(self) -> None:
        rss, hwm = rss_kib(self.hub.pid)
        disk = disk_held(self.hub.pid, self.hub.data, self.temp_dir)
        self.peak_rss_kib = max(self.peak_rss_kib, rss, hwm)
        self.peak_store = max(self.peak_store, disk["store"])
        self.peak_temp = max(self.peak_temp, disk["temp"])
        self.peak_disk = max(self.peak_disk, disk["store"] + disk["temp"])
        self.samples += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.sample()


def mib(n_bytes: float) -> float:
    return round(n_bytes / 2**20, 1)


# ------------------------------------------------------------------ a minimal HTTP/2 sender
# Just enough HTTP/2 and HPACK (RFC 9113, RFC 7541) to send gRPC requests whose body is
# compressed once, and to read each one's grpc-status. gRPC's own client would compress every
# request again, and that CPU would be the attacker's machine's, not the hub's.

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0, 1, 3, 4, 6, 7, 8, 9,
)  # fmt: skip
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
STATIC_TABLE: list[tuple[str, str | None]] = [
    ("", ""),
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"),
    (":path", "/index.html"), (":scheme", "http"), (":scheme", "https"), (":status", "200"),
    (":status", "204"), (":status", "206"), (":status", "304"), (":status", "400"),
    (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""),
    ("accept", ""), ("access-control-allow-origin", ""), ("age", ""), ("allow", ""),
    ("authorization", ""), ("cache-control", ""), ("content-disposition", ""),
    ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
    ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""),
    ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
    ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
    ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""),
    ("max-forwards", ""), ("proxy-authenticate", ""), ("proxy-authorization", ""), ("range", ""),
    ("referer", ""), ("refresh", ""), ("retry-after", ""), ("server", ""), ("set-cookie", ""),
    ("strict-transport-security", ""), ("transfer-encoding", ""), ("user-agent", ""),
    ("vary", ""), ("via", ""), ("www-authenticate", ""),
]  # fmt: skip
"""RFC 7541 appendix A (index 0 unused); only the names matter here."""
GRPC_CODES = {0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT",
              4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND", 6: "ALREADY_EXISTS",
              7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION",
              10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED", 13: "INTERNAL",
              14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED"}  # fmt: skip


def h2_frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes([kind, flags])
        + struct.pack(">I", stream)
        + payload
    )


def hpack_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    mask = (1 << prefix_bits) - 1
    if value < mask:
        return bytes([first | value])
    out = bytearray([first | mask])
    value -= mask
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(name: str, value: str) -> bytes:
    """A header as a literal without indexing, new name, no Huffman coding."""
    n, v = name.encode(), value.encode()
    return b"\x00" + hpack_int(len(n), 7) + n + hpack_int(len(v), 7) + v


class HpackDecoder:
    """Decodes header blocks; Huffman-coded strings (the hub sends its -bin trailers so) come
    out as None. The dynamic table is kept so that indexed fields resolve."""

    def __init__(self) -> None:
        self.table: list[tuple[str, str | None]] = []
        self.max_size = 4096

    def _size(self) -> int:
        return sum(len(n) + len(v or "") + 32 for n, v in self.table)

    def _evict(self) -> None:
        while self.table and self._size() > self.max_size:
            self.table.pop()

    def _entry(self, index: int) -> tuple[str, str | None]:
        if 0 < index < len(STATIC_TABLE):
            return STATIC_TABLE[index]
        dynamic = index - len(STATIC_TABLE)
        return self.table[dynamic] if 0 <= dynamic < len(self.table) else ("?", None)

    @staticmethod
    def _int(data: bytes, i: int, prefix_bits: int) -> tuple[int, int]:
        mask = (1 << prefix_bits) - 1
        value = data[i] & mask
        i += 1
        if value < mask:
            return value, i
        shift = 0
        while True:
            b = data[i]
            i += 1
            value += (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value, i

    def _string(self, data: bytes, i: int) -> tuple[str | None, int]:
        huffman = data[i] & 0x80
        n, i = self._int(data, i, 7)
        raw = data[i : i + n]
        return (None if huffman else raw.decode(errors="replace")), i + n

    def decode(self, data: bytes) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        i = 0
        while i < len(data):
            b = data[i]
            if b & 0x80:  # indexed field
                index, i = self._int(data, i, 7)
                name, value = self._entry(index)
                out[name] = value
                continue
            if b & 0xE0 == 0x20:  # dynamic table size update
                self.max_size, i = self._int(data, i, 5)
                self._evict()
                continue
            indexing = b & 0xC0 == 0x40
            index, i = self._int(data, i, 6 if indexing else 4)
            if index:
                name = self._entry(index)[0]
            else:
                raw_name, i = self._string(data, i)
                name = raw_name or "?"
            value, i = self._string(data, i)
            out[name] = value
            if indexing:
                self.table.insert(0, (name, value))
                self._evict()
        return out


class H2Sender:
    """One HTTP/2 connection sending the same gRPC request again and again, a few at a time,
    and recording each one's end: grpc-status, RST_STREAM, or the connection's end."""

    def __init__(self, port: int, path: str, body: bytes, compressed: bool) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.path = path
        self.message = bytes([1 if compressed else 0]) + struct.pack(">I", len(body)) + body
        self.compressed = compressed
        self.buffer = bytearray()
        self.decoder = HpackDecoder()
        self.next_stream = 1
        self.window = 65535  # the connection's send window
        self.initial_window = 65535  # each new stream's (the peer's SETTINGS)
        self.max_frame = 16384
        self.open: dict[int, tuple[float, str]] = {}  # stream -> (started, variant)
        self.partial: dict[int, bytearray] = {}  # header blocks awaiting CONTINUATION
        self.headers: dict[int, dict[str, str | None]] = {}
        self.end_stream_pending = 0  # END_STREAM of a HEADERS frame awaiting its CONTINUATION
        self.done: list[tuple[str, str, float]] = []  # (variant, outcome, seconds)
        self.closed: str | None = None
        self.sent_bytes = 0
        self.received_bytes = 0
        self.request_bytes = 0
        """The largest request's frames (HEADERS and DATA), bytes."""
        # Our settings: no push, no dynamic table for the hub's encoder, large windows.
        settings = struct.pack(">HIHIHI", 2, 0, 1, 0, 4, 1 << 24)
        self._send(
            PREFACE + h2_frame(SETTINGS, 0, 0, settings)
            + h2_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 30))
        )  # fmt: skip

    def _send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
            self.sent_bytes += len(data)
        except OSError as e:
            self.closed = self.closed or f"send failed: {e.__class__.__name__}"

    def request(self, variant: str, headers: list[tuple[str, str]]) -> None:
        """Starts one request (HEADERS, then DATA frames) once the flow-control windows allow
        (the whole message within the connection's window and a new stream's)."""
        stream = self.next_stream
        self.next_stream += 2
        block = b"\x83\x86" + b"".join(  # :method POST, :scheme http
            hpack_literal(n, v)
            for n, v in [
                (":path", self.path), (":authority", "127.0.0.1"),
                ("content-type", "application/grpc"), ("te", "trailers"),
                ("grpc-timeout", "20S"), *([("grpc-encoding", "gzip")] if self.compressed else []),
                ("user-agent", "signalhub-hostile-benchmark"), *headers,
            ]
        )  # fmt: skip
        self.open[stream] = (time.perf_counter(), variant)
        self._send(h2_frame(HEADERS, END_HEADERS, stream, block))
        deadline = time.perf_counter() + 10
        need = len(self.message)
        while (self.window < need or self.initial_window < need) and self.closed is None:
            if time.perf_counter() > deadline:
                self.closed = "flow control: the hub stopped reading"
                return
            self.pump(0.05)
        if self.closed is not None or stream not in self.open:
            return
        self.window -= len(self.message)
        frames = []
        for lo in range(0, len(self.message), self.max_frame):
            chunk = self.message[lo : lo + self.max_frame]
            last = lo + self.max_frame >= len(self.message)
            frames.append(h2_frame(DATA, END_STREAM if last else 0, stream, chunk))
        self._send(b"".join(frames))
        self.request_bytes = max(self.request_bytes, 9 + len(block) + sum(map(len, frames)))

    def pump(self, wait_seconds: float) -> None:
        """Reads and handles whatever frames arrive within `wait_seconds`."""
        if self.closed is not None:
            return
        try:
            readable, _, _ = select.select([self.sock], [], [], wait_seconds)
            if not readable:
                return
            data = self.sock.recv(1 << 20)
        except OSError as e:
            self.closed = f"receive failed: {e.__class__.__name__}"
            return
        if not data:
            self.closed = "closed by the hub"
            return
        self.received_bytes += len(data)
        self.buffer += data
        while len(self.buffer) >= 9:
            length = int.from_bytes(self.buffer[:3], "big")
            if len(self.buffer) < 9 + length:
                break
            kind, flags = self.buffer[3], self.buffer[4]
            stream = int.from_bytes(self.buffer[5:9], "big") & 0x7FFFFFFF
            payload = bytes(self.buffer[9 : 9 + length])
            del self.buffer[: 9 + length]
            self._frame(kind, flags, stream, payload)

    def _frame(self, kind: int, flags: int, stream: int, payload: bytes) -> None:
        if kind == SETTINGS and not flags & ACK:
            for i in range(0, len(payload) - 5, 6):
                key, value = struct.unpack(">HI", payload[i : i + 6])
                if key == 4:
                    self.initial_window = value
                elif key == 5:
                    self.max_frame = value
            self._send(h2_frame(SETTINGS, ACK, 0, b""))
        elif kind == PING and not flags & ACK:
            self._send(h2_frame(PING, ACK, 0, payload))
        elif kind == WINDOW_UPDATE and stream == 0:
            self.window += struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
        elif kind == GOAWAY:
            code = struct.unpack(">I", payload[4:8])[0] if len(payload) >= 8 else -1
            self.closed = f"GOAWAY({code})"
        elif kind == RST_STREAM:
            code = struct.unpack(">I", payload[:4])[0]
            self._end(stream, f"RST_STREAM({code})")
        elif kind in (HEADERS, CONTINUATION):
            if kind == HEADERS:
                if flags & PADDED:
                    payload = payload[1 : len(payload) - payload[0]]
                if flags & PRIORITY_FLAG:
                    payload = payload[5:]
                self.partial[stream] = bytearray()
            self.partial.setdefault(stream, bytearray()).extend(payload)
            if kind == HEADERS:
                self.end_stream_pending = flags & END_STREAM
            if flags & END_HEADERS:
                fields = self.decoder.decode(bytes(self.partial.pop(stream)))
                self.headers.setdefault(stream, {}).update(fields)
                if self.end_stream_pending:
                    self._end(stream, None)
        elif kind == DATA:
            if payload:
                credit = struct.pack(">I", len(payload))
                self._send(h2_frame(WINDOW_UPDATE, 0, 0, credit))
            if flags & END_STREAM:
                self._end(stream, None)

    def _end(self, stream: int, outcome: str | None) -> None:
        started = self.open.pop(stream, None)
        fields = self.headers.pop(stream, {})
        if started is None:
            return
        if outcome is None:
            status = fields.get("grpc-status")
            outcome = GRPC_CODES.get(int(status), status) if status and status.isdigit() else "?"
        self.done.append((started[1], outcome, time.perf_counter() - started[0]))

    def cancel_all(self) -> None:
        for stream in list(self.open):
            self._send(h2_frame(RST_STREAM, 0, stream, struct.pack(">I", 8)))  # CANCEL
            self.open.pop(stream)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def bomb_body(target_bytes: int, value_bytes: int) -> tuple[bytes, int]:
    """A MatchHashesRequest of about `target_bytes`: "pdq" queries whose values are
    `value_bytes` zeros, gzip-compressed; returns (compressed, uncompressed size)."""
    from signalhub.v1 import exchange_pb2

    one = exchange_pb2.MatchHashesRequest(
        queries=[exchange_pb2.MatchQuery(type="pdq", value="0" * value_bytes)]
    ).SerializeToString()
    raw = one * max(1, target_bytes // len(one))
    return gzip.compress(raw, compresslevel=9), len(raw)


# ------------------------------------------------------------------ the processes


def _signer(member: str, key_raw: bytes) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from client_sdk.signing import Signer

    return Signer(member, Ed25519PrivateKey.from_private_bytes(key_raw))


def _channel(endpoint: str) -> Any:
    import grpc

    from signalhub import domain

    most = 4 * domain.MAX_MESSAGE_BYTES  # above the hub's own limit: its refusals show as its
    return grpc.insecure_channel(  # own, not as this client's
        endpoint,
        options=[("grpc.max_receive_message_length", most),
                 ("grpc.max_send_message_length", most)],
    )  # fmt: skip


def _identity(data: bytes) -> bytes:
    return data


def _rpc_error(e: Exception) -> tuple[str, str]:
    code = getattr(e, "code", None)
    details = getattr(e, "details", None)
    name = code().name if callable(code) else e.__class__.__name__
    text = details() if callable(details) else str(e)
    return name, (text or "")[:160]


class UnaryLoop:
    """Signed unary calls of one method, one after another, until told to stop; a call in
    flight then may finish within `grace_seconds` (its outcome counts), else it is cancelled
    (and counted as such, not as an outcome of the hub's)."""

    def __init__(
        self, endpoint: str, signer: Any, method: str, timeout_seconds: float,
        grace_seconds: float,
    ) -> None:  # fmt: skip
        self.channel = _channel(endpoint)
        self.call = self.channel.unary_unary(
            method, request_serializer=_identity, response_deserializer=_identity
        )
        self.signer = signer
        self.method = method
        self.timeout_seconds = timeout_seconds
        self.grace_seconds = grace_seconds
        self.codes: Counter[str] = Counter()
        self.details: dict[str, str] = {}
        self.seconds: list[float] = []
        self.sent_bytes = 0
        self.received_bytes = 0
        self.answers: list[bytes] = []
        self.cancelled_at_end = 0
        self.finished_after_stop = 0
        self.largest_answer_bytes = 0
        self.lock = threading.Lock()

    def run(self, build: Callable[[], bytes], stop: threading.Event, keep_answers: bool) -> None:
        while not stop.is_set():
            raw = build()
            started = time.perf_counter()
            future = self.call.future(
                raw, metadata=self.signer.call_metadata(self.method, raw),
                timeout=self.timeout_seconds,
            )  # fmt: skip
            while not future.done() and not stop.wait(0.02):
                pass
            late = not future.done()
            grace_ends = time.perf_counter() + self.grace_seconds
            while not future.done() and time.perf_counter() < grace_ends:
                time.sleep(0.02)
            if not future.done():
                future.cancel()
                with self.lock:
                    self.cancelled_at_end += 1
                    self.sent_bytes += len(raw)
                return
            elapsed = time.perf_counter() - started
            try:
                answer: bytes = future.result()
                code, text = "OK", ""
            except Exception as e:  # grpc.RpcError, or a cancelled future
                answer = b""
                code, text = _rpc_error(e)
            with self.lock:
                self.codes[code] += 1
                self.details.setdefault(code, text)
                self.seconds.append(elapsed)
                self.sent_bytes += len(raw)
                self.received_bytes += len(answer)
                self.finished_after_stop += late
                self.largest_answer_bytes = max(self.largest_answer_bytes, len(answer))
                if keep_answers and answer and len(self.answers) < 3:
                    self.answers.append(answer)
            if code not in ("OK", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "UNAVAILABLE"):
                stop.wait(0.1)  # an unexpected refusal: do not spin on it

    def summary(self) -> dict[str, Any]:
        return {
            "calls": sum(self.codes.values()),
            "codes": dict(self.codes),
            "details": self.details,
            "call_seconds": _seconds_stats(self.seconds),
            "sent_bytes": self.sent_bytes,
            "received_bytes": self.received_bytes,
            "largest_answer_bytes": self.largest_answer_bytes,
            "finished_after_stop": self.finished_after_stop,
            "cancelled_at_end": self.cancelled_at_end,
        }


def _seconds_stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "max": None}
    return {"median": round(float(np.median(values)), 3), "max": round(max(values), 3)}


def victim(spec: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
    """Single-query MatchHashes in a closed loop for spec["seconds"], through the SDK."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from client_sdk import Client, RetryPolicy, SignalhubError

    key = Ed25519PrivateKey.from_private_bytes(spec["key"])
    queries: list[str] = spec["queries"]
    latencies: list[float] = []
    failed: list[float] = []
    errors: Counter[str] = Counter()
    found = 0
    with Client(spec["endpoint"], VICTIM, key, timeout_seconds=VICTIM_CALL_TIMEOUT_SECONDS,
                retry=RetryPolicy(attempts=1)) as client:  # fmt: skip
        for q in queries[:20]:
            client.match_pdq([q])
        spec["ready"]()
        spec["go"]()
        time.sleep(spec["lead_seconds"])
        started = time.perf_counter()
        deadline = started + spec["seconds"]
        i = 0
        while time.perf_counter() < deadline:
            q = queries[i % len(queries)]
            i += 1
            t = time.perf_counter()
            try:
                result = client.match_pdq([q])
                latencies.append(time.perf_counter() - t)
                found += bool(result[0].matches)
            except SignalhubError as e:
                failed.append(time.perf_counter() - t)
                errors[e.code.name] += 1
        wall = time.perf_counter() - started
    return {
        "calls": len(latencies) + len(failed),
        "ok": len(latencies),
        "found": found,
        "errors": dict(errors),
        "seconds": round(wall, 2),
        "queries_per_s": round(len(latencies) / wall, 1) if wall else 0.0,
        **ms_stats(latencies),
        "failed_max_ms": round(max(failed) * 1000, 1) if failed else None,
    }


def attack_linked(spec: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
    """MatchHashes of many queries near the incident's cluster, one call after another."""
    from signalhub.v1 import exchange_pb2

    rng = np.random.default_rng(11)
    center = np.unpackbits(np.frombuffer(bytes.fromhex(spec["center"]), np.uint8))
    values = []
    for _ in range(spec["queries"]):
        bits = center.copy()
        bits[rng.choice(256, size=int(rng.integers(0, 5)), replace=False)] ^= 1
        values.append(np.packbits(bits).tobytes().hex())
    raw = exchange_pb2.MatchHashesRequest(
        queries=[exchange_pb2.MatchQuery(type="pdq", value=v) for v in values]
    ).SerializeToString()
    loop = UnaryLoop(spec["endpoint"], _signer(HOSTILE, spec["key"]), MATCH_METHOD,
                     spec["call_timeout_seconds"], spec["grace_seconds"])  # fmt: skip
    spec["ready"]()
    spec["go"]()
    loop.run(lambda: raw, stop, keep_answers=True)
    out = loop.summary()
    out["request_bytes"] = len(raw)
    answers = []
    for answer in loop.answers:  # what the hub let a call carry (the first three)
        response = exchange_pb2.MatchHashesResponse.FromString(answer)
        answers.append({
            "bytes": len(answer),
            "matches": sum(len(r.matches) for r in response.results),
            "linked": sum(len(m.linked) for r in response.results for m in r.matches),
            "truncated_results": sum(r.truncated for r in response.results),
        })  # fmt: skip
    out["answers"] = answers
    loop.channel.close()
    return out


def attack_bomb(spec: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
    """Unauthenticated, compressed MatchHashes requests from raw HTTP/2 connections."""
    body, parsed = bomb_body(spec["bomb_bytes"], spec["query_bytes"])
    lock = threading.Lock()
    outcomes: Counter[str] = Counter()
    seconds: list[float] = []
    closes: Counter[str] = Counter()
    wire: list[int] = []  # bytes of one request's frames, as sent (forged metadata: larger)
    totals = {"requests": 0, "sent": 0, "received": 0, "cancelled_at_end": 0}
    deadline = time.perf_counter() + spec["max_seconds"]

    def forged() -> list[tuple[str, str]]:
        signature = base64.b64encode(secrets.token_bytes(64)).decode().rstrip("=")
        return [("x-signalhub-member", VICTIM), ("x-signalhub-key-id", "k" * 16),
                ("x-signalhub-timestamp", str(int(time.time() * 1000))),
                ("x-signalhub-nonce", secrets.token_urlsafe(18)),
                ("x-signalhub-signature-bin", signature)]  # fmt: skip

    def sender() -> None:
        reconnects = 0
        while not stop.is_set() and time.perf_counter() < deadline and reconnects < 100:
            try:
                conn = H2Sender(spec["port"], MATCH_METHOD, body, compressed=True)
            except OSError as e:
                with lock:
                    closes[f"connect failed: {e.__class__.__name__}"] += 1
                reconnects += 1
                stop.wait(0.2)
                continue
            n = 0
            interval = 1.0 / spec["rate"] if spec.get("rate") else 0.0
            next_at = time.perf_counter()
            while conn.closed is None and not stop.is_set() and time.perf_counter() < deadline:
                while (len(conn.open) < spec["inflight"] and conn.closed is None
                       and time.perf_counter() >= next_at):  # fmt: skip
                    variant = "forged" if n % 2 else "none"
                    conn.request(variant, forged() if variant == "forged" else [])
                    n += 1
                    next_at += interval
                conn.pump(min(0.05, interval) if interval else 0.05)
            grace_ends = time.perf_counter() + spec["grace_seconds"]
            while conn.open and conn.closed is None and time.perf_counter() < grace_ends:
                conn.pump(0.05)  # the answers to requests in flight still count
            ended = conn.closed
            if ended is None:
                with lock:
                    totals["cancelled_at_end"] += len(conn.open)
                conn.cancel_all()
            conn.close()
            with lock:
                for variant, outcome, s in conn.done:
                    outcomes[f"{outcome} ({variant} auth)"] += 1
                    seconds.append(s)
                totals["requests"] += n
                wire.append(conn.request_bytes)
                totals["sent"] += conn.sent_bytes
                totals["received"] += conn.received_bytes
                if ended is not None:
                    closes[ended] += 1
                    # streams the connection's end took with it
                    outcomes["lost with the connection"] += len(conn.open)
            if ended is not None:
                reconnects += 1
                stop.wait(0.1)

    spec["ready"]()
    spec["go"]()
    threads = [threading.Thread(target=sender, daemon=True) for _ in range(spec["senders"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(spec["max_seconds"] + spec["grace_seconds"] + 30)
    return {
        "senders": spec["senders"],
        "inflight_per_sender": spec["inflight"],
        "requests": totals["requests"],
        "outcomes": dict(outcomes),
        "request_wire_bytes": max(wire) if wire else 0,
        "request_parsed_bytes": parsed,
        "sent_bytes": totals["sent"],
        "received_bytes": totals["received"],
        "connection_ends": dict(closes),
        "cancelled_at_end": totals["cancelled_at_end"],
        "call_seconds": _seconds_stats(seconds),
    }


def attack_snapshots(spec: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
    """GetSnapshot streams that read the header and then nothing."""
    import grpc

    from signalhub.v1 import exchange_pb2

    signer = _signer(HOSTILE, spec["key"])
    channel = _channel(spec["endpoint"])
    call = channel.unary_stream(
        SNAPSHOT_METHOD, request_serializer=_identity, response_deserializer=_identity
    )
    raw = exchange_pb2.GetSnapshotRequest().SerializeToString()
    spec["ready"]()
    spec["go"]()
    started = time.perf_counter()
    streams = [
        call(raw, metadata=signer.call_metadata(SNAPSHOT_METHOD, raw),
             timeout=spec["call_timeout_seconds"])
        for _ in range(spec["streams"])
    ]  # fmt: skip
    header_seconds: list[float | None] = [None] * len(streams)
    header_bytes = [0] * len(streams)
    ends: dict[int, tuple[str, str]] = {}

    def first_message(i: int) -> None:
        try:
            header_bytes[i] = len(next(streams[i]))
            header_seconds[i] = time.perf_counter() - started
        except StopIteration:
            ends[i] = ("OK", "ended after the header")
        except grpc.RpcError as e:
            if not stop.is_set():
                ends[i] = _rpc_error(e)

    readers = [threading.Thread(target=first_message, args=(i,), daemon=True)
               for i in range(len(streams))]  # fmt: skip
    for t in readers:
        t.start()
    stop.wait(spec["max_seconds"])
    codes: Counter[str] = Counter()
    details: dict[str, str] = {}
    held = 0
    for i, stream in enumerate(streams):
        if i in ends:
            codes[ends[i][0]] += 1
            details.setdefault(ends[i][0], ends[i][1])
        elif stream.done():  # the hub ended it (the client saw its status without reading)
            code, text = _rpc_error(stream) if stream.code() else ("?", "")
            codes[code] += 1
            details.setdefault(code, text)
        else:
            held += 1
            stream.cancel()
    for t in readers:
        t.join(5)
    channel.close()
    got = [s for s in header_seconds if s is not None]
    return {
        "streams": len(streams),
        "headers_received": len(got),
        "header_seconds": {
            "first": round(min(got), 2) if got else None,
            "last": round(max(got), 2) if got else None,
        },
        "held_to_the_end": held,
        "codes": dict(codes),
        "details": details,
        "received_bytes": sum(header_bytes),
    }


def attack_reports(spec: dict[str, Any], stop: threading.Event) -> dict[str, Any]:
    """GetMemberReport calls over a year, spec["calls"] in flight."""
    from signalhub.v1 import exchange_pb2

    today = datetime.now(UTC).date()
    raw = exchange_pb2.GetMemberReportRequest(
        first_day=str(today - timedelta(days=365)), last_day=str(today)
    ).SerializeToString()
    loop = UnaryLoop(spec["endpoint"], _signer(HOSTILE, spec["key"]), REPORT_METHOD,
                     spec["call_timeout_seconds"], spec["grace_seconds"])  # fmt: skip
    spec["ready"]()
    spec["go"]()
    threads = [
        threading.Thread(target=loop.run, args=(lambda: raw, stop, False), daemon=True)
        for _ in range(spec["calls"])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(spec["max_seconds"] + spec["grace_seconds"] + 30)
    loop.channel.close()
    return {"in_flight": spec["calls"], **loop.summary()}


ROLES: dict[str, Callable[[dict[str, Any], threading.Event], dict[str, Any]]] = {
    "victim": victim,
    "linked": attack_linked,
    "bomb": attack_bomb,
    "snapshots": attack_snapshots,
    "reports": attack_reports,
}


def worker(role: str, spec: dict[str, Any], ready: Any, go: Any, stop: Any, out: Any) -> None:
    """A child process (spawn): runs one role; reports `ready` once connected, starts when the
    shared flag `go` is set, ends when `stop` is (or at its own time bound), then puts its
    result on `out`. (Flags, not multiprocessing Events: setting an Event hangs when a process
    that waited on it has exited.)"""
    stopping = threading.Event()
    stop_deadline = time.perf_counter() + spec["max_seconds"] + spec["grace_seconds"] + 60

    def watch() -> None:  # the shared flag, mirrored into a thread Event
        while not stop.value and time.perf_counter() < stop_deadline:
            time.sleep(0.02)
        stopping.set()

    def wait_go() -> None:
        limit = time.perf_counter() + READY_TIMEOUT_SECONDS
        while not go.value and time.perf_counter() < limit:
            time.sleep(0.002)

    threading.Thread(target=watch, daemon=True).start()
    spec = {**spec, "ready": lambda: ready.put(role), "go": wait_go}
    cpu0 = time.process_time()
    try:
        result = ROLES[role](spec, stopping)
        result["client_cpu_seconds"] = round(time.process_time() - cpu0, 2)
        out.put((role, result))
    except BaseException as e:
        out.put((role, {"error": f"{e.__class__.__name__}: {e}"[:500]}))


# ------------------------------------------------------------------ setting the hub up


def _random_hashes(rng: np.random.Generator, n: int) -> list[str]:
    text = rng.integers(0, 256, size=(n, 32), dtype=np.uint8).tobytes().hex()
    return [text[i * 64 : (i + 1) * 64] for i in range(n)]


def near(rng: np.random.Generator, value: str, low: int, high: int) -> str:
    """`value` with low..high random bits flipped."""
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(value), np.uint8))
    bits[rng.choice(256, size=int(rng.integers(low, high + 1)), replace=False)] ^= 1
    return np.packbits(bits).tobytes().hex()


def populate(
    hub: HubProcess, key_raw: bytes, signals: int, linked: int, say: Callable[[str], None]
) -> dict[str, Any]:
    """The hostile member submits `signals` random PDQ signals and `linked` near one centre
    under one incident. Returns the victim's queries, the centre and what it took."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from client_sdk import Client, Signal

    rng = np.random.default_rng(19)
    started = time.perf_counter()
    sample: list[str] = []
    key = Ed25519PrivateKey.from_private_bytes(key_raw)
    with Client(hub.endpoint, HOSTILE, key, timeout_seconds=300.0) as client:
        for lo in range(0, signals, SUBMIT_BATCH_SIGNALS):
            values = _random_hashes(rng, min(SUBMIT_BATCH_SIGNALS, signals - lo))
            client.submit([Signal("pdq", v, labels=("other",)) for v in values])
            sample.extend(values[: max(0, VICTIM_QUERIES - len(sample))])
        ingest_s = time.perf_counter() - started
        say(f"  {signals:,} signals in {ingest_s:.1f} s")
        center = _random_hashes(rng, 1)[0]
        cluster: set[str] = set()
        while len(cluster) < linked:
            cluster.add(near(rng, center, 1, 8))
        members = sorted(cluster)
        for lo in range(0, len(members), SUBMIT_BATCH_SIGNALS):
            client.submit([
                Signal("pdq", v, labels=("other",), incident=INCIDENT)
                for v in members[lo : lo + SUBMIT_BATCH_SIGNALS]
            ])  # fmt: skip
    queries = [near(rng, sample[i % len(sample)], 8, 16) for i in range(VICTIM_QUERIES)]
    return {
        "queries": queries,
        "center": center,
        "info": {
            "signals": signals,
            "linked_signals": linked,
            "seconds": round(time.perf_counter() - started, 1),
            "hub_rss_mib": mib(rss_kib(hub.pid)[0] * 1024),
            "store_mib": mib(disk_held(hub.pid, hub.data, hub.data)["store"]),
        },
    }


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """os.environ with `values` set (the hub process inherits it), restored after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def start_hub(tmp: Path, temp_dir: Path, init: bool) -> HubProcess:
    """`signalhub serve` over tmp/hub (initialised first when `init`), with its temporary
    files in `temp_dir`; returns once it has loaded its index."""
    with environment(TMPDIR=str(temp_dir)):
        hub = HubProcess(tmp, init=init)
    deadline = time.time() + READY_TIMEOUT_SECONDS
    while "index loaded" not in hub.log_text():
        if time.time() > deadline or hub.proc.poll() is not None:
            hub.stop()
            raise SystemExit(f"the hub did not load its index:\n{hub.log_text()[-2000:]}")
        time.sleep(0.1)
    return hub


def logged_errors(log: str, top: int = 5) -> dict[str, int]:
    """The hub log's ERROR lines, by logger and message (request ids cut), most common first."""
    found: Counter[str] = Counter()
    for line in log.splitlines():
        if " ERROR " in line:
            found[line.split(" ERROR ", 1)[1].split(" request_id=")[0][:120]] += 1
    return dict(found.most_common(top))


# ------------------------------------------------------------------ one scenario


def hub_cpu(hub: HubProcess) -> float:
    """The hub's CPU seconds so far (NaN once it is gone)."""
    try:
        return proc_cpu_seconds(hub.pid)
    except (OSError, IndexError):
        return float("nan")


def settle(hub: HubProcess, most_seconds: float) -> float:
    """Waits until the hub is idle (below SETTLED_CORES over a second); returns how long."""
    started = time.perf_counter()
    while time.perf_counter() - started < most_seconds and hub.proc.poll() is None:
        cpu0 = hub_cpu(hub)
        time.sleep(1.0)
        if hub_cpu(hub) - cpu0 < SETTLED_CORES:
            break
    return round(time.perf_counter() - started, 1)


def run_scenario(
    name: str, hub: HubProcess, temp_dir: Path, specs: dict[str, dict[str, Any]], args: Any
) -> dict[str, Any]:
    """The victim (and the scenario's attacker) in their own processes; the hub measured."""
    ctx = mp.get_context("spawn")
    ready, out = ctx.Queue(), ctx.Queue()
    go, stop = ctx.Value("i", 0, lock=False), ctx.Value("i", 0, lock=False)
    roles = ["victim"] if name == "idle" else ["victim", name]
    procs = {
        role: ctx.Process(target=worker, args=(role, specs[role], ready, go, stop, out),
                          daemon=True)
        for role in roles
    }  # fmt: skip
    for p in procs.values():
        p.start()
    results: dict[str, dict[str, Any]] = {}
    waiting = set(roles)
    deadline = time.time() + READY_TIMEOUT_SECONDS
    while waiting and time.time() < deadline:
        with contextlib.suppress(Exception):
            waiting.discard(ready.get(timeout=1))
        while not out.empty():  # one that failed before it was ready
            role, r = out.get()
            results[role] = r
            waiting.discard(role)
    rss_before, _ = rss_kib(hub.pid)
    disk_before = disk_held(hub.pid, hub.data, temp_dir)
    hwm_reset = reset_peak_rss(hub.pid)
    cpu0, wall0 = hub_cpu(hub), time.perf_counter()
    sampler = Sampler(hub, temp_dir).start()  # from the attack's start to the hub's rest
    go.value = 1
    limit = time.time() + args.lead_seconds + args.seconds + VICTIM_CALL_TIMEOUT_SECONDS + 60
    while "victim" not in results and time.time() < limit:
        with contextlib.suppress(Exception):
            role, r = out.get(timeout=1)
            results[role] = r
        if not procs["victim"].is_alive() and out.empty() and "victim" not in results:
            results["victim"] = {"error": "the victim process died"}
    stop.value = 1
    cpu1, wall1 = hub_cpu(hub), time.perf_counter()
    limit = time.time() + args.grace_seconds + ATTACKER_EXIT_SECONDS
    while len(results) < len(roles) and time.time() < limit:
        with contextlib.suppress(Exception):
            role, r = out.get(timeout=1)
            results[role] = r
    for role, p in procs.items():
        p.join(5)
        if p.is_alive():
            p.terminate()
            p.join(5)
            results.setdefault(role, {"error": "did not stop in time; terminated"})
    busy_after = settle(hub, args.settle_seconds)
    sampler.stop()
    rss_after, _ = rss_kib(hub.pid)
    disk_after = disk_held(hub.pid, hub.data, temp_dir)
    return {
        "name": name,
        "victim": results.get("victim", {"error": "no result"}),
        "attacker": results.get(name) if name != "idle" else None,
        "hub": {
            "alive": hub.proc.poll() is None,
            "rss_before_mib": mib(rss_before * 1024),
            "rss_peak_mib": mib(sampler.peak_rss_kib * 1024),
            "rss_after_mib": mib(rss_after * 1024),
            "peak_rss_includes_vmhwm": hwm_reset,
            "disk_before_mib": mib(disk_before["store"] + disk_before["temp"]),
            "disk_peak_mib": mib(sampler.peak_disk),
            "disk_peak_store_mib": mib(sampler.peak_store),
            "disk_peak_temp_mib": mib(sampler.peak_temp),
            "disk_after_mib": mib(disk_after["store"] + disk_after["temp"]),
            "cpu_cores": round((cpu1 - cpu0) / (wall1 - wall0), 2),  # while the victim ran
            "busy_after_attack_s": busy_after,
            "samples": sampler.samples,
        },
    }


# ------------------------------------------------------------------ report


def compare(
    results: list[dict[str, Any]], rss_bound_mib: float | None, disk_bound_mib: float | None
) -> None:
    """Adds each scenario's ratios to the first idle's, whether the goal is met, and whether
    the hub's growth stayed within the stated bounds (None when no bound was given)."""
    idle = next((r for r in results if r["name"] == "idle" and "p50_ms" in r["victim"]), None)
    for r in results:
        v, h = r["victim"], r["hub"]
        r["within_bounds"] = None
        if "rss_peak_mib" in h:
            r["rss_growth_mib"] = round(h["rss_peak_mib"] - h["rss_before_mib"], 1)
            r["disk_growth_mib"] = round(h["disk_peak_mib"] - h["disk_before_mib"], 1)
            if rss_bound_mib is not None or disk_bound_mib is not None:
                rss_ok = rss_bound_mib is None or r["rss_growth_mib"] <= rss_bound_mib
                disk_ok = disk_bound_mib is None or r["disk_growth_mib"] <= disk_bound_mib
                r["within_bounds"] = rss_ok and disk_ok
        if idle is None or "p50_ms" not in v or not v.get("ok"):
            r["ratio"] = {"p50": None, "p99": None}
            r["within_goal"] = False
            continue
        base = idle["victim"]
        r["ratio"] = {
            "p50": round(v["p50_ms"] / base["p50_ms"], 2),
            "p99": round(v["p99_ms"] / base["p99_ms"], 2),
        }
        r["within_goal"] = (
            r["ratio"]["p50"] <= GOAL_RATIO and r["ratio"]["p99"] <= GOAL_RATIO
            and not v.get("errors")
        )  # fmt: skip


def _codes(codes: dict[str, int]) -> str:
    return ", ".join(f"{k} x{n}" for k, n in sorted(codes.items(), key=lambda kv: -kv[1]))


def _refusal(a: dict[str, Any]) -> str:
    """The hub's message with the most common refusal, shortened ("" when all were OK)."""
    refused = {k: n for k, n in a.get("codes", {}).items() if k != "OK"}
    if not refused:
        return ""
    code = max(refused, key=lambda k: refused[k])
    return f' ["{a["details"].get(code, "")[:90]}"]'


def attacker_line(name: str, a: dict[str, Any] | None) -> str:
    """The attacker's outcome in a few words."""
    if a is None:
        return "-"
    if "error" in a:
        return f"attacker failed: {a['error'][:100]}"
    if name == "linked":
        answers = a.get("answers") or []
        largest = max(answers, key=lambda x: x["bytes"]) if answers else None
        carried = (f"; largest answer {mib(largest['bytes'])} MiB, {largest['matches']:,} "
                   f"matches, {largest['linked']:,} linked" if largest else "")  # fmt: skip
        return (f"{a['calls']} calls of {a['request_bytes'] / 1000:.1f} KB: "
                f"{_codes(a['codes']) or 'none done'} (median {a['call_seconds']['median']} s)"
                f"{carried}; {a['cancelled_at_end']} cancelled at the end"
                f"{_refusal(a)}")  # fmt: skip
    if name == "bomb":
        return (f"{a['requests']} requests of {a['request_wire_bytes'] / 1000:.1f} KB wire -> "
                f"{mib(a['request_parsed_bytes'])} MiB: {_codes(a['outcomes'])}"
                + (f"; connections ended: {_codes(a['connection_ends'])}"
                   if a["connection_ends"] else ""))  # fmt: skip
    if name == "snapshots":
        return (f"{a['streams']} streams, {a['headers_received']} headers received, "
                f"{a['held_to_the_end']} held to the end"
                f"{'; ' + _codes(a['codes']) if a['codes'] else ''}{_refusal(a)}")  # fmt: skip
    if name == "reports":
        return (f"{a['in_flight']} in flight: {_codes(a['codes']) or 'none done'} "
                f"(median {a['call_seconds']['median']} s); "
                f"{a['cancelled_at_end']} cancelled at the end{_refusal(a)}")  # fmt: skip
    return json.dumps(a)[:120]


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def table(res: dict[str, Any]) -> Iterator[str]:
    m = res["machine"]
    yield (f"machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['memory_gib']} GiB, "
           f"Linux {m['kernel']}, Python {m['python']}, grpcio {m['grpcio']}")  # fmt: skip
    s = res["setup"]
    yield (f"hub: {s['signals']:,} PDQ signals + {s['linked_signals']:,} linked by one incident "
           f"(all the hostile member's); victim closed loop {res['config']['seconds']:g} s a "
           f"scenario; goal: victim p50 and p99 within {GOAL_RATIO:g}x of idle")  # fmt: skip
    yield ""
    head = (f"{'scenario':<10} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
            f"{'p50 x':>6} {'p99 x':>6} {'within 2x':>9} {'errors':>7} {'hub cores':>9} "
            f"{'RSS peak MiB':>12} {'(+MiB)':>8} {'disk peak MiB':>13} {'(+MiB)':>8} "
            f"{'busy after s':>12} {'bounded':>7}")  # fmt: skip
    yield head
    yield "-" * len(head)
    for r in res["scenarios"]:
        v, h = r["victim"], r["hub"]
        if "error" in v:
            yield f"{r['name']:<10} victim failed: {v['error'][:100]}"
            continue
        ratio = r["ratio"]
        errors = sum(v["errors"].values())
        bounded = {None: "-", True: "yes", False: "NO"}[r["within_bounds"]]
        yield (f"{r['name']:<10} {v['calls']:>6} {v['p50_ms']:>8.2f} {v['p99_ms']:>8.2f} "
               f"{v['max_ms']:>8.1f} {_ratio(ratio['p50']):>6} {_ratio(ratio['p99']):>6} "
               f"{'yes' if r['within_goal'] else 'NO':>9} {errors:>7} {h['cpu_cores']:>9.2f} "
               f"{h['rss_peak_mib']:>12,.0f} {r.get('rss_growth_mib', 0):>+8,.0f} "
               f"{h['disk_peak_mib']:>13,.0f} {r.get('disk_growth_mib', 0):>+8,.0f} "
               f"{h['busy_after_attack_s']:>12.1f} {bounded:>7}")  # fmt: skip
    yield ""
    yield "attackers:"
    for r in res["scenarios"]:
        if r["name"] != "idle":
            cpu = (r["attacker"] or {}).get("client_cpu_seconds")
            line = attacker_line(r["name"], r["attacker"])
            yield f"  {r['name']:<10} {line} [attacker CPU {cpu} s]"
    c = res["config"]
    yield (f"(+MiB: the scenario's peak over the hub's value just before it; 'busy after': how "
           f"long the hub kept working once the attacker had stopped, at most "
           f"{c['settle_seconds']:g} s; 'bounded': +MiB within --rss-bound-mib "
           f"{c['rss_bound_mib']} and --disk-bound-mib {c['disk_bound_mib']})")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.hostile",
        description="Victims' match latency while one hostile member (or an unauthenticated "
        "caller) runs each known amplifier, against idle, on a real hub; and the memory and "
        "disk the hub holds meanwhile.",
    )
    ap.add_argument("--signals", type=int, default=100_000,
                    help="random PDQ signals in the hub, submitted by the hostile member "
                         "(default 100,000)")  # fmt: skip
    ap.add_argument("--seconds", type=float, default=15.0,
                    help="victim's closed loop per scenario, seconds (default 15)")  # fmt: skip
    ap.add_argument("--scenarios", default=DEFAULT_SCENARIOS,
                    help=f"comma-separated, from {','.join(SCENARIOS)} (default "
                         f"{DEFAULT_SCENARIOS}; idle is run first when it is not)")  # fmt: skip
    ap.add_argument("--json-out", type=Path, help="write the results as JSON here")
    ap.add_argument("--lead-seconds", type=float, default=1.0,
                    help="the attack starts this long before the victim (default 1)")  # fmt: skip
    ap.add_argument("--settle-seconds", type=float, default=60.0,
                    help="after a scenario, wait at most this long for the hub to be idle "
                         "(default 60)")  # fmt: skip
    ap.add_argument("--grace-seconds", type=float, default=120.0,
                    help="once the victim is done, calls in flight may finish within "
                         "this long (their outcomes count), then are cancelled "
                         "(default 120)")  # fmt: skip
    ap.add_argument("--linked-signals", type=int, default=3000,
                    help="signals of the hostile member's incident, all near one hash "
                         "(default 3000)")  # fmt: skip
    ap.add_argument("--linked-queries", type=int, default=200,
                    help="queries in each hostile MatchHashes call (default 200)")  # fmt: skip
    ap.add_argument("--bomb-senders", type=int, default=2,
                    help="unauthenticated connections (default 2)")  # fmt: skip
    ap.add_argument("--bomb-inflight", type=int, default=8,
                    help="requests in flight per connection (default 8)")  # fmt: skip
    ap.add_argument("--bomb-rate", type=float, default=0.0,
                    help="requests a second per bomb sender (default 0: as fast as they are "
                         "answered, a flood)")  # fmt: skip
    ap.add_argument("--bomb-mib", type=float, default=15.0,
                    help="uncompressed size of one bomb request, MiB (default 15)")  # fmt: skip
    ap.add_argument("--bomb-query-bytes", type=int, default=4096,
                    help="value length of each query in a bomb request; longer compresses "
                         "better (default 4096: 15 MiB -> about 21 KB)")  # fmt: skip
    ap.add_argument("--snapshot-streams", type=int, default=40,
                    help="stalled GetSnapshot streams (default 40)")  # fmt: skip
    ap.add_argument("--report-calls", type=int, default=4,
                    help="GetMemberReport calls kept in flight (default 4)")  # fmt: skip
    ap.add_argument("--rss-bound-mib", type=float, default=None,
                    help="the stated bound on the hub's RSS growth in one scenario, MiB: "
                         "the table says whether each stayed within it")  # fmt: skip
    ap.add_argument("--disk-bound-mib", type=float, default=None,
                    help="the stated bound on the disk the hub holds beyond its store's size "
                         "before the scenario, MiB")  # fmt: skip
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = ap.parse_args(argv)
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        ap.error(f"unknown scenario(s): {', '.join(unknown)}")
    if not names or names[0] != "idle":
        names.insert(0, "idle")
    began = time.perf_counter()

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - began:6.1f}s] {msg}", file=sys.stderr, flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="signalhub-hostile-"))
    temp_dir = tmp / "hub-tmp"
    temp_dir.mkdir()
    res: dict[str, Any] = {
        "machine": machine(),
        "command": "python -m benchmarks.hostile "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "config": {k: v for k, v in vars(args).items() if k not in ("json_out", "keep")}
        | {"scenarios": names},
        "goal_ratio": GOAL_RATIO,
        "scenarios": [],
    }
    hub: HubProcess | None = None
    try:
        hub = start_hub(tmp, temp_dir, init=True)
        say(f"hub pid {hub.pid} on {hub.endpoint}")
        keys = add_members(hub, [VICTIM, HOSTILE])
        say(f"the hostile member submits {args.signals:,} signals and {args.linked_signals:,} "
            f"linked by one incident")  # fmt: skip
        setup = populate(hub, keys[HOSTILE], args.signals, args.linked_signals, say)
        res["setup"] = setup["info"]
        hub.stop()
        hub = None
        bound = args.lead_seconds + args.seconds + 10
        # A call may run until the grace period ends; then the attacker gives up on it.
        common = {"max_seconds": bound, "call_timeout_seconds": bound + args.grace_seconds,
                  "grace_seconds": args.grace_seconds}  # fmt: skip
        specs: dict[str, dict[str, Any]] = {
            "victim": {**common, "key": keys[VICTIM], "queries": setup["queries"],
                       "seconds": args.seconds, "lead_seconds": args.lead_seconds},
            "linked": {**common, "key": keys[HOSTILE], "center": setup["center"],
                       "queries": args.linked_queries},
            "bomb": {**common, "senders": args.bomb_senders, "inflight": args.bomb_inflight,
                     "rate": args.bomb_rate,
                     "bomb_bytes": int(args.bomb_mib * 2**20),
                     "query_bytes": args.bomb_query_bytes},
            "snapshots": {**common, "key": keys[HOSTILE], "streams": args.snapshot_streams},
            "reports": {**common, "key": keys[HOSTILE], "calls": args.report_calls},
        }  # fmt: skip
        for i, name in enumerate(names):
            # A hub of its own for each scenario, over the same store: what one attacker
            # leaves behind (memory not given back, work still queued) is not the next's.
            hub = start_hub(tmp, temp_dir, init=False)
            say(f"{name}: {'victim alone' if name == 'idle' else 'victim and attacker'}, "
                f"{args.seconds:g} s (hub pid {hub.pid})")  # fmt: skip
            for spec in specs.values():
                spec.update(endpoint=hub.endpoint, port=hub.port)
            try:
                r = run_scenario(name, hub, temp_dir, specs, args)
            finally:
                log = hub.log_text()
                hub.stop()
                hub.log_path.rename(tmp / f"hub-{i}-{name}.log")
                hub = None
            r["hub"]["tracebacks"] = log.count("Traceback")
            r["hub"]["errors_logged"] = logged_errors(log)
            v = r["victim"]
            say(f"  victim p50 {v.get('p50_ms')} ms, p99 {v.get('p99_ms')} ms, "
                f"hub RSS peak {r['hub']['rss_peak_mib']} MiB, disk peak "
                f"{r['hub']['disk_peak_mib']} MiB")  # fmt: skip
            say(f"  attacker: {attacker_line(name, r['attacker'])}")
            res["scenarios"].append(r)
        compare(res["scenarios"], args.rss_bound_mib, args.disk_bound_mib)
    finally:
        if hub is not None:
            hub.stop()
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    res["seconds"] = round(time.perf_counter() - began, 1)
    print(json.dumps(res, indent=2))
    print()
    for line in table(res):
        print(line)
    if args.json_out:
        args.json_out.write_text(json.dumps(res, indent=2) + "\n")
        say(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
