"""A python-threatexchange ("pytx") extension: pytx's CLI, and anything else built on its
SignalExchangeAPI, subscribes to a hub as a member.

    threatexchange config extensions add client_sdk.pytx
    threatexchange config collab edit signalhub NAME --create \\
        --endpoint HOST:PORT --member MEMBER --key-file /abs/path/member.key
    threatexchange fetch

Fetching follows the hub's feed (FetchUpdates) from the stored cursor; additions and updates
become `SignalhubSignalMetadata`, removals (retractions, expiries, lost visibility) deletions.
`report_opinion` sets the member's opinion on the hub (SetOpinion). See docs/pytx.md.

Needs the `pytx` extra (`pip install '.[pytx]'`); nothing else in the SDK imports this module.

No `from __future__ import annotations` here: pytx builds the `config collab edit` flags from
the config dataclass's field types at run time, and string annotations would break it.
"""

import logging
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.auth import (
    SignalExchangeAPIInvalidAuthException,
    SignalExchangeAPIMissingAuthException,
)
from threatexchange.exchanges.collab_config import CollaborationConfigWithDefaults
from threatexchange.exchanges.signal_exchange_api import SignalExchangeAPIWithSimpleUpdates
from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest
from threatexchange.signal_type.signal_base import SignalType

from signalhub import domain
from signalhub.v1 import common_pb2

from .client import Client, TlsConfig
from .errors import NotFound, PermissionDenied, SignalhubError, Unauthenticated
from .interchange import hub_to_pytx, pytx_to_hub

log = logging.getLogger(__name__)

API_NAME = "signalhub"

# Hub signal type <-> pytx signal type name, shared with `signalhub export --format pytx`:
# pdq -> pdq (the same bits and hex), md5 -> video_md5 and sha256 -> video_sha256 (pytx's only
# digest types; a file digest is the same value whatever the file), url -> url (pytx matches
# URLs as exact strings: docs/pytx.md). The hub's other types are not fetched: pytx has no sha1
# or domain type, and the personal types travel only as keyed HMACs, meaningless to pytx.

DEFAULT_PAGE_EVENTS = 5000
"""Feed events per FetchDelta: the CLI can checkpoint between pages."""

_OPINION_WORDS = frozenset({"true_positive", "false_positive", "disputed", "none"})


# --- configuration ----------------------------------------------------------------------------
@dataclass
class _SignalhubCollabRequiredFields:
    endpoint: str = field(metadata={"help": "the hub's address, HOST:PORT", "metavar": "HOST:PORT"})
    member: str = field(metadata={"help": "your member id on the hub", "metavar": "MEMBER"})
    key_file: str = field(
        metadata={
            "help": "absolute path of your member's Ed25519 private key (signalhub keygen)",
            "metavar": "PATH",
        }
    )


@dataclass
class SignalhubCollabConfig(CollaborationConfigWithDefaults, _SignalhubCollabRequiredFields):
    """One hub subscription: where the hub is and the member credentials to use. TLS is on
    when any of the TLS files is given (for a hub whose certificate a public CA issued, give
    the system's CA bundle as --ca-file)."""

    api: str = field(init=False, default=API_NAME)
    # Strings, "" = not set: pytx turns each field into a flag, and plain str is the type its
    # flag generator and JSON config store handle without surprises.
    ca_file: str = field(
        default="",
        metadata={
            "help": "TLS: PEM file of the CA that issued the hub's certificate",
            "metavar": "PATH",
        },
    )
    cert_file: str = field(
        default="",
        metadata={"help": "mTLS: PEM file of this member's client certificate", "metavar": "PATH"},
    )
    client_key_file: str = field(
        default="",
        metadata={"help": "mTLS: PEM file of the client certificate's key", "metavar": "PATH"},
    )

    def tls(self) -> TlsConfig | None:
        """The TLS files the collab names (paths with ~ expanded), or None for plaintext."""
        files = (self.ca_file, self.cert_file, self.client_key_file)
        if not any(files):
            return None
        ca, cert, key = (Path(f).expanduser() if f else None for f in files)
        return TlsConfig(ca, cert, key)


# --- fetched state ----------------------------------------------------------------------------
@dataclass
class SignalhubCheckpoint(state.FetchCheckpointBase):
    """Where the member is in the hub's feed."""

    cursor: str = ""
    """The hub's feed cursor of the last event applied (an opaque token); "" = start. A
    checkpoint holding a decimal cursor from before cursors were opaque is refused by the hub
    (INVALID_ARGUMENT): fetch again from the start."""
    progress_ts: int = 0
    """Unix seconds: the hub time of the newest event applied (never goes back)."""

    def get_progress_timestamp(self) -> int | None:
        """pytx's progress: the hub time of the newest event applied, None before the first."""
        return self.progress_ts or None


@dataclass
class SignalhubSignalMetadata(state.FetchedSignalMetadata):
    """A signal as the member may see it on the hub (labels, tags and counts cover only the
    submissions it may see)."""

    signal_id: str
    hub_type: str
    labels: tuple[str, ...] = ()
    """From the hub's taxonomy (csam, sextortion, ...): the pytx opinion's tags."""
    tags: tuple[str, ...] = ()
    """Free-form tags of the submissions (kept, not shown as pytx tags)."""
    corroboration: int = 0
    """How many members submitted it."""
    true_positive: int = 0
    false_positive: int = 0
    disputed: int = 0
    """Members' opinions, counted."""
    first_seen: int = 0
    last_seen: int = 0
    """Unix seconds of the first and latest submission (0 = unknown)."""
    submitted_by_me: bool | None = None
    """True when this member's submission added the signal; None when the event did not say
    (an update: kept from the earlier record by `fetch_value_merge`)."""
    changed_by_me: bool = False
    """The latest change (submission, opinion, retraction) was this member's."""
    sources: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()
    """Source records of the submissions it may see: (member, source_ref, metadata pairs),
    oldest first (docs/source-records.md)."""

    def get_as_opinions(self) -> t.Sequence[state.SignalOpinion]:
        """pytx's view of the signal: one POSITIVE_CLASS opinion with the hub's labels, and a
        NEGATIVE_CLASS one when any member called it false positive or disputed it."""
        # Every signal on the hub is some member's claim that matching content is abuse: a
        # POSITIVE_CLASS opinion tagged with the hub's labels.
        opinions = [
            state.SignalOpinion(
                bool(self.submitted_by_me),
                state.SignalOpinionCategory.POSITIVE_CLASS,
                set(self.labels),
            )
        ]
        # A false-positive or disputed opinion from any member adds a NEGATIVE_CLASS one, so
        # that pytx's aggregate says DISPUTED. The hub does not say whose opinions they are.
        if self.false_positive or self.disputed:
            opinions.append(
                state.SignalOpinion(False, state.SignalOpinionCategory.NEGATIVE_CLASS, set())
            )
        return opinions


# --- the API ----------------------------------------------------------------------------------
_Delta = state.FetchDelta[tuple[str, str], SignalhubSignalMetadata, SignalhubCheckpoint]


class SignalhubSignalExchangeAPI(
    SignalExchangeAPIWithSimpleUpdates[
        SignalhubCollabConfig, SignalhubCheckpoint, SignalhubSignalMetadata
    ]
):
    """A hub seen through pytx: keys are (pytx signal type name, hub canonical value)."""

    def __init__(
        self,
        collab: SignalhubCollabConfig,
        client: Client,
        *,
        page_events: int = DEFAULT_PAGE_EVENTS,
    ) -> None:
        if page_events < 1:
            raise ValueError("page_events is at least 1")
        self.collab = collab
        self.client = client
        self.page_events = page_events

    @classmethod
    def get_name(cls) -> str:
        """The name pytx lists this exchange under (API_NAME)."""
        return API_NAME

    @staticmethod
    def get_config_cls() -> type[SignalhubCollabConfig]:
        """The collab config class pytx builds for this exchange."""
        return SignalhubCollabConfig

    @staticmethod
    def get_checkpoint_cls() -> type[SignalhubCheckpoint]:
        """The checkpoint class pytx stores between fetches."""
        return SignalhubCheckpoint

    @staticmethod
    def get_record_cls() -> type[SignalhubSignalMetadata]:
        """The class of the per-signal metadata pytx stores."""
        return SignalhubSignalMetadata

    @classmethod
    def for_collab(cls, collab: SignalhubCollabConfig) -> "SignalhubSignalExchangeAPI":
        """A client signing as the collab's member. Raises pytx's auth exceptions (which its
        CLI prints as one clear message) when the key or TLS files are missing or unusable.
        Makes no call: a key the hub does not know fails on the first call."""
        if not collab.key_file:
            raise _missing_key(cls, collab, "")
        path = Path(collab.key_file).expanduser()
        try:
            key = domain.read_private_key(path)
        except FileNotFoundError:
            raise _missing_key(cls, collab, str(path)) from None
        except OSError as e:
            raise SignalExchangeAPIInvalidAuthException(
                cls, f"cannot read the key file {path}: {e.strerror or e}"
            ) from None
        except domain.InvalidValue as e:
            raise SignalExchangeAPIInvalidAuthException(cls, str(e)) from None
        try:
            domain.validate_member_id(collab.member)
        except domain.InvalidValue as e:
            raise SignalExchangeAPIInvalidAuthException(
                cls, f"member {collab.member!r}: {e}"
            ) from None
        try:
            client = Client(collab.endpoint, collab.member, key, tls=collab.tls())
        except SignalhubError as e:  # e.g. a TLS file missing or half a client certificate
            raise SignalExchangeAPIInvalidAuthException(cls, str(e)) from None
        return cls(collab, client)

    def close(self) -> None:
        """Closes the client's gRPC channel."""
        self.client.close()

    def __enter__(self) -> "SignalhubSignalExchangeAPI":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- fetch --------------------------------------------------------------------------------
    def fetch_iter(
        self,
        supported_signal_types: t.Sequence[type[SignalType]],
        checkpoint: SignalhubCheckpoint | None,
    ) -> t.Iterator[_Delta]:
        """The member's feed after the checkpoint's cursor, one FetchDelta a page of at most
        `page_events` events; returns when the feed is exhausted."""
        wanted = {st.get_name() for st in supported_signal_types}
        types = {hub: name for hub, name in hub_to_pytx().items() if name in wanted}
        cursor = checkpoint.cursor if checkpoint else ""
        progress = checkpoint.progress_ts if checkpoint else 0
        while True:
            updates: dict[tuple[str, str], SignalhubSignalMetadata | None] = {}
            count = 0
            try:
                # One call a page: the stream is finished before the caller stores the page.
                for event in self.client.fetch_wire(after=cursor, limit=self.page_events):
                    count += 1
                    cursor = event.cursor
                    progress = max(progress, event.time.seconds)
                    name = types.get(event.signal.type)
                    if name is None:
                        continue  # a type pytx lacks (or the caller does not support)
                    if event.kind == common_pb2.EVENT_KIND_SIGNAL_ERASED:
                        # pytx keys its state by value, which an erasure no longer carries.
                        log.warning(
                            "signal %s (%s) was erased on legal request: remove it from "
                            "this pytx state (its value is not sent again)",
                            event.signal.signal_id,
                            name,
                        )
                        continue
                    if event.signal.value_withheld:
                        # Shared with this member match-only: no value to key pytx's state
                        # by; matches against it are the hub's to answer.
                        log.debug(
                            "signal %s (%s) is shared with you match-only: not in pytx's "
                            "state (match it at the hub)",
                            event.signal.signal_id,
                            name,
                        )
                        continue
                    key = (name, event.signal.value)
                    if event.kind == common_pb2.EVENT_KIND_SIGNAL_REMOVED:
                        updates[key] = None
                    elif event.kind in (
                        common_pb2.EVENT_KIND_SIGNAL_ADDED,
                        common_pb2.EVENT_KIND_SIGNAL_UPDATED,
                    ):
                        new = self._metadata(event)
                        updates[key] = self.fetch_value_merge(updates.get(key), new)
                    else:
                        log.warning("skipping feed event %s of unknown kind", event.cursor)
            except (Unauthenticated, PermissionDenied) as e:
                raise SignalExchangeAPIInvalidAuthException(type(self), str(e)) from e
            if count == 0:
                return
            yield _Delta(updates, SignalhubCheckpoint(cursor, progress))
            if count < self.page_events:
                return

    def _metadata(self, event: common_pb2.FeedEvent) -> SignalhubSignalMetadata:
        s = event.signal
        mine = event.member_id == self.client.member_id
        return SignalhubSignalMetadata(
            signal_id=s.signal_id,
            hub_type=s.type,
            labels=tuple(s.labels),
            tags=tuple(s.tags),
            corroboration=s.corroboration,
            true_positive=s.opinions.true_positive,
            false_positive=s.opinions.false_positive,
            disputed=s.opinions.disputed,
            first_seen=s.first_seen.seconds,
            last_seen=s.last_seen.seconds,
            # Only an added event says for sure whose submission it was; an update may be a
            # submission, an opinion or a retraction.
            submitted_by_me=mine if event.kind == common_pb2.EVENT_KIND_SIGNAL_ADDED else None,
            changed_by_me=mine,
            sources=tuple(
                (r.member_id, r.source_ref, tuple(sorted(r.metadata.items()))) for r in s.sources
            ),
        )

    @classmethod
    def fetch_value_merge(
        cls,
        old: SignalhubSignalMetadata | None,
        new: SignalhubSignalMetadata | None,
    ) -> SignalhubSignalMetadata | None:
        """Replace, keeping what an update did not say (whether the member submitted it)."""
        if new is not None and new.submitted_by_me is None and old is not None:
            new.submitted_by_me = old.submitted_by_me
        return new

    # --- opinions -----------------------------------------------------------------------------
    def report_opinion(
        self,
        s_type: type[SignalType],
        signal: str,
        opinion: state.SignalOpinion,
    ) -> None:
        """Sets the member's opinion on the hub: NEGATIVE_CLASS -> false_positive,
        POSITIVE_CLASS -> true_positive, unless its tags name exactly one hub opinion
        (true_positive, false_positive, disputed, none; '-' or '_'), which then wins: pytx's
        `label` command can only send POSITIVE_CLASS. Other tags go into the opinion's note
        (opinions carry no labels on the hub). INVESTIGATION_SEED has no hub counterpart.

        The signal is the hub's (type, canonical value). A PDQ hash the hub does not hold
        exactly applies to every PDQ signal it matches (distance <= 31): labelling content
        labels the signals that content matched."""
        hub_type = pytx_to_hub().get(s_type.get_name())
        if hub_type is None:
            raise NotImplementedError(f"signalhub has no signal type for {s_type.get_name()}")
        choice, note = _hub_opinion(opinion)
        try:
            value = domain.canonical_value(hub_type, signal)
        except domain.InvalidValue as e:
            raise ValueError(f"not a {hub_type} value for the hub: {e}") from None
        try:
            try:
                self.client.set_opinion(domain.signal_id(hub_type, value), choice, note)
                return
            except NotFound:
                if hub_type != "pdq":
                    raise ValueError(
                        f"the hub has no {hub_type} signal {value!r} that you may see"
                    ) from None
            # PDQ signals only (a PDQ query may also match videos by a frame).
            found = self.client.match([(hub_type, value)])[0].matches
            matches = [m for m in found if m.signal.type == hub_type]
            if not matches:
                raise ValueError(f"no pdq signal on the hub you may see is near {value}")
            for m in matches:
                self.client.set_opinion(m.signal.signal_id, choice, note)
        except (Unauthenticated, PermissionDenied) as e:
            raise SignalExchangeAPIInvalidAuthException(type(self), str(e)) from e


def _hub_opinion(opinion: state.SignalOpinion) -> tuple[str, str]:
    """(hub opinion, note) for a pytx opinion."""
    tags = {str(tag).strip() for tag in opinion.tags} - {""}
    named = {tag for tag in tags if tag.lower().replace("-", "_") in _OPINION_WORDS}
    rest = ",".join(sorted(tags - named))
    note = f"pytx tags: {rest}"[: domain.MAX_NOTE_CHARS] if rest else ""
    if opinion.category == state.SignalOpinionCategory.NEGATIVE_CLASS:
        return "false_positive", note
    if opinion.category == state.SignalOpinionCategory.POSITIVE_CLASS:
        if len(named) > 1:
            raise ValueError(f"tags name more than one opinion: {', '.join(sorted(named))}")
        if named:
            return next(iter(named)).lower().replace("-", "_"), note
        return "true_positive", note
    # INVESTIGATION_SEED ("needs verifying"): the hub's opinions are verdicts on a signal
    # (true/false positive, disputed labels); none of them means "worth a look".
    raise NotImplementedError("signalhub has no opinion for INVESTIGATION_SEED")


def _missing_key(
    api: type[SignalhubSignalExchangeAPI], collab: SignalhubCollabConfig, path: str
) -> SignalExchangeAPIMissingAuthException:
    error = SignalExchangeAPIMissingAuthException(api)
    where = f"no member key file at {path}" if path else "no member key file configured"
    error.hints.append(
        f"{where}: create one with `signalhub keygen --out PATH` and have the hub's operator "
        "register PATH.pub (`signalhub admin add-member MEMBER --public-key PATH.pub`)"
    )
    error.hints.append(
        f"point the collab at the key: `threatexchange config collab edit {API_NAME} "
        f"{collab.name} --key-file /absolute/PATH`"
    )
    return error


TX_MANIFEST = ThreatExchangeExtensionManifest(apis=(SignalhubSignalExchangeAPI,))

__all__ = [
    "TX_MANIFEST",
    "SignalhubCheckpoint",
    "SignalhubCollabConfig",
    "SignalhubSignalExchangeAPI",
    "SignalhubSignalMetadata",
]
