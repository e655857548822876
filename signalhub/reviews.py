"""Decision propagation's shared rules (issue 21.3), for the SDK and the hub alike: the signing
prefixes of a member's Appeal and ReviewDone, and their bounds."""

from __future__ import annotations

import re

APPEAL_SIGNING_PREFIX = b"signalhub.v1.Appeal\x00"
REVIEW_DONE_SIGNING_PREFIX = b"signalhub.v1.ReviewDone\x00"
MAX_NOTE_CHARS = 1000
"""An appeal's or a review's note."""
MAX_REVIEW_IDS = 1000
"""Notices one MarkReviewed names."""
MAX_REVIEWS_PAGE = 1000
DEFAULT_REVIEWS_PAGE = 100
_REVIEW_ID = re.compile(r"[0-9a-f]{32}")


def is_review_id(text: str) -> bool:
    """32 lowercase hex digits."""
    return bool(_REVIEW_ID.fullmatch(text))
