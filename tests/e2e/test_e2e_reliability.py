"""Reliability: crashes, a full disk, a capped store and rate limits, on real processes."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import grpc
import pytest
from hubtools import HubProcess, run_cli

from benchmarks.crash import run_campaign
from client_sdk import Client, RetryPolicy, Signal, SignalhubError
from exchange.commands import init_data_dir

ONCE = RetryPolicy(attempts=1)


def test_twenty_kills_lose_no_acknowledged_batch(tmp_path: Path) -> None:
    report = run_campaign(kills=20, clients=3, seed=7, work_dir=tmp_path)
    assert report.problems == []
    assert report.kills == 20 and report.acknowledged > 20
    assert (report.lost, report.duplicated, report.torn, report.feed_gaps) == (0, 0, 0, 0)
    assert report.audit_ok


def _fill_until_refused(client: Client, start: int) -> tuple[int, SignalhubError]:
    n = start
    while True:
        try:
            client.submit([Signal("pdq", f"{n:016x}{i:048x}") for i in range(500)])
        except SignalhubError as e:
            return n, e
        n += 1
        assert n < start + 10_000, "the store never filled up"


def test_full_disk_refuses_writes_keeps_matching_and_recovers(tmp_path: Path) -> None:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({made.stderr.strip()}); the capped "
                    "store test covers the same path")  # fmt: skip
    try:
        data_dir = mount / "data"
        init_data_dir(data_dir)
        hub = HubProcess(data_dir).start()
        key = hub.add_member("acme", tmp_path)
        with hub.client("acme", key, retry=ONCE) as client:
            client.submit([Signal("pdq", "ab" * 32)])
            _, error = _fill_until_refused(client, 1)
            assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert error.retry_after_seconds is not None
            assert client.match_pdq(["ab" * 32], max_distance=0)[0].matches  # reads go on
            subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)
            client.submit([Signal("pdq", "cd" * 32)])  # space returned: writes again
            assert client.match_pdq(["cd" * 32], max_distance=0)[0].matches
        assert hub.stop() == 0
        verified = run_cli("audit", "verify", "--data-dir", str(data_dir))
        assert verified.returncode == 0, verified.stderr
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_capped_store_refuses_writes_with_resource_exhausted(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    hub = HubProcess(data_dir).start(extra=("--max-store-bytes", str(4 * 1024 * 1024)))
    key = hub.add_member("acme", tmp_path)
    try:
        with hub.client("acme", key, retry=ONCE) as client:
            client.submit([Signal("pdq", "ef" * 32)])
            _, error = _fill_until_refused(client, 1)
            assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert client.match_pdq(["ef" * 32], max_distance=0)[0].matches
    finally:
        hub.stop()
    hub.start(extra=("--max-store-bytes", str(64 * 1024 * 1024)))  # the operator raised it
    try:
        with hub.client("acme", key, retry=ONCE) as client:
            client.submit([Signal("pdq", "fe" * 32)])
    finally:
        hub.stop()


def test_rate_limit_answers_with_retry_info_and_the_sdk_waits(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    hub = HubProcess(data_dir).start(extra=("--rate-limit", "5", "--rate-burst", "5"))
    key = hub.add_member("acme", tmp_path)
    try:
        with hub.client("acme", key, retry=ONCE) as client:
            for _ in range(5):
                client.match_pdq(["01" * 32])
            with pytest.raises(SignalhubError) as info:
                client.match_pdq(["01" * 32])
            assert info.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert 0 < (info.value.retry_after_seconds or 0) <= 0.25
        patient = Client(hub.endpoint, "acme", key,
                         retry=RetryPolicy(attempts=5, initial_backoff_seconds=0.01))  # fmt: skip
        with patient:
            started = time.monotonic()
            for _ in range(8):  # beyond the burst: the SDK waits as the hub asks
                patient.match_pdq(["01" * 32])
            assert time.monotonic() - started > 0.5
        with hub.admin() as admin:  # the operator is not limited
            for _ in range(20):
                admin.list_members()
    finally:
        hub.stop()


def test_rate_limiter_refills_over_time() -> None:
    from exchange.errors import HubError
    from exchange.limits import RateLimiter

    limiter = RateLimiter(rate=2, burst=2)
    limiter.check("a", now=0.0)
    limiter.check("a", now=0.0)
    with pytest.raises(HubError) as info:
        limiter.check("a", now=0.0)
    assert info.value.retry_after_seconds == pytest.approx(0.5)
    limiter.check("b", now=0.0)  # members do not share a bucket
    limiter.check("a", now=0.5)
