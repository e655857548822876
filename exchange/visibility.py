"""Who may see what. A submission is visible to its submitter, to the operator, and — when it
has an audience — to members of any group in it, else to every member. A signal is visible
when any of its submissions is, and the caller's view of it (labels, tags, corroboration,
first and last seen) counts only the submissions the caller may see. An invisible signal looks
exactly like a missing one.

A submission shared match-only (docs/match-only.md) counts for visibility like any other, but
gives the caller no value: a caller whose visible submissions of a signal are all match-only
ones by other members gets the signal with `value` empty and `value_withheld` set
(`withheld_for`). The operator, and a submitter for its own, always see the value."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from signalhub import domain
from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import coalition_pb2, common_pb2

from .store import StoreView


@dataclass(frozen=True)
class Viewer:
    """The caller whose view is computed: a member and its groups, or the operator."""

    member_id: str
    groups: frozenset[str]

    @property
    def is_operator(self) -> bool:
        """The operator, who sees every submission."""
        return self.member_id == domain.OPERATOR_ID

    @classmethod
    def load(cls, view: StoreView, member_id: str) -> Viewer:
        """The viewer `member_id` with the groups it belongs to now (none if it is no member)."""
        member = view.member(member_id)
        return cls(member_id, frozenset(member.group_ids) if member else frozenset())

    def sees(self, submitter: str, audience: Sequence[str]) -> bool:
        """May this caller see a submission by `submitter` shared with `audience`?"""
        if not audience or self.is_operator or submitter == self.member_id:
            return True
        return not self.groups.isdisjoint(audience)


def signal_view(
    view: StoreView, record: rec.SignalRecord, viewer: Viewer
) -> common_pb2.Signal | None:
    """The caller's view of a signal, or None when it may not see it."""
    if not record.restricted:
        return record.signal
    subs = [
        s for s in view.submissions(record.signal.signal_id) if viewer.sees(s.member_id, s.audience)
    ]
    return view_from(
        record.signal, subs, visible_opinions(view, record.signal.signal_id, subs, viewer), viewer
    )


def withheld_for(subs: Iterable[rec.SubmissionRecord], viewer: Viewer) -> bool:
    """Whether the caller, seeing these submissions of a signal, may not receive its value:
    each is shared match-only and none is its own (the operator always may). No submission at
    all: nothing is withheld (there is nothing to show)."""
    if viewer.is_operator:
        return False
    seen = False
    for s in subs:
        if s.sharing != common_pb2.SHARING_MATCH_ONLY or s.member_id == viewer.member_id:
            return False
        seen = True
    return seen


def withheld_submission(sub: rec.SubmissionRecord, viewer: Viewer) -> bool:
    """Whether a submission's envelope (whose payload carries the value) is kept from the
    caller: a match-only submission by another member, to anyone but the operator."""
    return withheld_for((sub,), viewer)


def visible_opinions(
    view: StoreView, signal_id: str, subs: Sequence[rec.SubmissionRecord], viewer: Viewer
) -> common_pb2.OpinionCounts:
    """The opinions on a restricted signal that the caller may count: its own, and those of
    members who can see one of the submissions the caller sees (`subs`). An opinion given
    through a submission only another privacy group sees is as if it had not been given: it
    would otherwise tell the caller that the group holds the signal."""
    counts = common_pb2.OpinionCounts()
    if not subs:
        return counts
    groups: dict[str, Viewer] = {}
    for opinion in view.opinions(signal_id):
        giver = opinion.member_id
        if not (viewer.is_operator or giver == viewer.member_id):
            if giver not in groups:
                groups[giver] = Viewer.load(view, giver)
            if not shares_a_submission(groups[giver], ((s.member_id, s.audience) for s in subs)):
                continue
        count_opinion(counts, opinion.opinion, +1)
    return counts


def shares_a_submission(other: Viewer, seen: Iterable[tuple[str, Sequence[str]]]) -> bool:
    """Whether `other` sees one of the submissions `seen` ((submitter, audience) of those the
    caller sees). The rule for another member's action (an opinion, a match) on a restricted
    signal: it counts for the caller only through a submission both see; the hub's answers
    (`visible_opinions`) and the member report (`report.history.History.shares`) both ask it."""
    return any(other.sees(member, audience) for member, audience in seen)


def count_opinion(counts: common_pb2.OpinionCounts, opinion: int, delta: int) -> None:
    """Adds `delta` to the count of one kind of opinion (none: no count)."""
    if opinion == common_pb2.OPINION_TRUE_POSITIVE:
        counts.true_positive += delta
    elif opinion == common_pb2.OPINION_FALSE_POSITIVE:
        counts.false_positive += delta
    elif opinion == common_pb2.OPINION_DISPUTED:
        counts.disputed += delta


def view_from(
    signal: common_pb2.Signal,
    subs: Iterable[rec.SubmissionRecord],
    opinions: common_pb2.OpinionCounts,
    viewer: Viewer,
) -> common_pb2.Signal | None:
    """A signal's view built from the given submissions (None when there are none), the
    opinions the caller may count (`visible_opinions`) and, when `viewer` may not receive the
    value (`withheld_for`), without it."""
    subs = list(subs)
    if not subs:
        return None
    out = common_pb2.Signal(
        signal_id=signal.signal_id,
        type=signal.type,
        value=signal.value,
        quarantined=signal.quarantined,
    )
    if withheld_for(subs, viewer):
        out.value = ""
        out.value_withheld = True
    out.labels.extend(sorted({label for s in subs for label in s.labels}))
    out.tags.extend(sorted({tag for s in subs for tag in s.tags}))
    out.corroboration = len({s.member_id for s in subs})
    first = min(subs, key=lambda s: (s.received_at.seconds, s.received_at.nanos))
    last = max(subs, key=lambda s: (s.received_at.seconds, s.received_at.nanos))
    out.first_seen.CopyFrom(first.received_at)
    out.last_seen.CopyFrom(last.received_at)
    if opinions.ByteSize():  # none is no field at all, as on a stored signal without any
        out.opinions.CopyFrom(opinions)
    verdicts = merge_verdicts(s.classifier for s in subs if s.HasField("classifier"))
    if verdicts:
        out.classifiers.extend(verdicts)
    set_sources(out, subs)
    return out


def carries_source(sub: rec.SubmissionRecord) -> bool:
    """Whether a submission carries a source record (a source_ref or metadata)."""
    return bool(sub.source_ref or sub.metadata)


def source_of(sub: rec.SubmissionRecord) -> coalition_pb2.SourceRecord:
    """A submission's source record as a signal's view carries it."""
    return coalition_pb2.SourceRecord(
        member_id=sub.member_id, source_ref=sub.source_ref, metadata=sub.metadata
    )


def set_sources(signal: common_pb2.Signal, subs: Iterable[rec.SubmissionRecord]) -> None:
    """Sets a signal's `sources` from the given submissions (those the caller may see, in log
    order, so the oldest come first): one per submission carrying one, at most MAX_SOURCES,
    `sources_truncated` when there were more. A pure function of the submissions, so the
    stored signal (`add_source` at apply), a rebuilt one and a restricted view agree."""
    del signal.sources[:]
    signal.sources_truncated = False
    for sub in subs:
        if carries_source(sub):
            add_source(signal, sub)


def add_source(signal: common_pb2.Signal, sub: rec.SubmissionRecord) -> None:
    """Adds the source record of `sub` (the newest submission of the signal) to its sources,
    or marks them truncated when MAX_SOURCES are there already; nothing when it carries none."""
    if not carries_source(sub):
        return
    if len(signal.sources) < domain.MAX_SOURCES:
        signal.sources.append(source_of(sub))
    else:
        signal.sources_truncated = True


def merge_verdicts(
    verdicts: Iterable[common_pb2.ClassifierVerdict],
) -> list[common_pb2.ClassifierVerdict]:
    """One verdict per classifier: its highest score, human_reviewed when any was; sorted."""
    best: dict[str, common_pb2.ClassifierVerdict] = {}
    for v in verdicts:
        held = best.get(v.classifier)
        if held is None:
            best[v.classifier] = common_pb2.ClassifierVerdict(
                classifier=v.classifier, score=v.score, human_reviewed=v.human_reviewed
            )
        else:
            held.score = max(held.score, v.score)
            held.human_reviewed = held.human_reviewed or v.human_reviewed
    return [best[name] for name in sorted(best)]


def event_visible(record: rec.FeedRecord, viewer: Viewer) -> bool:
    """May this caller see this feed record at all (before its signal view is computed)?"""
    if record.target_member:
        return record.target_member == viewer.member_id
    if record.private or record.members:
        if viewer.is_operator or viewer.member_id in record.members:
            return True
        if not record.private and not record.audience:
            return True
        return not viewer.groups.isdisjoint(record.audience)
    return viewer.sees(record.event.member_id, record.audience)
