"""`signalhub match`: PDQ hashes, TYPE:VALUE queries, images and videos matched against the hub
(or a local replica); one result per query, the best match of each signal first."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signalhub import domain

from ..hashing import pdq_dihedral, pdq_from_image
from ..local import LocalReplica
from ..models import MatchResult
from .base import (
    Groups,
    UsageError,
    check_score,
    connection_flags,
    consortium_flag,
    consortium_key,
    json_flag,
    member_client,
    plural,
    runs,
)
from .hash_cmd import is_video, video_text


def add_match(groups: Groups) -> None:
    """The `match` command."""
    p = groups[""].add_parser(
        "match",
        help="match PDQ hashes or images against the hub",
        description="Answers one result per query: the --pdq hashes first, then --query "
        "values, then the images, each in the order given.",
    )
    p.add_argument("images", nargs="*", type=Path, metavar="IMAGE|VIDEO")
    p.add_argument("--pdq", action="append", default=[], metavar="HEX", help="a PDQ hash")
    p.add_argument("--fps", type=float, default=1.0, help="video frames hashed a second")
    p.add_argument(
        "--min-query-percent",
        type=float,
        default=None,
        metavar="P",
        help="videos: least share of the query's frames found in a match (hub default 80)",
    )
    p.add_argument(
        "--min-compared-percent",
        type=float,
        default=None,
        metavar="P",
        help="videos: least share of the matched video's frames found in the query (hub default 0)",
    )
    p.add_argument(
        "--query",
        action="append",
        default=[],
        metavar="TYPE:VALUE",
        help="any other signal, e.g. url:https://example.com/x or email:a@b.c",
    )
    p.add_argument(
        "--dihedral", action="store_true", help="also try the 7 rotations and flips of each image"
    )
    p.add_argument(
        "--local",
        type=Path,
        default=None,
        metavar="DIR",
        help="match against the local replica in DIR; nothing is sent to the hub",
    )
    consortium_flag(p)
    p.add_argument("--max-distance", type=int, default=domain.DEFAULT_PDQ_MAX_DISTANCE)
    p.add_argument(
        "--distance",
        action="append",
        default=[],
        metavar="TYPE=N",
        help="largest distance for a type matched by its own index, e.g. tlsh=50 "
        "(default: the type's; see `signalhub types`)",
    )
    p.add_argument(
        "--min-score",
        type=float,
        default=None,
        metavar="S",
        help="only signals a classifier scored at least S (0-1)",
    )
    p.add_argument(
        "--exclude-warned",
        action="store_true",
        help="leave out matches a warning list flags (benign or collision-prone values); "
        "without it they are shown with the list's name",
    )
    p.add_argument(
        "--exclude-quarantined",
        action="store_true",
        help="leave out matches of signals in flood quarantine (a sudden surge of matches); "
        "without it they are shown marked quarantined",
    )
    json_flag(p, "one JSON object per query")
    connection_flags(p)
    runs(p, cmd_match)


@dataclass(frozen=True)
class _Query:
    shown: str
    """What the user gave: a hash, TYPE:VALUE or an image path."""
    type: str
    value: str
    transform: str = ""


def _pdq_queries(hashes: list[str]) -> list[_Query]:
    out = []
    for hex_value in hashes:
        try:
            out.append(_Query(hex_value, "pdq", domain.canonical_value("pdq", hex_value)))
        except domain.InvalidValue as e:
            raise UsageError(f"--pdq {hex_value}: {e}") from None
    return out


def _typed_queries(texts: list[str], args: argparse.Namespace) -> list[_Query]:
    key = consortium_key(args)
    out = []
    for text in texts:
        type_name, colon, raw = text.partition(":")
        if not colon:
            raise UsageError(f"--query {text}: give TYPE:VALUE, e.g. url:https://example.com/x")
        try:
            out.append(_Query(text, type_name, domain.wire_value(type_name, raw, key)))
        except domain.InvalidValue as e:
            raise UsageError(f"--query {text}: {e}") from None
    return out


def _file_queries(path: Path, args: argparse.Namespace) -> list[_Query]:
    if is_video(path):
        return [_Query(str(path), "vpdq", video_text(path, args))]
    try:
        if args.dihedral:
            return [_Query(str(path), "pdq", h.hex, name) for name, h in pdq_dihedral(path)]
        return [_Query(str(path), "pdq", pdq_from_image(path).hex)]
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None


def _match_queries(args: argparse.Namespace) -> list[_Query]:
    queries = _pdq_queries(args.pdq) + _typed_queries(args.query, args)
    for path in args.images:
        queries += _file_queries(path, args)
    if not queries:
        raise UsageError("give --pdq HEX, --query TYPE:VALUE or image files to match")
    return queries


def _type_distances(items: list[str]) -> dict[str, int]:
    """`--distance TYPE=N` flags as {type: N}, for types matched by their own index."""
    out: dict[str, int] = {}
    for item in items:
        name, eq, number = item.partition("=")
        spec = domain.SIGNAL_TYPES.get(name.strip())
        if not eq or spec is None or not number.strip().isdigit():
            raise UsageError(f"--distance {item!r}: TYPE=N, e.g. tlsh=50")
        if not spec.indexed:
            raise UsageError(
                f"--distance {item!r}: {name} is not matched by a distance of its "
                "own (PDQ takes --max-distance)"
            )
        out[spec.name] = int(number)
    return out


def _results(
    args: argparse.Namespace, pairs: list[tuple[str, str]], distances: dict[str, int]
) -> list[MatchResult]:
    """The hub's answer, or with --local the replica's."""
    if not args.local:
        with member_client(args) as client:
            return client.match(
                pairs,
                args.max_distance,
                min_query_match_percent=args.min_query_percent,
                min_compared_match_percent=args.min_compared_percent,
                thresholds=distances,
                min_score=args.min_score,
                exclude_warned=args.exclude_warned,
                exclude_quarantined=args.exclude_quarantined,
            )
    if not (args.local / "data.mdb").exists():
        raise UsageError(f"{args.local} is not a replica; run: signalhub sync --local DIR")
    with LocalReplica(args.local) as replica:
        return replica.match(
            pairs,
            args.max_distance,
            min_query_match_percent=domain.VPDQ_QUERY_MATCH_PERCENT
            if args.min_query_percent is None
            else args.min_query_percent,
            min_compared_match_percent=args.min_compared_percent or 0.0,
            thresholds=distances,
            min_score=args.min_score,
            exclude_warned=args.exclude_warned,
            exclude_quarantined=args.exclude_quarantined,
        )


def _best_matches(group: list[tuple[_Query, MatchResult]]) -> list[dict[str, Any]]:
    """The matches of one query (an image's transforms are one query): each signal once, at
    its least distance, nearest first; a video's as the hub ranks them."""
    if group[0][0].type == "vpdq":
        return [m.to_json() for _, r in group for m in r.matches]
    best: dict[str, dict[str, Any]] = {}
    for q, r in group:
        for m in r.matches:
            found = {**m.to_json(), **({"transform": q.transform} if q.transform else {})}
            known = best.get(m.signal.signal_id)
            if known is None or found["distance"] < known["distance"]:
                best[m.signal.signal_id] = found
    return sorted(best.values(), key=lambda m: (m["distance"], m["signal_id"]))


def cmd_match(args: argparse.Namespace) -> int:
    """Prints the matches of each query."""
    check_score(args.min_score)
    distances = _type_distances(args.distance)
    queries = _match_queries(args)
    results = _results(args, [(q.type, q.value) for q in queries], distances)
    grouped: dict[str, list[tuple[_Query, MatchResult]]] = {}
    for q, r in zip(queries, results, strict=True):
        grouped.setdefault(q.shown if q.transform else f"{id(q)}", []).append((q, r))
    for group in grouped.values():
        excluded = sum(r.excluded_warned for _, r in group)
        _print_match(args, group[0][0], _best_matches(group), excluded)
    return 0


def _match_details(m: dict[str, Any]) -> str:
    """The optional parts of a match's line: transform, video shares, frame time, links."""
    how = f"  transform={m['transform']}" if "transform" in m else ""
    if "query_match_percent" in m:
        how += (
            f"  query_match={m['query_match_percent']:.1f}%"
            f"  compared_match={m['compared_match_percent']:.1f}%"
        )
    if "frame_timestamp" in m:
        how += f"  at={m['frame_timestamp']:g}s"
    if m.get("linked"):
        how += f"  linked={len(m['linked'])} (--json lists them)"
    if m.get("warning_lists"):
        how += f"  warning list: {','.join(m['warning_lists'])} (do not act automatically)"
    if m.get("quarantined"):
        how += "  QUARANTINED (a surge of matches; do not act automatically)"
    return how + _sources_text(m)


def _sources_text(m: dict[str, Any]) -> str:
    """The first source records of a match's line (`--json` lists them all)."""
    if not m.get("sources"):
        return ""
    refs = ",".join(f"{r['member_id']}:{r['source_ref'] or '-'}" for r in m["sources"][:3])
    more = "+" if len(m["sources"]) > 3 or m.get("sources_truncated") else ""
    return f"  sources={refs}{more}"


WITHHELD = "value=(withheld)"
"""How a text line shows the value of a signal shared with the caller match-only."""


def shown_value(type_name: str, value: str, withheld: bool = False) -> str:
    """A value as a text line shows it: a video's lists every frame, so it shows how many;
    a value the hub withholds (match-only sharing) as WITHHELD."""
    if withheld:
        return WITHHELD
    if type_name == "vpdq":
        return f"({value.count(chr(34)) // 2} frames)"
    return value


def _print_match(
    args: argparse.Namespace, q: _Query, matches: list[dict[str, Any]], excluded: int
) -> None:
    if args.json:
        out: dict[str, Any] = {"query": q.shown, "type": q.type, "value": q.value}
        if q.type == "pdq":
            out["pdq"] = q.value if not q.transform else None
        out["matches"] = matches
        if excluded:
            out["excluded_warned"] = excluded
        print(json.dumps(out))
        return
    left_out = f" ({excluded} on a warning list left out)" if excluded else ""
    print(f"{q.shown}: {len(matches)} {plural(len(matches), 'match')}{left_out}")
    for m in matches:
        labels = ",".join(m["labels"]) or "-"
        fp = m["opinions"].get("false_positive", 0)
        value = shown_value(m["type"], m["value"], m.get("value_withheld", False))
        print(
            f"  distance={m['distance']:<3} {m['signal_id']}  {m['type']} {value}  "
            f"labels={labels}  corroboration={m['corroboration']}  false_positive={fp}"
            f"{_match_details(m)}"
        )
