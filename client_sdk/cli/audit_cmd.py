"""`signalhub audit head`: fetch the hub's signed audit head and check its signature (against a
pinned hub key if given). The offline audit commands are the hub side's (exchange.commands)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from signalhub import domain

from ..admin_models import UtcTime, iso_time
from .base import Groups, UsageError, connection_flags, json_flag, member_client, public_key, runs


def add_head(groups: Groups) -> None:
    """The `audit head` command."""
    p = groups["audit"].add_parser("head", help="fetch and check the hub's signed audit head")
    p.add_argument(
        "--hub-key",
        type=Path,
        metavar="FILE.pub",
        help="the hub's public key to pin (DATA_DIR/hub.key.pub)",
    )
    json_flag(p)
    connection_flags(p)
    runs(p, cmd_audit_head)


def cmd_audit_head(args: argparse.Namespace) -> int:
    """Prints the audit head once its signature verifies; exits 1 if it does not."""
    with member_client(args) as client:
        head = client.audit_head()
    if head is None:
        raise UsageError("the hub has not signed an audit head yet")
    if args.hub_key is not None and public_key(args.hub_key) != head.hub_public_key:
        raise UsageError("the head is signed by another key than the pinned hub key")
    signed = domain.audit_head_signing_bytes(
        head.sequence, head.chain_hash, head.signed_at.ToMilliseconds()
    )
    try:
        Ed25519PublicKey.from_public_bytes(head.hub_public_key).verify(head.signature, signed)
    except (InvalidSignature, ValueError):
        raise UsageError("the audit head's signature does not verify") from None
    out = {
        "sequence": head.sequence,
        "chain_hash": head.chain_hash.hex(),
        "signed_at": iso_time(UtcTime.from_wire(head.signed_at)),
        "hub_key_id": domain.key_id(head.hub_public_key),
        "signature": "valid",
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"audit head: entry {out['sequence']}, chain {out['chain_hash']}, signed "
            f"{out['signed_at']} by hub key {out['hub_key_id']}: signature valid"
        )
    return 0
