"""benchmarks.hostile in a tiny mode on a real hub: every scenario runs to the end and reports
what the victim and the attacker saw (the figures themselves are the benchmark's business)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.hostile import SCENARIOS, HpackDecoder, hpack_int, hpack_literal, main


def test_hpack_literals_and_long_integers_decode_to_what_was_encoded() -> None:
    block = b"\x88" + hpack_literal("grpc-status", "16") + hpack_literal("x-long", "v" * 300)
    assert hpack_int(300, 7) == b"\x7f\xad\x01"
    fields = HpackDecoder().decode(block)
    assert fields == {":status": "200", "grpc-status": "16", "x-long": "v" * 300}


def test_hpack_huffman_values_come_out_unknown_and_indexed_names_resolve() -> None:
    decoder = HpackDecoder()
    # literal with incremental indexing of content-type (static name 31), then indexed (62)
    fields = decoder.decode(b"\x5f\x10application/grpc" + b"\x00\x03x-h\x82\xff\xff" + b"\xbe")
    assert fields == {"content-type": "application/grpc", "x-h": None}
    assert decoder.table == [("content-type", "application/grpc")]


def test_tiny_run_reports_every_scenario_without_crashing(tmp_path: Path) -> None:
    out = tmp_path / "hostile.json"
    args = ["--signals", "2000", "--seconds", "1", "--lead-seconds", "0.5",
            "--settle-seconds", "5", "--linked-signals", "200", "--linked-queries", "20",
            "--bomb-mib", "1", "--bomb-inflight", "2", "--snapshot-streams", "3",
            "--report-calls", "2", "--rss-bound-mib", "100000", "--json-out", str(out)]  # fmt: skip
    assert main(args) == 0
    res = json.loads(out.read_text())
    names = [r["name"] for r in res["scenarios"]]
    assert names == ["idle", *SCENARIOS[1:], "idle"]
    by_name = {r["name"]: r for r in res["scenarios"]}
    for r in res["scenarios"]:
        assert "error" not in r["victim"], r["victim"]
        assert r["victim"]["ok"] > 0 and r["hub"]["alive"]
        assert r["hub"]["rss_peak_mib"] > 0 and r["hub"]["disk_peak_mib"] > 0
        assert r["ratio"]["p50"] is not None and r["within_bounds"] is True
        if r["name"] != "idle":
            assert "error" not in r["attacker"], r["attacker"]
    linked = by_name["linked"]["attacker"]
    assert linked["calls"] + linked["cancelled_at_end"] >= 1
    bomb = by_name["bomb"]["attacker"]
    assert bomb["requests"] > 0 and bomb["request_parsed_bytes"] > 20 * bomb["request_wire_bytes"]
    # unauthenticated: never answered, and every answer's status was read
    assert not any(k.startswith(("OK", "?")) for k in bomb["outcomes"]), bomb["outcomes"]
    assert by_name["snapshots"]["attacker"]["streams"] == 3
    reports = by_name["reports"]["attacker"]
    assert reports["calls"] + reports["cancelled_at_end"] >= 2
