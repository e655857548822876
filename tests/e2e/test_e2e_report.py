"""The transparency report against a real hub: members submit, match, give opinions, retract,
let a submission expire and follow the feed through the SDK; `signalhub admin report` reads the
data directory (while the hub serves, then after it stopped and flushed its usage counts), and
the HTML is opened in headless Chromium and screenshotted to prove it renders."""

from __future__ import annotations

import csv
import json
import secrets
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hubtools import HubProcess, run_cli
from PIL import Image

from client_sdk import Signal
from exchange.commands import init_data_dir

MEMBERS = ("rptnorthwind", "rptcontoso", "rptfabrikam")


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(page: Path, png: Path, tmp: Path) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium)")
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={tmp / 'chromium-profile'}", f"--screenshot={png}",
         "--window-size=1100,2400", page.as_uri()],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip


def report(
    data_dir: Path, period: tuple[str, ...], out: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return run_cli("admin", "report", "--data-dir", str(data_dir), *period, "--out", str(out),
                   *extra)  # fmt: skip


def test_report_of_a_real_hub(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    hub = HubProcess(data_dir).start(extra=("--expiry-interval", "0.3"))
    try:
        keys = {name: hub.add_member(name, tmp_path) for name in MEMBERS}
        north, contoso, fabrikam = MEMBERS
        # a member following the feed live: the hub counts each event's propagation time
        watcher = hub.client(fabrikam, keys[fabrikam])
        events: list[object] = []
        subscription = watcher.subscribe(events.append)
        hashes = [secrets.token_hex(32) for _ in range(12)]
        with hub.client(north, keys[north]) as client:
            pdq = client.submit([Signal("pdq", h, labels=("csam",)) for h in hashes])
            md5 = client.submit([Signal("md5", secrets.token_hex(16), labels=("sextortion",))
                                 for _ in range(2)])  # fmt: skip
            soon = datetime.now(UTC) + timedelta(seconds=1)
            client.submit([Signal("pdq", secrets.token_hex(32), expires_at=soon)])
            assert client.retract([md5.items[0].signal_id]) == [(md5.items[0].signal_id, True)]
        ids = [item.signal_id for item in pdq.items]
        with hub.client(contoso, keys[contoso]) as client:
            corroborated = client.submit([Signal("pdq", h, labels=("csam",)) for h in hashes[:10]])
            assert {i.status for i in corroborated.items} == {"corroborated"}
            client.submit([Signal("url", "https://example.org/report-test", labels=("grooming",))])
        with hub.client(fabrikam, keys[fabrikam]) as client:
            results = client.match_pdq(hashes + [secrets.token_hex(32) for _ in range(3)])
            assert [len(r.matches) for r in results] == [1] * 12 + [0] * 3
            for sid in ids[:10]:
                client.set_opinion(sid, "true_positive")
            client.set_opinion(ids[11], "false_positive")
        seen = -1
        while seen != len(events):  # until the follower received everything
            seen = len(events)
            time.sleep(0.5)
        subscription.stop()
        watcher.close()
        assert len(events) >= 30
        today = datetime.now(UTC).date()
        period = ("--from", (today - timedelta(days=1)).isoformat(),
                  "--to", (today + timedelta(days=1)).isoformat())  # fmt: skip
        # while the hub serves: a concurrent read-only reader, which sees the whole log (and
        # the expiry once the hub's expiry check ran)
        deadline = time.monotonic() + 15
        while True:
            live = report(
                data_dir, period, tmp_path / "live", "--format", "json", "--min-count", "1"
            )
            assert live.returncode == 0, live.stderr
            serving = json.loads((tmp_path / "live" / "report.json").read_text())
            if serving["summary"]["removals"]["expired_submissions"] == 1:
                break
            assert time.monotonic() < deadline, "the submission did not expire"
            time.sleep(0.2)
        assert serving["summary"]["contributions"]["signals"] == 16
        assert serving["summary"]["corroboration"]["corroborated_signals"] == 10
        assert sorted(p.name for p in (tmp_path / "live").iterdir()) == ["report.json"]
    finally:
        code = hub.stop()  # flushes the usage counts
    assert code == 0

    out = tmp_path / "report"
    result = report(data_dir, period, out)
    assert result.returncode == 0, result.stderr
    assert "report.html" in result.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["report.json", "report.html", "summary.csv", "by_type.csv",
                            "by_label.csv", "trend.csv", "propagation.csv"])  # fmt: skip
    data = json.loads((out / "report.json").read_text())
    s = data["summary"]
    assert data["period"]["days"] == 3 and data["trend_granularity"] == "day"
    # 12 + 1 expiring PDQ, 2 MD5 and a URL; the 10 corroborations add submissions only
    assert s["contributions"] == {"signals": 16, "new_signals": 16, "submissions": 26,
                                  "contributing_members": "<10"}  # fmt: skip
    assert s["corroboration"]["corroborated_signals"] == 10
    assert isinstance(s["corroboration"]["median_hours_to_corroboration"], float)
    assert s["matches"]["queries"] == 15 and s["matches"]["matches"] == 12
    assert s["matches"]["matches_of_signals_from_other_members"] == 12
    assert s["opinions"]["true_positive"] == 10 and s["opinions"]["false_positive"] == "<10"
    assert s["opinions"]["false_positive_share"] == "suppressed"
    assert s["removals"]["retractions"] == "<10"
    assert s["removals"]["expired_submissions"] == "<10"
    # one sample per message a follower received (the newest event in it)
    assert 1 <= s["propagation"]["deliveries"] <= len(events)
    p50, p99 = s["propagation"]["p50"], s["propagation"]["p99"]
    assert p50["from_ms"] <= p99["from_ms"] and p50["to_ms"] is not None
    by_label = {r["label"]: r for r in data["tables"]["by_label"]}
    assert by_label["csam"]["signals"] == 12 and by_label["csam"]["matches"] == 12
    with open(out / "summary.csv", newline="") as f:
        summary = {row["metric"]: row["value"] for row in csv.DictReader(f)}
    assert summary["contributions.signals"] == "16" and summary["matches.matches"] == "12"

    # the operator's own check of the small numbers, with a threshold of 1 (only zeros hidden)
    exact = report(data_dir, period, tmp_path / "exact", "--format", "json", "--min-count", "1")
    assert exact.returncode == 0, exact.stderr
    e = json.loads((tmp_path / "exact" / "report.json").read_text())["summary"]
    assert e["contributions"]["contributing_members"] == 2
    assert (e["opinions"]["false_positive"], e["removals"]["retractions"],
            e["removals"]["expired_submissions"]) == (1, 1, 1)  # fmt: skip

    everything = "".join(p.read_text() for p in out.iterdir())
    for member in MEMBERS:
        assert member not in everything
    page = (out / "report.html").read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page

    png = tmp_path / "report.png"
    screenshot(out / "report.html", png, tmp_path)
    image = Image.open(png).convert("RGB")
    assert image.size == (1100, 2400)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, tables and charts, not a blank page
    inked = sum(n for n, rgb in colours if sum(rgb) < 600)
    assert inked > image.size[0] * image.size[1] // 100


def test_report_refuses_bad_arguments(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init_data_dir(data_dir)
    common = ("admin", "report", "--data-dir", str(data_dir), "--out", str(tmp_path / "o"))
    bad = run_cli(*common, "--from", "2026-11-09", "--to", "2026-11-02")
    assert bad.returncode == 1 and "before it starts" in bad.stderr
    bad = run_cli(*common, "--from", "2026-11-02", "--to", "2026-11-32")
    assert bad.returncode == 1 and "not a date" in bad.stderr
    bad = run_cli(*common, "--from", "2026-11-02", "--to", "2026-11-09", "--format", "pdf")
    assert bad.returncode == 1 and "--format" in bad.stderr
    missing = run_cli("admin", "report", "--data-dir", str(tmp_path / "nothing"), "--from",
                      "2026-11-02", "--to", "2026-11-02", "--out", str(tmp_path / "o"))  # fmt: skip
    assert missing.returncode == 1 and "not a signalhub data directory" in missing.stderr
    empty = run_cli(*common, "--from", "2026-11-02", "--to", "2026-11-02", check=True)
    assert "report.html" in empty.stdout
    data = json.loads((tmp_path / "o" / "report.json").read_text())
    assert data["summary"]["contributions"]["signals"] == "<10"
