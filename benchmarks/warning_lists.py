"""Benchmark the starter warning list (issue 21.1): what it removes, what it costs.

Run from the repository root::

    python -m benchmarks.warning_lists --hashes 10000000 --out /tmp/warning_lists.json
    python -m benchmarks.warning_lists --hashes 1000000      # quick

(a) Effect, at the PDQ threshold 31. Stored: the originals of tests/imagetools.py photos
(seeds 0..N-1) and a held-out set of degenerate images drawn with other parameters than the
list was built from (scripts/build_starter_warning_list.py's HELD_OUT: other grey levels,
angles, periods, strings, bar sizes, noise seed), those of quality >= 50. Queried: each photo's
edited copy (tests/imagetools.py save_edited_copy) and each held-out degenerate image plus its
JPEG (quality 70) copy. Counted without the list and with pairs whose query or stored value
the list flags excluded: degenerate false matches (a degenerate query matching a stored
degenerate image other than its own source, or a photo), recall of edited copies (copy ->
its original) and photos flagged. The peer is the same search without the list; the list's
max_distance is swept to show where genuine photos start to be flagged.

(b) Match-path overhead at --hashes: a matcher.PDQIndex of uniform random hashes with the
list's entries, near-copies of them and photo hashes planted; single-query latency of
`index.search` alone against `index.search` + `WarningIndex.flags` over the query and the
matched values (what the hub does per query), alternating on the same queries in the same
run; p50/p99 per round, medians of --rounds rounds.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from benchmarks.match import machine
from client_sdk.hashing import pdq_from_image, pdq_from_pixels
from matcher import PDQIndex
from signalhub.v1 import coalition_pb2
from signalhub.warnings import WarningIndex
from tests.imagetools import photo, save_edited_copy

ROOT = Path(__file__).resolve().parent.parent
THRESHOLD = 31
U8 = npt.NDArray[np.uint8]


def _script() -> ModuleType:
    path = ROOT / "scripts" / "build_starter_warning_list.py"
    spec = importlib.util.spec_from_file_location("build_starter_warning_list", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def warning_index(entries: list[dict[str, str]], max_distance: int) -> WarningIndex:
    message = coalition_pb2.WarningList(name="degenerate-images", max_distance=max_distance)
    message.entries.extend(coalition_pb2.WarningEntry(**e) for e in entries)
    return WarningIndex([message], version=1)


def raw(hexes: list[str]) -> U8:
    return np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint8).reshape(-1, 32)


def jpeg_copy(pixels: U8) -> U8:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=70)
    buf.seek(0)
    with Image.open(buf) as image:
        return np.asarray(image.convert("RGB"))


# ----------------------------------------------------------------- (a) effect


def image_set(script: ModuleType, photos: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    originals, edited = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(photos):
            originals.append(pdq_from_pixels(np.asarray(photo(seed))).hex)
            edited.append(pdq_from_image(save_edited_copy(Path(tmp) / "e.jpg", seed)).hex)
    degenerate: list[tuple[str, str]] = []
    degenerate_queries: list[tuple[int, str]] = []
    generated = 0
    for note, pixels in script.degenerate_images(script.HELD_OUT):
        generated += 1
        own = pdq_from_pixels(pixels)
        if own.quality < script.MIN_QUALITY:
            continue
        source = len(degenerate)
        degenerate.append((note, own.hex))
        degenerate_queries.append((source, own.hex))
        copy = pdq_from_pixels(jpeg_copy(pixels))
        if copy.quality >= script.MIN_QUALITY:
            degenerate_queries.append((source, copy.hex))
    return {
        "originals": originals,
        "edited": edited,
        "degenerate": degenerate,
        "degenerate_queries": degenerate_queries,
        "held_out_generated": generated,
        "hash_seconds": time.perf_counter() - t0,
    }


def effect(
    data: dict[str, Any], entries: list[dict[str, str]], max_distance: int
) -> dict[str, Any]:
    originals: list[str] = data["originals"]
    degenerate = [h for _, h in data["degenerate"]]
    stored = originals + degenerate
    n_photos = len(originals)
    index = PDQIndex()
    index.add(np.arange(len(stored), dtype=np.uint64), raw(stored))
    warnings = warning_index(entries, max_distance)
    stored_flagged = [bool(f) for f in warnings.flags([("pdq", h) for h in stored])]

    # Degenerate queries: every match except the query's own source image is false.
    dq = data["degenerate_queries"]
    lims, ids, _ = index.search(raw([h for _, h in dq]), max_distance=THRESHOLD)
    q_flagged = [bool(f) for f in warnings.flags([("pdq", h) for _, h in dq])]
    false_without = false_with = false_photo_without = false_photo_with = 0
    for i, (source, _) in enumerate(dq):
        for sid in ids[lims[i] : lims[i + 1]].tolist():
            if sid == n_photos + source:
                continue
            false_without += 1
            false_photo_without += sid < n_photos
            if not (q_flagged[i] or stored_flagged[sid]):
                false_with += 1
                false_photo_with += sid < n_photos

    edited: list[str] = data["edited"]
    lims, ids, _ = index.search(raw(edited), max_distance=THRESHOLD)
    e_flagged = [bool(f) for f in warnings.flags([("pdq", h) for h in edited])]
    found_without = found_with = 0
    for i in range(len(edited)):
        if i in ids[lims[i] : lims[i + 1]].tolist():
            found_without += 1
            found_with += not (e_flagged[i] or stored_flagged[i])
    return {
        "max_distance": max_distance,
        "degenerate_queries": len(dq),
        "degenerate_false_matches_without_list": false_without,
        "degenerate_false_matches_with_list": false_with,
        "of_which_on_photos_without_list": false_photo_without,
        "of_which_on_photos_with_list": false_photo_with,
        "recall_without_list": found_without / len(edited),
        "recall_with_list": found_with / len(edited),
        "photos_flagged": sum(stored_flagged[:n_photos]) + sum(e_flagged),
        "degenerate_stored_flagged": sum(stored_flagged[n_photos:]),
        "degenerate_queries_flagged": sum(q_flagged),
    }


def nearest_listed(data: dict[str, Any], entries: list[dict[str, str]]) -> int:
    """The smallest distance from any photo or edited copy to any listed value."""
    listed = np.unpackbits(raw([e["value"] for e in entries]), axis=1)
    genuine = np.unpackbits(raw(data["originals"] + data["edited"]), axis=1)
    best = 256
    for row in listed:
        best = min(best, int((genuine != row).sum(axis=1).min()))
    return best


# --------------------------------------------------------------- (b) overhead


def overhead(
    data: dict[str, Any], entries: list[dict[str, str]], max_distance: int, n: int, rounds: int
) -> dict[str, Any]:
    rng = np.random.default_rng(21)
    t0 = time.perf_counter()
    planted = raw([e["value"] for e in entries] + data["originals"][:1000])
    hashes = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    hashes[: len(planted)] = planted
    index = PDQIndex()
    index.add(np.arange(n, dtype=np.uint64), hashes)
    build_s = time.perf_counter() - t0
    warnings = warning_index(entries, max_distance)

    # Queries: a third edited copies (match a planted photo), a third near-copies of listed
    # values (5 bits flipped: match and flagged), a third unrelated.
    k = 100
    near = raw([e["value"] for e in entries])[rng.integers(0, len(entries), k)].copy()
    for row in near:
        for b in rng.choice(256, 5, replace=False):
            row[b // 8] ^= np.uint8(1 << (b % 8))
    queries = np.concatenate(
        [raw(data["edited"][:k]), near, rng.integers(0, 256, (k, 32), dtype=np.uint8)]
    )
    queries = queries[rng.permutation(len(queries))]
    hexes = [q.tobytes().hex() for q in queries]

    def search_only(i: int) -> float:
        lims, _ids, _d = index.search(queries[i : i + 1], max_distance=THRESHOLD)
        return float(lims[1])

    def search_and_flag(i: int) -> float:
        """Searches and flags; returns the time the flags part took (ms)."""
        _lims, ids, _d = index.search(queries[i : i + 1], max_distance=THRESHOLD)
        t = time.perf_counter()
        values = [("pdq", hexes[i])]
        values += [("pdq", hashes[int(j)].tobytes().hex()) for j in ids.tolist()]
        warnings.flags(values)
        return (time.perf_counter() - t) * 1e3

    # The second search of the same query finds its buckets in cache: which path goes first
    # alternates query by query, so each path is first for half of them.
    paths = (("search", search_only), ("search+flags", search_and_flag))
    per_round = []
    for _ in range(rounds):
        times: dict[str, list[float]] = {"search": [], "search+flags": [], "flags part": []}
        for i in range(len(queries)):
            for name, fn in paths if i % 2 == 0 else paths[::-1]:
                t = time.perf_counter()
                part = fn(i)
                times[name].append((time.perf_counter() - t) * 1e3)
                if name == "search+flags":
                    times["flags part"].append(part)
        per_round.append(
            {
                name: {"p50_ms": float(np.percentile(v, 50)), "p99_ms": float(np.percentile(v, 99))}
                for name, v in times.items()
            }
        )
    med = {
        name: {
            stat: statistics.median(r[name][stat] for r in per_round)
            for stat in ("p50_ms", "p99_ms")
        }
        for name in ("search", "search+flags", "flags part")
    }
    return {
        "hashes": n,
        "build_seconds": build_s,
        "queries": len(queries),
        "rounds": rounds,
        "per_round": per_round,
        "median": med,
        "overhead_p50_us": 1e3 * (med["search+flags"]["p50_ms"] - med["search"]["p50_ms"]),
        "overhead_p99_us": 1e3 * (med["search+flags"]["p99_ms"] - med["search"]["p99_ms"]),
        "overhead_p50_percent": 100 * (med["search+flags"]["p50_ms"] / med["search"]["p50_ms"] - 1),
        "overhead_p99_percent": 100 * (med["search+flags"]["p99_ms"] / med["search"]["p99_ms"] - 1),
    }


# ----------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--hashes", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sweep", default="0,4,8,10,12,14,16,20,24,31")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    script = _script()
    starter = json.loads(script.OUT.read_text(encoding="utf-8"))
    entries, listed_distance = starter["entries"], starter["max_distance"]

    data = image_set(script, args.photos)
    sweep = [effect(data, entries, int(d)) for d in args.sweep.split(",")]
    at_list = effect(data, entries, listed_distance)
    nearest = nearest_listed(data, entries)
    cost = overhead(data, entries, listed_distance, args.hashes, args.rounds)
    result = {
        "machine": machine(),
        "list": {"entries": len(entries), "max_distance": listed_distance},
        "photos": args.photos,
        "held_out_generated": data["held_out_generated"],
        "held_out_stored": len(data["degenerate"]),
        "hash_seconds": data["hash_seconds"],
        "nearest_genuine_to_listed_bits": nearest,
        "effect": at_list,
        "sweep": sweep,
        "overhead": cost,
    }
    print(json.dumps(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))

    print(f"\nlist: {len(entries)} entries, max_distance {listed_distance}; {args.photos} photos; ")
    print(
        f"held-out degenerate: {data['held_out_generated']} generated, "
        f"{len(data['degenerate'])} of quality >= 50; nearest genuine hash to a listed one: "
        f"{nearest} bits\n"
    )
    print("| max_distance | degenerate false matches | on photos | recall | photos flagged |")
    print("|---:|---:|---:|---:|---:|")
    e = sweep[0]
    print(
        f"| no list | {e['degenerate_false_matches_without_list']} | "
        f"{e['of_which_on_photos_without_list']} | {e['recall_without_list']:.4f} | - |"
    )
    for e in sweep:
        print(
            f"| {e['max_distance']} | {e['degenerate_false_matches_with_list']} | "
            f"{e['of_which_on_photos_with_list']} | {e['recall_with_list']:.4f} | "
            f"{e['photos_flagged']} |"
        )
    med = cost["median"]
    print(
        f"\n{cost['hashes']:,} hashes (build {cost['build_seconds']:.1f} s), "
        f"{cost['queries']} queries"
    )
    print("| path | p50 ms | p99 ms |\n|---|---:|---:|")
    for name in ("search", "search+flags", "flags part"):
        print(f"| {name} | {med[name]['p50_ms']:.4f} | {med[name]['p99_ms']:.4f} |")
    print(
        f"overhead: p50 {cost['overhead_p50_percent']:+.1f}% ({cost['overhead_p50_us']:+.1f} us), "
        f"p99 {cost['overhead_p99_percent']:+.1f}% ({cost['overhead_p99_us']:+.1f} us)"
    )


if __name__ == "__main__":
    main()
