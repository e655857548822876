"""Benchmark matcher.PDQIndex against numpy brute force and faiss, one thread.

Run from the repository root::

    python -m benchmarks.match --sizes 1000000,10000000 --out /tmp/match.json

Datasets are generated here: uniform random 256-bit hashes of each requested size,
and ("pdq") real PDQ hashes of synthetic images (random shapes and noise drawn with
Pillow) indexed among uniform background hashes, queried with edited copies
(resized, JPEG re-encoded, brightened, watermarked, cropped 2% per side) and unrelated images.
Two datasets shaped like real hash lists (benchmarks/hash_lists.py) are optional:
``--families-sizes`` (families of near-duplicates among unrelated hashes) and
``--photo-sizes`` (PDQ hashes of crops of real photographs found on the machine, stored with
edited copies among uniform hashes)::

    python -m benchmarks.match --no-pdq --sizes 10000000 --families-sizes 10000000 \
        --photo-sizes 10000000 --multihash-max 0

Compared in one process: numpy brute force (on a query subsample),
faiss IndexBinaryFlat (exact; range_search with radius + 1 because faiss is strict),
faiss IndexBinaryMultiHash(256, nhash=16, b=16) with nflip = radius // 16 as
python-threatexchange's PDQMultiHashIndex configures it, and matcher.PDQIndex.
Every answer of ours is checked against faiss flat (all batch queries) and numpy
brute force (subsample).
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.hash_lists import families_dataset, find_photos, photo_dataset
from matcher import PDQIndex
from matcher.pdq_index import has_compiled_core

U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
Result = tuple[npt.NDArray[np.int64], U64, npt.NDArray[np.int64]]


# ------------------------------------------------------------------ machine


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "mem_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "compiled_core": has_compiled_core(),
        "platform": platform.platform(),
    }
    try:
        import faiss

        info["faiss"] = faiss.__version__
    except ImportError:
        info["faiss"] = None
    return info


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# ----------------------------------------------------------------- datasets


def flip(rng: np.random.Generator, h: U8, k: int) -> U8:
    out = h.copy()
    for b in rng.choice(256, size=k, replace=False):
        out[b // 8] ^= np.uint8(1 << (b % 8))
    return out


def uniform_dataset(rng: np.random.Generator, n: int, nq: int) -> tuple[U8, U8]:
    """n uniform hashes; nq queries: half near-duplicates (10-25 bits), half unrelated."""
    hashes = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    src = rng.integers(0, n, nq // 2)
    near = [flip(rng, hashes[int(i)], int(rng.integers(10, 26))) for i in src]
    far = rng.integers(0, 256, size=(nq - nq // 2, 32), dtype=np.uint8)
    queries = np.concatenate([np.array(near, dtype=np.uint8).reshape(-1, 32), far])
    return hashes, queries[rng.permutation(nq)]


def synthetic_image(rng: np.random.Generator, size: int = 256) -> Any:
    from PIL import Image, ImageDraw, ImageFilter

    def colour() -> tuple[int, int, int]:
        r, g, b = (int(x) for x in rng.integers(0, 256, 3))
        return (r, g, b)

    im = Image.new("RGB", (size, size), colour())
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(5, 25))):
        x0, y0 = (int(v) for v in rng.integers(-size // 4, size, 2))
        x1, y1 = x0 + int(rng.integers(8, size // 2)), y0 + int(rng.integers(8, size // 2))
        kind = int(rng.integers(0, 4))
        if kind == 0:
            draw.ellipse([x0, y0, x1, y1], fill=colour())
        elif kind == 1:
            draw.rectangle([x0, y0, x1, y1], fill=colour())
        elif kind == 2:
            draw.line([x0, y0, x1, y1], fill=colour(), width=int(rng.integers(1, 12)))
        else:
            pts = [(int(a), int(b)) for a, b in rng.integers(0, size, (int(rng.integers(3, 7)), 2))]
            draw.polygon(pts, fill=colour())
    noise = rng.normal(0, float(rng.uniform(0, 25)), (size, size, 3))
    arr = np.clip(np.asarray(im, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    out = Image.fromarray(arr)
    if rng.random() < 0.5:
        out = out.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.0))))
    return out


def edits(rng: np.random.Generator, im: Any) -> list[tuple[str, Any]]:
    from PIL import Image, ImageDraw, ImageEnhance

    w, h = im.size
    half = im.resize((w // 2, h // 2), Image.Resampling.BILINEAR)
    out: list[tuple[str, Any]] = [("resize", half)]
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=int(rng.integers(20, 60)))
    buf.seek(0)
    out.append(("jpeg", Image.open(buf).convert("RGB")))
    out.append(("brighten", ImageEnhance.Brightness(im).enhance(float(rng.uniform(1.2, 1.5)))))
    wm = im.copy()
    d = ImageDraw.Draw(wm)
    d.rectangle([w - w // 3, h - h // 8, w - 4, h - 4], fill=(255, 255, 255))
    d.text((w - w // 3 + 4, h - h // 8 + 2), "(c) signalhub", fill=(0, 0, 0))
    out.append(("watermark", wm))
    c = max(1, w // 50)
    out.append(("crop2", im.crop((c, c, w - c, h - c))))
    return out


def pdq_of(im: Any) -> tuple[U8, int]:
    import pdqhash

    bits, quality = pdqhash.compute(np.asarray(im.convert("RGB"), dtype=np.uint8))
    return np.packbits(np.asarray(bits, dtype=np.uint8)), int(quality)


@dataclass
class PDQData:
    originals: U8
    queries: U8
    labels: list[str]  # edit kind, or "unrelated"
    source: list[int]  # index into originals, -1 for unrelated


def pdq_dataset(rng: np.random.Generator, n_images: int, n_unrelated: int) -> PDQData:
    originals: list[U8] = []
    queries: list[U8] = []
    labels: list[str] = []
    source: list[int] = []
    for i in range(n_images):
        im = synthetic_image(rng)
        originals.append(pdq_of(im)[0])
        for kind, e in edits(rng, im):
            queries.append(pdq_of(e)[0])
            labels.append(kind)
            source.append(i)
    for _ in range(n_unrelated):
        queries.append(pdq_of(synthetic_image(rng))[0])
        labels.append("unrelated")
        source.append(-1)
    return PDQData(np.array(originals), np.array(queries), labels, source)


# ------------------------------------------------------------------ methods


def normalise(qidx: npt.NDArray[np.int64], ids: U64, d: npt.NDArray[np.int64], nq: int) -> Result:
    order = np.lexsort((ids, d, qidx))
    lims = np.zeros(nq + 1, dtype=np.int64)
    np.cumsum(np.bincount(qidx, minlength=nq), out=lims[1:])
    return lims, ids[order], d[order]


class Method:
    name = ""

    def build(self, ids: U64, hashes: U8) -> None:
        raise NotImplementedError

    def search(self, queries: U8, radius: int) -> Any:
        raise NotImplementedError

    def result(self, raw: Any, nq: int) -> Result:
        raise NotImplementedError

    def array_bytes(self) -> int | None:
        return None


class Ours(Method):
    name = "matcher.PDQIndex"

    def __init__(self) -> None:
        self.idx = PDQIndex()

    def build(self, ids: U64, hashes: U8) -> None:
        self.idx.add(ids, hashes)

    def search(self, queries: U8, radius: int) -> Any:
        return self.idx.search(queries, max_distance=radius)

    def result(self, raw: Any, nq: int) -> Result:
        lims, ids, d = raw
        return lims, ids, d.astype(np.int64)

    def array_bytes(self) -> int | None:
        return self.idx.memory_bytes()


class NumpyBrute(Method):
    name = "numpy brute force"

    def build(self, ids: U64, hashes: U8) -> None:
        self.ids = ids.copy()
        self.words = np.ascontiguousarray(hashes).view(np.uint64).copy()

    def search(self, queries: U8, radius: int) -> Any:
        qw = np.ascontiguousarray(queries).view(np.uint64)
        out_q: list[npt.NDArray[np.int64]] = []
        out_i: list[U64] = []
        out_d: list[npt.NDArray[np.int64]] = []
        block = 1 << 20
        for j in range(qw.shape[0]):
            for s in range(0, self.words.shape[0], block):
                d = np.bitwise_count(self.words[s : s + block] ^ qw[j]).sum(axis=1)
                hit = np.flatnonzero(d <= radius)
                out_q.append(np.full(hit.shape[0], j, dtype=np.int64))
                out_i.append(self.ids[s + hit])
                out_d.append(d[hit].astype(np.int64))
        return out_q, out_i, out_d

    def result(self, raw: Any, nq: int) -> Result:
        q, i, d = (np.concatenate(x) if x else np.zeros(0) for x in raw)
        return normalise(q.astype(np.int64), i.astype(np.uint64), d.astype(np.int64), nq)

    def array_bytes(self) -> int | None:
        return int(self.ids.nbytes + self.words.nbytes)


class FaissFlat(Method):
    name = "faiss IndexBinaryFlat"

    def build(self, ids: U64, hashes: U8) -> None:
        import faiss

        self.ids = ids
        self.index = faiss.IndexBinaryFlat(256)
        self.index.add(np.ascontiguousarray(hashes))

    def search(self, queries: U8, radius: int) -> Any:
        return self.index.range_search(queries, radius + 1)  # faiss: strict "<"

    def result(self, raw: Any, nq: int) -> Result:
        lims, d, labels = raw
        qidx = np.repeat(np.arange(nq, dtype=np.int64), np.diff(lims.astype(np.int64)))
        return normalise(qidx, self.ids[labels], d.astype(np.int64), nq)


class FaissMultiHash(Method):
    """As python-threatexchange PDQMultiHashIndex: IndexBinaryIDMap2 over
    IndexBinaryMultiHash(256, 16, 16), nflip = threshold // 16, range_search(t + 1)."""

    name = "faiss MultiHash(16x16b) [pytx]"

    def build(self, ids: U64, hashes: U8) -> None:
        import faiss

        self.mih = faiss.IndexBinaryMultiHash(256, 16, 16)
        self.index = faiss.IndexBinaryIDMap2(self.mih)
        self.index.add_with_ids(np.ascontiguousarray(hashes), ids.astype(np.int64))

    def search(self, queries: U8, radius: int) -> Any:
        self.mih.nflip = radius // 16
        return self.index.range_search(queries, radius + 1)

    def result(self, raw: Any, nq: int) -> Result:
        lims, d, labels = raw
        qidx = np.repeat(np.arange(nq, dtype=np.int64), np.diff(lims.astype(np.int64)))
        return normalise(qidx, labels.astype(np.uint64), d.astype(np.int64), nq)


def same(a: Result, b: Result) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def probe_profile(idx: PDQIndex, queries: U8, radius: int) -> dict[str, float] | None:
    """Mean random memory reads per query of our multi-index search: buckets probed, buckets
    with rows (each costs a rows-array read) and candidates (each a 32-byte row read).

    These reads miss every cache at N = 10M, so they, not arithmetic, bound throughput."""
    from matcher import pdq_index as pdq

    tables = idx._tables
    if tables is None or idx._d_n:
        return None
    n = int(idx._b_ids.shape[0])
    radii = pdq._plan(tables.widths, n, radius)
    if radii is None:
        return None
    qw = pdq._as_words(queries)
    buckets = nonempty = cands = 0
    for c, t in enumerate(radii):
        if t < 0:
            continue
        masks = pdq._masks(tables.widths[c], t)
        v = pdq._chunk_values(qw, tables.los[c], tables.widths[c])
        b = (v[:, None] ^ masks[None, :]).ravel()
        size = tables.offsets[c][b + 1].astype(np.int64) - tables.offsets[c][b]
        buckets += b.shape[0]
        nonempty += int(np.count_nonzero(size))
        cands += int(size.sum())
    nq = queries.shape[0]
    return {"buckets": buckets / nq, "nonempty_buckets": nonempty / nq, "candidates": cands / nq}


@dataclass
class Timing:
    build_s: float = 0.0
    rss_bytes_per_hash: float = 0.0
    array_bytes_per_hash: float | None = None
    single_p50_ms: float = 0.0
    single_p99_ms: float = 0.0
    single_n: int = 0
    batch_qps: float = 0.0
    batch_n: int = 0
    batch_note: str = ""
    exact_vs_reference: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def time_method(
    m: Method,
    ids: U64,
    hashes: U8,
    queries: U8,
    radius: int,
    n_single: int,
    batch_queries: U8,
    batch_repeats: int,
) -> tuple[Timing, Result]:
    gc.collect()
    r0 = rss_bytes()
    t0 = time.perf_counter()
    m.build(ids, hashes)
    build = time.perf_counter() - t0
    gc.collect()
    n = hashes.shape[0]
    t = Timing(build_s=build, rss_bytes_per_hash=(rss_bytes() - r0) / n)
    ab = m.array_bytes()
    t.array_bytes_per_hash = None if ab is None else ab / n
    single: list[float] = []
    for j in range(min(3, queries.shape[0])):  # warm-up
        m.search(queries[j : j + 1], radius)
    for j in range(min(n_single, queries.shape[0])):
        s = time.perf_counter()
        m.search(queries[j : j + 1], radius)
        single.append(time.perf_counter() - s)
    arr = np.array(single) * 1e3
    t.single_p50_ms = float(np.median(arr)) if arr.size else float("nan")
    t.single_p99_ms = float(np.percentile(arr, 99)) if arr.size else float("nan")
    t.single_n = len(single)
    runs: list[float] = []
    raw: Any = None
    for _ in range(batch_repeats):
        s = time.perf_counter()
        raw = m.search(batch_queries, radius)
        runs.append(time.perf_counter() - s)
    t.batch_qps = batch_queries.shape[0] / float(np.median(runs))
    t.batch_n = batch_queries.shape[0]
    return t, m.result(raw, batch_queries.shape[0])


def print_table(title: str, rows: dict[str, Timing]) -> None:
    print(f"\n== {title}")
    hdr = (
        f"{'method':34} {'build s':>8} {'RSS B/h':>8} {'arr B/h':>8} {'1q p50 ms':>10} "
        f"{'1q p99 ms':>10} {'batch q/s':>10} {'exact':>6}"
    )
    print(hdr)
    print("-" * len(hdr))
    for name, t in rows.items():
        arr = "-" if t.array_bytes_per_hash is None else f"{t.array_bytes_per_hash:.1f}"
        ex = "-" if t.exact_vs_reference is None else ("yes" if t.exact_vs_reference else "NO")
        print(
            f"{name:34} {t.build_s:8.2f} {t.rss_bytes_per_hash:8.1f} {arr:>8} "
            f"{t.single_p50_ms:10.3f} {t.single_p99_ms:10.3f} {t.batch_qps:10.0f}{t.batch_note} "
            f"{ex:>6}"
        )


def run_dataset(
    name: str,
    hashes: U8,
    queries: U8,
    args: argparse.Namespace,
    rng: np.random.Generator,
) -> dict[str, Any]:
    n = hashes.shape[0]
    ids = rng.permutation(n).astype(np.uint64)  # shuffled ids: build includes the id sort
    radius = args.radius
    rows: dict[str, Timing] = {}
    results: dict[str, Result] = {}
    sub = queries[: args.brute_queries]
    methods: list[tuple[Callable[[], Method], bool]] = [(Ours, True)]
    if not args.no_faiss:
        import faiss

        faiss.omp_set_num_threads(1)
        methods.append((FaissFlat, True))
        if n <= args.multihash_max:
            methods.append((FaissMultiHash, True))
    methods.append((NumpyBrute, False))
    for make, full_batch in methods:
        m = make()
        print(f"  [{name}] {m.name} ...", file=sys.stderr, flush=True)
        if full_batch:
            slow = isinstance(m, FaissFlat | FaissMultiHash)
            n_single = args.single if not slow else min(args.single, args.single_slow)
            t, res = time_method(
                m, ids, hashes, queries, radius, n_single, queries, 1 if slow else 3
            )
        else:  # numpy brute force: subsample, throughput extrapolated
            n_single = min(args.brute_queries, 10)
            t, res = time_method(m, ids, hashes, sub, radius, n_single, sub, 1)
            t.batch_note = "*"
        rows[m.name] = t
        results[m.name] = res
        del m
        gc.collect()
    ours = results[Ours.name]
    cut_o = ours[0][len(sub)]
    ours_sub = (ours[0][: len(sub) + 1], ours[1][:cut_o], ours[2][:cut_o])
    brute = results[NumpyBrute.name]
    rows[Ours.name].extra["exact_vs_numpy_brute_subsample"] = same(ours_sub, brute)
    if FaissFlat.name in results:
        flat = results[FaissFlat.name]
        rows[Ours.name].exact_vs_reference = same(ours, flat)
        rows[FaissFlat.name].exact_vs_reference = True
        cut = flat[0][len(sub)]
        flat_sub = (flat[0][: len(sub) + 1], flat[1][:cut], flat[2][:cut])
        rows[NumpyBrute.name].exact_vs_reference = same(brute, flat_sub)
        if FaissMultiHash.name in results:
            rows[FaissMultiHash.name].exact_vs_reference = same(results[FaissMultiHash.name], flat)
    else:
        rows[Ours.name].exact_vs_reference = rows[Ours.name].extra["exact_vs_numpy_brute_subsample"]
    # exactness of ours at other radii, against numpy brute force on a few queries
    radii_ok: dict[str, bool] = {}
    idx = PDQIndex()
    idx.add(ids, hashes)
    prof = probe_profile(idx, queries, radius)
    if prof is not None:
        rows[Ours.name].extra["reads_per_query"] = prof
    nb = NumpyBrute()
    nb.build(ids, hashes)
    few = queries[: args.check_queries]
    for r in args.check_radii:
        got = idx.search(few, r)
        radii_ok[str(r)] = same(
            (got[0], got[1], got[2].astype(np.int64)), nb.result(nb.search(few, r), len(few))
        )
    del idx, nb
    gc.collect()
    rows[Ours.name].extra["exact_at_radii_vs_numpy"] = radii_ok
    if name == "uniform":  # clean RSS figure from a fresh process (no reused heap)
        probe = memprobe_subprocess(n, args.seed)
        if probe is not None:
            rows[Ours.name].extra["fresh_process_memprobe"] = probe
            rows[Ours.name].rss_bytes_per_hash = probe["rss_delta_bytes_per_hash"]
    print_table(f"{name}: N={n:,}, radius {radius}, {len(queries)} queries", rows)
    out: dict[str, Any] = {
        "dataset": name,
        "n": n,
        "radius": radius,
        "queries": len(queries),
        "matches_in_batch": int(ours[0][-1]),
        "methods": {k: vars(v) for k, v in rows.items()},
    }
    if FaissFlat.name in rows:
        f, o = rows[FaissFlat.name], rows[Ours.name]
        out["ratios_vs_faiss_flat"] = {
            "single_p50_speedup": f.single_p50_ms / o.single_p50_ms,
            "batch_qps_speedup": o.batch_qps / f.batch_qps,
        }
        rf = out["ratios_vs_faiss_flat"]
        print(
            f"  ours vs faiss flat: single-query p50 {rf['single_p50_speedup']:.1f}x"
            f" faster, batch {rf['batch_qps_speedup']:.1f}x"
        )
    if FaissMultiHash.name in rows:
        f, o = rows[FaissMultiHash.name], rows[Ours.name]
        out["ratios_vs_faiss_multihash"] = {
            "single_p50_speedup": f.single_p50_ms / o.single_p50_ms,
            "batch_qps_speedup": o.batch_qps / f.batch_qps,
        }
        print(
            f"  ours vs faiss multihash: single-query p50 "
            f"{out['ratios_vs_faiss_multihash']['single_p50_speedup']:.1f}x faster, batch "
            f"{out['ratios_vs_faiss_multihash']['batch_qps_speedup']:.1f}x"
        )
    print(f"  exactness at radii {radii_ok}; * = numpy throughput from {len(sub)} queries")
    if prof is not None:
        print(
            "  ours, random reads per query: "
            + ", ".join(f"{k} {v:,.0f}" for k, v in prof.items())
            + f"; matches per query {ours[0][-1] / len(queries):.2f}"
        )
    if "fresh_process_memprobe" in rows[Ours.name].extra:
        print(f"  ours, fresh process: {rows[Ours.name].extra['fresh_process_memprobe']}")
    return out


def memprobe(n: int, seed: int) -> dict[str, float]:
    """Build PDQIndex over n uniform hashes in a fresh process; report RSS figures."""
    import resource

    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    ids = rng.permutation(n).astype(np.uint64)
    gc.collect()
    before = rss_bytes()
    try:  # reset the peak-RSS counter so the peak covers the build only (Linux)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    t0 = time.perf_counter()
    idx = PDQIndex()
    idx.add(ids, hashes)
    build = time.perf_counter() - t0
    gc.collect()
    after = rss_bytes()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "build_s": build,
        "rss_delta_bytes_per_hash": (after - before) / n,
        "peak_extra_bytes_per_hash": (peak - before) / n,
        "array_bytes_per_hash": idx.memory_bytes() / n,
    }


def memprobe_subprocess(n: int, seed: int) -> dict[str, float] | None:
    import subprocess

    cmd = [sys.executable, "-m", "benchmarks.match", "--memprobe", str(n), "--seed", str(seed)]
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        res: dict[str, float] = json.loads(out.strip().splitlines()[-1])
        return res
    except (subprocess.CalledProcessError, ValueError, IndexError) as exc:
        print(f"memprobe failed: {exc}", file=sys.stderr)
        return None


def run_photo_dataset(n: int, args: argparse.Namespace, rng: np.random.Generator) -> dict[str, Any]:
    paths = [p for p in args.photo_files.split(",") if p] or find_photos()
    if not paths:
        print("no photographs found; skipping the photo dataset", file=sys.stderr)
        return {"dataset": "photos", "skipped": "no photographs found"}
    t0 = time.perf_counter()
    data = photo_dataset(rng, paths, args.photo_crops, args.queries)
    gen_s = time.perf_counter() - t0
    print(f"photo dataset from {paths}: {len(data.stored)} stored hashes in {gen_s:.1f}s")
    bg = rng.integers(0, 256, size=(max(0, n - len(data.stored)), 32), dtype=np.uint8)
    hashes = np.concatenate([data.stored, bg])
    del bg
    title = f"photos ({len(data.stored):,} hashes of {len(paths)} photographs + uniform)"
    res = run_dataset(title, hashes, data.queries, args, rng)
    probe = PDQIndex()
    probe.add(np.arange(len(data.stored), dtype=np.uint64), data.stored)
    lims = probe.search(data.queries, args.radius)[0]
    found: dict[str, list[int]] = {}
    for j, kind in enumerate(data.labels):
        rec = found.setdefault(kind, [0, 0])
        rec[0] += int(lims[j + 1] > lims[j])
        rec[1] += 1
    print("  queries matching a stored photo hash within radius:")
    for kind, (a, b) in found.items():
        print(f"    {kind:10} {a}/{b}")
    res.update({"photos": paths, "query_found": found, "generation_s": gen_s})
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.match",
        description="Benchmark matcher.PDQIndex vs numpy brute force and faiss (one thread).",
    )
    p.add_argument("--sizes", default="1000000,10000000", help="uniform dataset sizes, comma list")
    p.add_argument("--queries", type=int, default=1000, help="batch size (half near-dup)")
    p.add_argument("--single", type=int, default=300, help="single queries timed (ours)")
    p.add_argument("--single-slow", type=int, default=50, help="single queries timed for faiss")
    p.add_argument("--brute-queries", type=int, default=10, help="numpy brute force subsample")
    p.add_argument("--radius", type=int, default=31)
    p.add_argument("--check-radii", default="0,1,16,32,48,63,64")
    p.add_argument("--check-queries", type=int, default=5)
    p.add_argument("--images", type=int, default=2000, help="synthetic images for the PDQ set")
    p.add_argument("--pdq-background", type=int, default=1000000, help="uniform hashes mixed in")
    p.add_argument("--no-pdq", action="store_true", help="skip the real-PDQ dataset")
    p.add_argument("--no-faiss", action="store_true")
    p.add_argument(
        "--families-sizes", default="", help="families-of-near-duplicates dataset sizes, comma list"
    )
    p.add_argument("--photo-sizes", default="", help="real-photo dataset sizes, comma list")
    p.add_argument("--photo-crops", type=int, default=1500, help="crops of the photos stored")
    p.add_argument(
        "--photo-files", default="", help="comma list of photographs (default: find_photos())"
    )
    p.add_argument("--multihash-max", type=int, default=10_000_000, help="skip faiss MIH above")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--out", default="", help="write JSON results here")
    p.add_argument("--memprobe", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memprobe:
        print(json.dumps(memprobe(args.memprobe, args.seed)))
        return 0
    args.check_radii = [int(x) for x in args.check_radii.split(",") if x]
    sizes = [int(x) for x in args.sizes.split(",") if x]
    rng = np.random.default_rng(args.seed)
    info = machine()
    print("machine:", json.dumps(info))
    shown = argv if argv is not None else sys.argv[1:]
    print("command:", "python -m benchmarks.match " + " ".join(shown))
    report: dict[str, Any] = {"machine": info, "argv": sys.argv[1:], "datasets": []}
    if not args.no_pdq:
        t0 = time.perf_counter()
        data = pdq_dataset(rng, args.images, args.queries // 2)
        gen_s = time.perf_counter() - t0
        bg = rng.integers(0, 256, size=(args.pdq_background, 32), dtype=np.uint8)
        hashes = np.concatenate([data.originals, bg])
        print(
            f"pdq dataset: {args.images} images, {len(data.queries)} queries, generated+hashed "
            f"in {gen_s:.1f}s",
            file=sys.stderr,
        )
        # recall of edits: does the edited copy find its original within the radius?
        probe = PDQIndex()
        probe.add(np.arange(len(data.originals), dtype=np.uint64), data.originals)
        lims, found, _ = probe.search(data.queries, args.radius)
        recall: dict[str, list[int]] = {}
        for j, (kind, src) in enumerate(zip(data.labels, data.source, strict=True)):
            hit = src >= 0 and src in found[lims[j] : lims[j + 1]].tolist()
            any_hit = lims[j + 1] > lims[j]
            rec = recall.setdefault(kind, [0, 0])
            rec[0] += int(hit if src >= 0 else any_hit)
            rec[1] += 1
        print("  edited copy found its original (unrelated: matched anything) within radius:")
        for kind, (a, b) in recall.items():
            print(f"    {kind:10} {a}/{b}")
        qsel = data.queries[rng.permutation(len(data.queries))[: args.queries]]
        res = run_dataset(
            f"pdq ({args.images} synthetic-image hashes + {args.pdq_background:,} uniform)",
            hashes,
            qsel,
            args,
            rng,
        )
        res["edit_recall"] = recall
        res["generation_s"] = gen_s
        report["datasets"].append(res)
        del hashes, bg, data
    for n in sizes:
        hashes, queries = uniform_dataset(rng, n, args.queries)
        report["datasets"].append(run_dataset("uniform", hashes, queries, args, rng))
        del hashes, queries
        gc.collect()
    for n in (int(x) for x in args.families_sizes.split(",") if x):
        fam = families_dataset(rng, n, args.queries)
        title = f"families ({fam.families:,} families, {fam.family_members:,} variants)"
        res = run_dataset(title, fam.hashes, fam.queries, args, rng)
        res["families"], res["family_members"] = fam.families, fam.family_members
        report["datasets"].append(res)
        del fam
        gc.collect()
    for n in (int(x) for x in args.photo_sizes.split(",") if x):
        report["datasets"].append(run_photo_dataset(n, args, rng))
        gc.collect()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2, default=float)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
