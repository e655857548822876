"""Plain values the SDK returns, converted from the wire messages at the edge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from signalhub import domain
from signalhub.domain import Verdict
from signalhub.signal_types import ConsortiumKey, wire_value
from signalhub.v1 import coalition_pb2, common_pb2, exchange_pb2

from .review_models import ReviewNotice


@dataclass(frozen=True)
class Signal:
    """A signal to submit: type, wire value and the submitter's metadata. For behavioural
    types build it with `Signal.of`, which normalises the raw value and keys personal ones."""

    type: str
    value: str
    labels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    industry: str = ""
    confidence: int = 0
    """1-100; 0 = not said."""
    expires_at: datetime | None = None
    classifier: Verdict | None = None
    """The classifier that flagged the content (its name, score 0-1, human review)."""
    incident: str = ""
    """Your case reference: your signals with the same one are linked (opaque to others)."""
    source_ref: str = ""
    """Your own reference (a case or ticket id, at most 128 characters), returned with the
    signal to whoever may see this submission (docs/source-records.md)."""
    metadata: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Your metadata map (at most 16 slug keys, 1,024 characters in all), returned as
    `source_ref` is."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", dict(self.metadata))  # a copy, never the caller's

    @classmethod
    def of(
        cls,
        type_name: str,
        raw: str,
        consortium_key: ConsortiumKey | None = None,
        **fields: Any,
    ) -> Signal:
        """A signal from a raw value: normalised by the type's documented rules and, for
        personal types (email, phone, username, account_id, ip), keyed with the consortium
        key so that the hub never sees the value."""
        return cls(type_name, wire_value(type_name, raw, consortium_key), **fields)

    def to_wire(self) -> common_pb2.SignalSubmission:
        """The submission as the wire message a batch carries."""
        out = common_pb2.SignalSubmission(
            type=self.type,
            value=self.value,
            labels=self.labels,
            tags=self.tags,
            industry=self.industry,
            confidence=self.confidence,
        )
        if self.expires_at is not None:
            out.expires_at.FromDatetime(self.expires_at)
        if self.incident:
            out.incident = self.incident
        if self.source_ref:
            out.source_ref = self.source_ref
        if self.metadata:
            out.metadata.update(self.metadata)
        if self.classifier is not None:
            v = self.classifier
            out.classifier.classifier = v.classifier
            out.classifier.score = v.score
            out.classifier.human_reviewed = v.human_reviewed
        return out


def _time(ts: Timestamp) -> str | None:
    if not ts.seconds and not ts.nanos:
        return None
    return ts.ToDatetime(tzinfo=UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class SourceInfo:
    """One submission's source record as the hub returns it: who submitted, and its own
    reference and metadata."""

    member_id: str
    source_ref: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict, hash=False)

    @classmethod
    def from_wire(cls, s: coalition_pb2.SourceRecord) -> SourceInfo:
        """The SDK's value of a wire `SourceRecord` (its metadata sorted by key)."""
        return cls(s.member_id, s.source_ref, dict(sorted(s.metadata.items())))


@dataclass(frozen=True)
class SignalInfo:
    """The hub's view of a signal."""

    signal_id: str
    type: str
    value: str
    labels: tuple[str, ...]
    tags: tuple[str, ...]
    corroboration: int
    first_seen: str | None
    last_seen: str | None
    opinions: dict[str, int] = field(default_factory=dict, compare=False)
    """Members' opinions: true_positive, false_positive, disputed."""
    classifiers: tuple[Verdict, ...] = ()
    """Classifier verdicts (one per classifier, its highest score), sorted by classifier."""
    sources: tuple[SourceInfo, ...] = ()
    """The source records of the submissions you may see that carry one, oldest first."""
    sources_truncated: bool = False
    """More submissions carry one than the hub returns (32)."""
    quarantined: bool = False
    """The hub holds the signal in flood quarantine (its match rate jumped far above its
    baseline): do not act on its matches automatically until an operator releases it."""
    value_withheld: bool = False
    """Shared with you match-only (docs/match-only.md): you may match against it, but `value`
    is empty — the hub never sends it to you."""

    @property
    def score(self) -> float | None:
        """The highest classifier score, or None when no classifier scored it."""
        return max((v.score for v in self.classifiers), default=None)

    def scored_at_least(self, min_score: float) -> bool:
        """A classifier scored it at least `min_score` (a signal no classifier scored: no)."""
        best = self.score
        return best is not None and best >= min_score

    @classmethod
    def from_wire(cls, s: common_pb2.Signal) -> SignalInfo:
        """The SDK's value of a wire `Signal` (unset timestamps become None)."""
        return cls(
            s.signal_id,
            s.type,
            s.value,
            tuple(s.labels),
            tuple(s.tags),
            s.corroboration,
            _time(s.first_seen),
            _time(s.last_seen),
            {
                "true_positive": s.opinions.true_positive,
                "false_positive": s.opinions.false_positive,
                "disputed": s.opinions.disputed,
            },
            tuple(Verdict(v.classifier, v.score, v.human_reviewed) for v in s.classifiers),
            tuple(SourceInfo.from_wire(r) for r in s.sources),
            s.sources_truncated,
            s.quarantined,
            s.value_withheld,
        )

    def to_json(self) -> dict[str, Any]:
        """The signal as a JSON object (the CLI's `--json` lines): lists for tuples; `sources`
        (and `sources_truncated`) only when there are some."""
        out = asdict(self)
        out["labels"] = list(self.labels)
        out["tags"] = list(self.tags)
        out["classifiers"] = [asdict(v) for v in self.classifiers]
        if self.sources:
            out["sources"] = [asdict(r) for r in self.sources]
        else:
            del out["sources"]
        if not self.sources_truncated:
            del out["sources_truncated"]
        if not self.quarantined:
            del out["quarantined"]
        if not self.value_withheld:
            del out["value_withheld"]
        return out


@dataclass(frozen=True)
class ItemResult:
    """What became of one submitted signal: new, corroborated or duplicate."""

    index: int
    signal_id: str
    status: str


@dataclass(frozen=True)
class SubmitResult:
    """The hub's answer to one batch."""

    batch_id: str
    items: tuple[ItemResult, ...]
    cursor: str
    replayed: bool

    @classmethod
    def from_wire(cls, r: exchange_pb2.SubmitSignalsResponse) -> SubmitResult:
        """The SDK's value of the hub's answer; statuses as lowercase words (new,
        corroborated, duplicate)."""
        items = tuple(
            ItemResult(
                i.index,
                i.signal_id,
                exchange_pb2.SubmitStatus.Name(i.status).removeprefix("SUBMIT_STATUS_").lower(),
            )
            for i in r.results
        )
        return cls(r.batch_id, items, r.cursor, r.replayed)

    def counts(self) -> dict[str, int]:
        """How many items got each status, e.g. {"new": 3, "duplicate": 1}."""
        out: dict[str, int] = {}
        for item in self.items:
            out[item.status] = out.get(item.status, 0) + 1
        return out


@dataclass(frozen=True)
class Match:
    """A signal that matched a query, and how far it is."""

    signal: SignalInfo
    distance: int
    query_match_percent: float | None = None
    """A video matched by a video query: share of the query's frames found in it."""
    compared_match_percent: float | None = None
    """A video matched by a video query: share of its frames found in the query."""
    frame_timestamp: float | None = None
    """A video matched by an image: time (seconds) of its frame like the image."""
    linked: tuple[SignalInfo, ...] = ()
    """Signals of the same incident (a submitter's case) that you may see."""
    linked_truncated: bool = False
    """Some linked signals were left out (over 100, or the call's budget for them was spent:
    match this signal alone to see them)."""
    warning_lists: tuple[str, ...] = ()
    """Warning lists that flag this match (its value or the query is a benign or
    collision-prone value): do not act on it automatically."""
    quarantined: bool = False
    """The matched signal is in flood quarantine: do not act on it automatically."""

    @classmethod
    def from_wire(cls, m: exchange_pb2.Match) -> Match:
        """The SDK's value of a wire `Match`; video fields the hub left unset are None."""
        return cls(
            SignalInfo.from_wire(m.signal),
            m.distance,
            m.query_match_percent if m.HasField("query_match_percent") else None,
            m.compared_match_percent if m.HasField("compared_match_percent") else None,
            m.frame_timestamp if m.HasField("frame_timestamp") else None,
            tuple(SignalInfo.from_wire(s) for s in m.linked),
            m.linked_truncated,
            tuple(m.warning_lists),
            m.quarantined or m.signal.quarantined,
        )

    def to_json(self) -> dict[str, Any]:
        """The matched signal's JSON object plus `distance`, and the video and linked fields that
        are set."""
        out = {**self.signal.to_json(), "distance": self.distance}
        if self.linked:
            out["linked"] = [s.to_json() for s in self.linked]
        if self.linked_truncated:
            out["linked_truncated"] = True
        if self.warning_lists:
            out["warning_lists"] = list(self.warning_lists)
        for name in ("query_match_percent", "compared_match_percent", "frame_timestamp"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


@dataclass(frozen=True)
class MatchResult:
    """The matches of one query, nearest first."""

    type: str
    value: str
    matches: tuple[Match, ...]
    truncated: bool = False
    """There were more matches than returned: too many near this query (lower the distance),
    or the call's answer reached its size budget (ask for this query again alone)."""
    excluded_warned: int = 0
    """Matches left out because a warning list flags them (`exclude_warned`)."""
    excluded_quarantined: int = 0
    """Matches of quarantined signals left out (`exclude_quarantined`)."""


@dataclass(frozen=True)
class FeedEvent:
    """One event of the feed, with the cursor to resume after it."""

    cursor: str
    event: str
    signal: SignalInfo
    member_id: str
    time: str | None
    urgent: bool = False
    """The submission was marked urgent (an ongoing abuse situation)."""
    warning_lists_version: int = 0
    """A `warning_lists_changed` event: the lists' new version (fetch them again)."""
    review: ReviewNotice | None = None
    """A `review_requested` event: the notice, about your own matches only (`signal` carries
    just its id and type). Only the member it is for receives it."""

    @classmethod
    def from_wire(cls, e: common_pb2.FeedEvent) -> FeedEvent:
        """The SDK's value of a wire `FeedEvent`; `event` is the kind as a lowercase word."""
        kind = common_pb2.EventKind.Name(e.kind).removeprefix("EVENT_KIND_").lower()
        signal = SignalInfo.from_wire(e.signal)
        review = ReviewNotice.from_wire(e.review) if e.HasField("review") else None
        return cls(
            e.cursor,
            kind,
            signal,
            e.member_id,
            _time(e.time),
            e.urgent,
            e.warning_lists_version,
            review,
        )

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object: cursor, event, the signal's fields, member, time, urgent
        (a warning-list change: cursor, event, time and the lists' version; a review request:
        cursor, event, time and the notice's fields)."""
        if self.review is not None:  # the notice as sent (`reviews` says whether it is done)
            notice = self.review.to_json()
            for name in ("reviewed", "reviewed_at", "review_note"):
                del notice[name]
            return {"cursor": self.cursor, "event": self.event, "time": self.time, **notice}
        if self.event == "warning_lists_changed":
            return {
                "cursor": self.cursor,
                "event": self.event,
                "time": self.time,
                "warning_lists_version": self.warning_lists_version,
            }
        return {
            "cursor": self.cursor,
            "event": self.event,
            **self.signal.to_json(),
            "member_id": self.member_id,
            "time": self.time,
            "urgent": self.urgent,
        }


@dataclass(frozen=True)
class AppealResult:
    """What RecordAppeal recorded: the signal as you see it, the outcome, and whether this was
    the stored answer of an earlier identical request."""

    signal: SignalInfo
    outcome: str
    """upheld or denied."""
    replayed: bool = False

    def to_json(self) -> dict[str, Any]:
        """The signal's id and type, the outcome and `replayed`."""
        return {
            "signal_id": self.signal.signal_id,
            "type": self.signal.type,
            "outcome": self.outcome,
            "replayed": self.replayed,
        }


@dataclass(frozen=True)
class Provenance:
    """One member's submission of a signal, with the envelope that carried it."""

    member_id: str
    key_id: str
    batch_id: str
    index: int
    labels: tuple[str, ...]
    tags: tuple[str, ...]
    received_at: str | None
    envelope: common_pb2.SignedEnvelope = field(repr=False, compare=False)
    public_key: bytes = field(default=b"", repr=False)
    audience: tuple[str, ...] = ()
    incident: str = ""
    """Your own case reference (shown to its submitter only)."""
    envelope_redacted: bool = False
    """A legal erasure of another signal of its batch scrubbed the envelope (it no longer
    verifies)."""
    source_ref: str = ""
    """The submitter's own reference (docs/source-records.md)."""
    metadata: Mapping[str, str] = field(default_factory=dict, hash=False)
    """The submitter's metadata."""
    sharing: str = "full"
    """The submission's sharing level ("full", "match-only")."""
    envelope_withheld: bool = False
    """A match-only submission by another member: the hub withholds its envelope (whose
    payload carries the value), so its signature cannot be checked here."""

    def to_json(self) -> dict[str, Any]:
        """The submission as a JSON object, the envelope's bytes in hex (to verify elsewhere)."""
        return {
            "member_id": self.member_id,
            "key_id": self.key_id,
            "batch_id": self.batch_id,
            "index": self.index,
            "labels": list(self.labels),
            "tags": list(self.tags),
            "received_at": self.received_at,
            **({"incident": self.incident} if self.incident else {}),
            **({"envelope_redacted": True} if self.envelope_redacted else {}),
            **({"source_ref": self.source_ref} if self.source_ref else {}),
            **({"metadata": dict(self.metadata)} if self.metadata else {}),
            **({"sharing": self.sharing} if self.sharing != "full" else {}),
            **({"envelope_withheld": True} if self.envelope_withheld else {}),
            "envelope": {
                "payload": self.envelope.payload.hex(),
                "key_id": self.envelope.key_id,
                "signature": self.envelope.signature.hex(),
            },
        }


@dataclass(frozen=True)
class SignalDetail:
    """A signal with every submission of it."""

    signal: SignalInfo
    submissions: tuple[Provenance, ...]

    @classmethod
    def from_wire(cls, r: exchange_pb2.GetSignalResponse) -> SignalDetail:
        """The SDK's value of a GetSignal answer."""
        subs = tuple(
            Provenance(
                s.member_id,
                s.key_id,
                s.batch_id,
                s.index,
                tuple(s.labels),
                tuple(s.tags),
                _time(s.received_at),
                s.envelope,
                s.public_key,
                tuple(s.audience),
                s.incident,
                s.envelope_redacted,
                s.source_ref,
                dict(sorted(s.metadata.items())),
                domain.SHARING_NAMES.get(s.sharing, str(s.sharing)),
                s.envelope_withheld,
            )
            for s in r.submissions
        )
        return cls(SignalInfo.from_wire(r.signal), subs)

    def to_json(self) -> dict[str, Any]:
        """The signal's JSON object with its submissions' under `submissions`."""
        return {**self.signal.to_json(), "submissions": [s.to_json() for s in self.submissions]}


@dataclass(frozen=True)
class SignalTypeInfo:
    """A signal type the hub accepts, and how it matches it (ListSignalTypes)."""

    name: str
    description: str
    match: str
    bits: int
    default_threshold: int
    max_threshold: int
    personal: bool
    origin: str
    pytx_name: str

    @classmethod
    def from_wire(cls, t: exchange_pb2.SignalTypeInfo) -> SignalTypeInfo:
        """The SDK's value of one entry of ListSignalTypes."""
        return cls(
            t.name,
            t.description,
            t.match,
            t.bits,
            t.default_threshold,
            t.max_threshold,
            t.personal,
            t.origin,
            t.pytx_name,
        )

    def to_json(self) -> dict[str, Any]:
        """The type's fields as a JSON object."""
        return asdict(self)


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)
