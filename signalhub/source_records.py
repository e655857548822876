"""The source record a submission may carry (issue 21.5): the submitter's own opaque reference
(`source_ref`) and a small metadata map, returned with the signal to whoever may see that
submission. Limits and validation, written once for the SDK and the hub (re-exported by
`signalhub.domain`). Pure functions over plain values."""

from __future__ import annotations

import re
from collections.abc import Mapping

from signalhub.signal_types import InvalidValue

MAX_SOURCE_REF_CHARS = 128
MAX_METADATA_KEYS = 16
MAX_METADATA_KEY_CHARS = 32
MAX_METADATA_VALUE_CHARS = 256
MAX_METADATA_CHARS = 1024
"""Characters of a submission's metadata over all its keys and values together."""
MAX_SOURCES = 32
"""Source records a signal's view carries at most (the oldest submissions first); more sets
`sources_truncated`."""

_METADATA_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")

Metadata = tuple[tuple[str, str], ...]
"""A validated metadata map: (key, value) pairs sorted by key, hashable and comparable."""


class InvalidFieldValue(InvalidValue):
    """An invalid value of a named field of a signal other than its value (defined here, where
    the source-record checks need it, and re-exported by `signalhub.domain`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def validate_source_ref(source_ref: str) -> str:
    """A submission's source reference as given: at most 128 printable characters (no control
    characters). It is opaque: never normalised, so the submitter gets back exactly its own."""
    if len(source_ref) > MAX_SOURCE_REF_CHARS or not source_ref.isprintable():
        raise InvalidFieldValue(
            "source_ref",
            f"a source_ref is at most {MAX_SOURCE_REF_CHARS} printable characters "
            "(no control characters)",
        )
    return source_ref


def validate_metadata(metadata: Mapping[str, str]) -> Metadata:
    """A submission's metadata, sorted by key: at most 16 keys, each a lowercase slug of 1-32
    characters (a-z, 0-9, then also '_', '.', '-'), each value at most 256 printable
    characters, 1,024 characters in all."""
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidFieldValue(
            "metadata", f"at most {MAX_METADATA_KEYS} metadata keys, got {len(metadata)}"
        )
    total = 0
    for key, value in metadata.items():
        if not isinstance(key, str) or not _METADATA_KEY.fullmatch(key):
            raise InvalidFieldValue(
                "metadata",
                f"metadata key {str(key)[:40]!r} is not 1-{MAX_METADATA_KEY_CHARS} of a-z, 0-9, "
                "'_', '.', '-' starting with a letter or digit",
            )
        if (
            not isinstance(value, str)
            or len(value) > MAX_METADATA_VALUE_CHARS
            or not value.isprintable()
        ):
            raise InvalidFieldValue(
                "metadata",
                f"metadata value of {key!r} is not at most {MAX_METADATA_VALUE_CHARS} "
                "printable characters",
            )
        total += len(key) + len(value)
    if total > MAX_METADATA_CHARS:
        raise InvalidFieldValue(
            "metadata",
            f"metadata is at most {MAX_METADATA_CHARS} characters over its keys and values, "
            f"got {total}",
        )
    return tuple(sorted(metadata.items()))


def source_digest_part(source_ref: str, metadata: Metadata) -> bytes:
    """What a signal's source record adds to a batch's content digest (nothing when it has
    none, so digests of batches without one stay as they were): length-prefixed fields."""
    if not source_ref and not metadata:
        return b""
    fields = [b"source", source_ref.encode()]
    for key, value in metadata:
        fields += [key.encode(), value.encode()]
    return b"".join(len(f).to_bytes(4, "big") + f for f in fields)
