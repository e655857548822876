"""The deterministic write path: `apply_entry(tx, sequence, entry)` decides one command-log
entry against the stored state and writes its effects (state tables and feed events).

Apply is a function of the entry and the state alone: no clock (the receive time is in the
entry), no randomness. Replaying the log through it rebuilds the same state and the same feed,
which is what lets subscribers mirror the hub and, later, several nodes share one log.

By command family:
- `dispatch`: `apply_entry` (the command -> handler table) and the savepoint around it
  (`append_and_apply`, `apply_in_savepoint`);
- `submissions`: a batch's validation (`PreparedBatch`, `canonical_batch`) and its apply;
- `members`: members and keys, offboarding; `groups`: privacy groups; `opinions`;
- `withdrawals`: retraction and expiry; `erasure`: legal erasure's apply (the service's
  erase command that prepares it is exchange/erasure.py);
- `decisions`: which submissions a command withdraws, stated once for apply and the reports;
- `common`: what the families share (`Applied`, feed events, removing submissions, signed
  commands' replay and time-window checks).

The key and batch checks apply shares with the services live in exchange/auth.py; they are
re-exported here for older importers.
"""

from ..auth import check_key, check_signer, parse_batch
from .common import MAX_REASON_CHARS, MAX_TIMESTAMP_SECONDS, Applied, valid_time
from .dispatch import HANDLERS, append_and_apply, apply_entry, apply_in_savepoint
from .members import key_message
from .submissions import PreparedBatch, canonical_batch

__all__ = [
    "HANDLERS",
    "MAX_REASON_CHARS",
    "MAX_TIMESTAMP_SECONDS",
    "Applied",
    "PreparedBatch",
    "append_and_apply",
    "apply_entry",
    "apply_in_savepoint",
    "canonical_batch",
    "check_key",
    "check_signer",
    "key_message",
    "parse_batch",
    "valid_time",
]
