"""What logged commands withdraw: each rule stated once, for every reader of the log.

Apply (this package) and the reports' replay (exchange/report) both read the command log; the
rules that say which submissions a command takes away live here, as pure functions of a
`LogEntry` and of a submission's plain facts (its member, the key that signed it, its receive
time in ms, its signal id), so either side can apply them to what it holds: apply to the
store's `SubmissionRecord`s, the report to its in-memory submissions.

Only rules that follow from the entry are here. Whether a command is accepted at all (a key
that exists, a member not yet removed, a valid offboarding choice) is apply's decision against
the state: an entry in the log was accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from signalhub.storage.v1 import records_pb2 as rec
from signalhub.v1 import admin_pb2, common_pb2


def _ms(ts: Timestamp) -> int:
    return int(ts.ToMilliseconds())


@dataclass(frozen=True)
class Withdraw:
    """Submissions one command withdraws: those of `member` (None: of every member) of
    `signal_ids` (None: of every signal), signed with `key_id` (None: with any key) and
    received at or after `since_ms` (None: whenever)."""

    member: str | None
    signal_ids: tuple[str, ...] | None = None
    key_id: str | None = None
    since_ms: int | None = None

    def takes(self, member: str, key_id: str, submitted_ms: int) -> bool:
        """Whether a submission of one of `signal_ids` (the caller picks the signals) by
        `member`, signed with `key_id` and received at `submitted_ms`, is withdrawn."""
        if self.member is not None and member != self.member:
            return False
        if self.key_id is not None and key_id != self.key_id:
            return False
        return self.since_ms is None or submitted_ms >= self.since_ms


def withdrawn_by_compromise(command: rec.RevokeKeyCommand, key_id: str, submitted_ms: int) -> bool:
    """A revocation naming `compromised_since` withdraws what the key signed from then on: the
    revoked key's member's submissions signed with that key and received at or after that
    time (checked whether or not the key was already revoked). A plain revocation withdraws
    nothing. The caller picks the key's member's submissions."""
    if not command.HasField("compromised_since"):
        return False
    return key_id == command.key_id and submitted_ms >= _ms(command.compromised_since)


def compromise_withdrawal(command: rec.RevokeKeyCommand) -> Withdraw | None:
    """`withdrawn_by_compromise` as a Withdraw; None for a plain revocation."""
    if not command.HasField("compromised_since"):
        return None
    since_ms = _ms(command.compromised_since)
    return Withdraw(command.member_id, key_id=command.key_id, since_ms=since_ms)


def offboarding_withdraws(command: rec.RemoveMemberCommand) -> bool:
    """Offboarding with RETRACT or ERASE withdraws every submission of the member (ERASE then
    also erases the signals left with none); KEEP withdraws nothing."""
    return command.submissions in (
        admin_pb2.OFFBOARD_SUBMISSIONS_RETRACT,
        admin_pb2.OFFBOARD_SUBMISSIONS_ERASE,
    )


def offboarding_withdrawal(command: rec.RemoveMemberCommand) -> Withdraw | None:
    """`offboarding_withdraws` as a Withdraw of all the member's submissions, or None."""
    return Withdraw(command.member_id) if offboarding_withdraws(command) else None


def retraction_withdrawal(retraction: common_pb2.Retraction) -> Withdraw:
    """A member's retraction withdraws all its submissions of the signals it names (each once,
    in the order first named)."""
    ids = tuple(dict.fromkeys(retraction.signal_ids))
    return Withdraw(retraction.member_id, ids)


def erased_signal_ids(command: rec.EraseSignalCommand) -> tuple[str, ...]:
    """The signals an erasure removes: the one it names, then (sorted) those its scan found
    carrying its value (a video with it as a frame); those gone since are skipped by the
    reader, having nothing left."""
    sid = command.signal_id
    return (sid, *sorted(set(command.carrier_ids) - {sid}))


def erasure_withdrawal(command: rec.EraseSignalCommand) -> Withdraw:
    """An erasure withdraws every member's submissions of the signals it removes."""
    return Withdraw(None, erased_signal_ids(command))


def _retract(entry: rec.LogEntry) -> Withdraw | None:
    # The payload was verified and parsed before logging; a DecodeError here means the log
    # entry is unreadable (the report counts it as such).
    return retraction_withdrawal(common_pb2.Retraction.FromString(entry.retract.envelope.payload))


_WITHDRAWALS: dict[str, Callable[[rec.LogEntry], Withdraw | None]] = {
    "retract": _retract,
    "revoke_key": lambda entry: compromise_withdrawal(entry.revoke_key),
    "remove_member": lambda entry: offboarding_withdrawal(entry.remove_member),
    "erase_signal": lambda entry: erasure_withdrawal(entry.erase_signal),
}


def withdrawals(entry: rec.LogEntry) -> list[Withdraw]:
    """The submissions an accepted log entry withdraws, by rules of the entry alone: a
    retraction, a compromised key's revocation, an offboarding that retracts or erases, an
    erasure. Expiry is not here: what an expire tick removes depends on the submissions' own
    `expires_at` (due when at or before the tick's receive time). Raises DecodeError for a
    retraction whose payload cannot be parsed."""
    which = entry.WhichOneof("command")
    rule = _WITHDRAWALS.get(which or "")
    found = rule(entry) if rule is not None else None
    return [] if found is None else [found]
