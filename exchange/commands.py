"""The hub side of the `signalhub` command: `init` and `serve`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from signalhub import domain

from .server import HubServer, ServerConfig, lmdb_path, serve
from .store import Store, StoreTxn


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Registers the hub's subcommands on the dispatcher's parser."""
    p = sub.add_parser("init", help="create a hub data directory, its keys and LMDB store")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=_env_path("SIGNALHUB_DATA_DIR"),
        required=_env_path("SIGNALHUB_DATA_DIR") is None,
    )
    p.set_defaults(run=cmd_init)

    p = sub.add_parser("serve", help="run the hub")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=_env_path("SIGNALHUB_DATA_DIR"),
        required=_env_path("SIGNALHUB_DATA_DIR") is None,
    )
    p.add_argument(
        "--listen",
        default=os.environ.get("SIGNALHUB_LISTEN", "127.0.0.1:50051"),
        help="HOST:PORT of the gRPC endpoint (default 127.0.0.1:50051)",
    )
    p.add_argument(
        "--metrics-listen",
        default=os.environ.get("SIGNALHUB_METRICS_LISTEN", "127.0.0.1:9464"),
        help="HOST:PORT of the Prometheus endpoint; 'off' disables it",
    )
    p.set_defaults(run=cmd_serve)


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def init_data_dir(data_dir: Path) -> str:
    """Creates DATA_DIR with the hub's key, the operator's key (operator.key, 0600) and an
    empty LMDB store; returns the operator key's id. Refuses a directory already initialised."""
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    if (lmdb_path(data_dir) / "data.mdb").exists() or (data_dir / "operator.key").exists():
        raise FileExistsError(f"{data_dir} is already a signalhub data directory")
    hub_key = domain.new_private_key()
    operator_key = domain.new_private_key()
    domain.write_key_pair(hub_key, data_dir / "hub.key")
    operator_id = domain.write_key_pair(operator_key, data_dir / "operator.key")
    store = Store(lmdb_path(data_dir))
    try:

        def write(tx: StoreTxn) -> None:
            tx.set_meta("hub_public_key", domain.raw_public_key(hub_key))
            tx.set_meta("operator_public_key", domain.raw_public_key(operator_key))

        store.write(write)
    finally:
        store.close()
    return operator_id


def cmd_init(args: argparse.Namespace) -> int:
    try:
        operator_id = init_data_dir(args.data_dir)
    except FileExistsError as e:
        print(f"signalhub: {e}", file=sys.stderr)
        return 1
    print(f"initialised {args.data_dir}")
    print(f"operator key: {args.data_dir / 'operator.key'} (key id {operator_id})")
    print(f"next: signalhub serve --data-dir {args.data_dir}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    metrics = None if args.metrics_listen in ("", "off") else args.metrics_listen
    config = ServerConfig(args.data_dir, args.listen, metrics)

    async def ready(hub: HubServer) -> None:
        host = args.listen.rpartition(":")[0]
        print(f"signalhub serving on {host}:{hub.port} (metrics: {metrics or 'off'})", flush=True)

    asyncio.run(serve(config, ready))
    return 0
