"""Which stored signals the normalisation rule of issue 19 moved (`signalhub admin
rule-changes`), read from a data directory without changing it.

Rule 1 (`signalhub.normalisation.NORMALISATION_RULE`) stored `faß.de` as `fass.de`, and
`http://127.1/` and `http://x.example/a/../b` as written. Rule 2 gives them other canonical
values, hence other signal ids; some values rule 1 took (`xn--n3h.net`, a symbol IDNA 2008
disallows) it refuses. The hub does not rewrite stored signals (their ids are in members'
copies, opinions and the signed log), so this lists them: from the log, because the stored
value alone does not tell (`fass.de` may have been sent as `fass.de` or as `faß.de`), and
because the log is what `signalhub audit verify` and a new cluster node replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from signalhub import domain
from signalhub.normalisation import old_rule_changes

from .ledger import parse_batch
from .store import Store

SCAN_CHUNK_ENTRIES = 5_000
"""Log entries read per read transaction (short ones: a long one would pin the map of a hub
that is serving)."""

PLAIN_TYPES_OF_RULE = ("url", "domain")
"""The types whose rule changed and whose values the hub sees (email changed too, but reaches
the hub only keyed: members must check their own lists with `old_rule_changes`)."""


@dataclass
class StoredChange:
    """One stored signal (type and rule-1 value) that rule 2 gives another value, or refuses."""

    type_name: str
    value: str
    """The canonical value under rule 1: what the store holds."""
    signal_id: str
    new_value: str | None
    """The canonical value under rule 2 of what members sent; None when rule 2 refuses it."""
    new_signal_id: str | None
    reason: str
    """Why rule 2 refuses it ('' when it does not)."""
    stored: bool
    """The signal is still in the store (not retracted, expired or erased since)."""
    sent_as: list[str] = field(default_factory=list)
    """The wire values members sent for it (distinct, in log order)."""
    log_sequences: list[int] = field(default_factory=list)
    """The submit entries that carried it."""
    members: list[str] = field(default_factory=list)
    """Who submitted it (the operator asks them to retract and resubmit)."""

    def as_json(self) -> dict[str, object]:
        """The row as `admin rule-changes --json` prints it."""
        return {
            "type": self.type_name,
            "signal_id": self.signal_id,
            "value": self.value,
            "new_signal_id": self.new_signal_id,
            "new_value": self.new_value,
            "refused": self.reason,
            "stored": self.stored,
            "sent_as": self.sent_as,
            "log_sequences": self.log_sequences,
            "members": self.members,
        }


def stored_rule_changes(store: Store) -> list[StoredChange]:
    """Every signal a submit entry of the log carried whose wire value rule 2 normalises
    otherwise than rule 1 did, one per (signal, rule-2 value), in log order. Erased values
    (blanked in the log) are not seen."""
    with store.read() as view:
        last = view.counter("log_seq")
    found: dict[tuple[str, str | None], StoredChange] = {}
    for start in range(1, last + 1, SCAN_CHUNK_ENTRIES):
        with store.read() as view:
            for seq in range(start, min(last, start + SCAN_CHUNK_ENTRIES - 1) + 1):
                entry = view.log_entry(seq)
                if entry is None or entry.WhichOneof("command") != "submit":
                    continue
                batch = parse_batch(entry.submit.envelope.payload)
                for s in batch.signals:
                    if s.type not in PLAIN_TYPES_OF_RULE or not s.value:
                        continue
                    change = old_rule_changes(s.type, s.value)
                    if change is None or change.old is None:  # rule 1 stored nothing for it
                        continue
                    old_id = domain.signal_id(s.type, change.old)
                    item = found.get((old_id, change.new))
                    if item is None:
                        new_id = domain.signal_id(s.type, change.new) if change.new else None
                        item = found[(old_id, change.new)] = StoredChange(
                            s.type,
                            change.old,
                            old_id,
                            change.new,
                            new_id,
                            change.reason,
                            stored=view.signal(old_id) is not None,
                        )
                    if s.value not in item.sent_as:
                        item.sent_as.append(s.value)
                    if seq not in item.log_sequences:
                        item.log_sequences.append(seq)
                    if batch.member_id not in item.members:
                        item.members.append(batch.member_id)
    return list(found.values())
