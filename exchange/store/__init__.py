"""LMDB storage: the one place that knows the key layout (the package re-exports its names).

One environment, named databases:

| database      | key                                        | value                          |
| ------------- | ------------------------------------------ | ------------------------------ |
| `meta`        | name                                       | counters, the operator's key   |
| `log`         | log sequence, u64 big-endian               | storage LogEntry (command log) |
| `feed`        | feed sequence, u64 big-endian              | FeedRecord (event + audience)  |
| `signals`     | signal id, 16 bytes                        | SignalRecord                   |
| `submissions` | signal id + log sequence u64 + index u32   | SubmissionRecord               |
| `batches`     | member id, 0x00, batch id                  | BatchRecord (first answer)     |
| `members`     | member id                                  | signalhub.v1.Member            |
| `keys`        | key id                                     | KeyRecord                      |
| `pdq`         | row, u64 big-endian                        | 32-byte hash + 16-byte id      |
| `groups`      | group id                                   | signalhub.v1.PrivacyGroup      |
| `group_signals` | group id, 0x00, signal id (16 bytes)     | empty                          |
| `audit`       | log sequence, u64 big-endian               | AuditRecord (hash chain link)  |
| `audit_heads` | log sequence, u64 big-endian               | signalhub.v1.AuditHead         |
| `opinions`    | signal id (16 bytes) + member id           | OpinionRecord                  |
| `requests`    | kind, 0x00, member id, 0x00, request id    | RequestRecord (first answer)   |
| `expiries`    | expires_at ms u64 + submission key (28)    | empty                          |
| `stats`       | kind + day + ... (exchange.usage)          | usage counts (not in the log)  |
| `typed`       | type, 0x00, signal id (16 bytes)           | canonical value (plug-in index)|
| `incidents`   | member id, 0x00, incident, 0x00, signal id | empty                          |
| `erased`      | signal id (16 bytes)                       | signalhub.v1.ErasedSignal      |
| `warning_lists` | list name                                | WarningList (no entries)       |
| `warning_entries` | list, 0x00, type, 0x00, value          | WarningEntry (approved)        |
| `warning_proposals` | list, 0x00, type, 0x00, value        | ProposedEntry                  |
| `match_days`  | signal id (16) + member id, 0x00, day u32  | MatchDayRecord (logged counts) |
| `match_rates` | signal id (16 bytes)                       | MatchRateRecord (per hour)     |
| `quarantine`  | signal id (16 bytes)                       | QuarantineRecord               |
| `reviews`     | member id, 0x00, review id (16 bytes)      | ReviewRecord                   |

`meta` also keeps, per member, the number of its submissions in force (`live_submissions/`
+ member id), kept by `put_submission` and `delete_submission` in the same transaction, so the
operator's usage view reads it in O(1) instead of scanning the `submissions` table.

Big-endian integer keys keep LMDB's byte order equal to numeric order, so a cursor walks the
log and the feed in sequence. Writes happen only on the writer thread (exchange.writer); reads
take short transactions and never hold one across an await.

**Integrity.** LMDB keeps no checksum of its own, so a flipped byte on disk would be served as it
reads. Every protobuf record of the SEALED_DATABASES ends with a 6-byte seal: protobuf field
2047 (fixed32) holding the CRC-32 of its key and the bytes before it, so any reader that does
not know of it (an older hub, a test, `snapshot`'s unparsed fast path) still parses the record.
Reads here check it; a lookup that misses and a prefix scan also check the records beside the
gap (a record whose key changed stays where it was). A PDQ row is checked against the signal it
names, a typed row against its id, a log entry against the audit chain (its SHA-256), and the
whole PDQ table, at start, against a running weighted sum kept in `meta` (PDQ_TABLE_SUM:
vectorised, it costs a tenth of loading the table). A signal record's id is recomputed from its
type and value only where it has no seal (a store from before seals, SEALED_RECORDS unset):
an intact seal already proves the bytes are those apply wrote under that key, and the SHA-256
would cost more than parsing the record. A record that fails raises HubError(DATA_LOSS)
(errors.data_loss) and is never served. `benchmarks/integrity.py` measures what the checks
cost; `exchange.integrity` walks the whole store (`signalhub admin check`).

Modules: `layout` (tables, keys, constants, the audit link), `seals` (record seals, the PDQ
table's sum), `checked` (the checked reads every view shares), `view` (`StoreView`, the typed
reads), `txn` (`StoreTxn`, the writes), `env` (`Store`: the environment, its transactions and
copies).
"""

from .env import Store, StoreFull, copy_environment
from .layout import (
    GENESIS_HASH,
    INITIAL_MAP_BYTES,
    LIVE_SUBMISSIONS,
    LIVE_SUBMISSIONS_COUNTED,
    MAX_KEY_BYTES,
    PDQ_ROW_BYTES,
    PDQ_TABLE_SUM,
    SEALED_RECORDS,
    STATE_DATABASES,
    STORE_CORRUPTION,
    audit_link,
    describe_key,
    signal_problem,
    submission_key,
    u64,
)
from .seals import (
    SEAL_BYTES,
    SEAL_TAG,
    SEALED_DATABASES,
    open_seal,
    pdq_row_term,
    pdq_table_sum,
    seal,
    seal_state,
    unsealed,
)
from .txn import StoreTxn
from .view import StoreView

__all__ = [
    "GENESIS_HASH",
    "INITIAL_MAP_BYTES",
    "LIVE_SUBMISSIONS",
    "LIVE_SUBMISSIONS_COUNTED",
    "MAX_KEY_BYTES",
    "PDQ_ROW_BYTES",
    "PDQ_TABLE_SUM",
    "SEALED_DATABASES",
    "SEALED_RECORDS",
    "SEAL_BYTES",
    "SEAL_TAG",
    "STATE_DATABASES",
    "STORE_CORRUPTION",
    "Store",
    "StoreFull",
    "StoreTxn",
    "StoreView",
    "audit_link",
    "copy_environment",
    "describe_key",
    "open_seal",
    "pdq_row_term",
    "pdq_table_sum",
    "seal",
    "seal_state",
    "signal_problem",
    "submission_key",
    "u64",
    "unsealed",
]
