"""Backups of a data directory: a consistent, compacted copy of the LMDB store (LMDB copies
from one read transaction, so a copy taken while the hub serves holds an exact prefix of the
log and the feed, nothing torn) plus the directory's keys and certificates."""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .store import Store, copy_environment

SERVE_LOCK = "serve.lock"
_KEY_FILES = ("hub.key", "hub.key.pub", "operator.key", "operator.key.pub")


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why."""


@dataclass(frozen=True)
class BackupReport:
    """What a backup holds: its log entries, the feed sequence it ends at, its size in bytes."""

    log_entries: int
    feed_sequence: int
    bytes: int


def _summary(lmdb_dir: Path) -> BackupReport:
    store = Store(lmdb_dir, readonly=True)
    try:
        with store.read() as view:
            entries, feed = view.counter("log_seq"), view.counter("feed_seq")
    finally:
        store.close()
    return BackupReport(entries, feed, (lmdb_dir / "data.mdb").stat().st_size)


def backup_data_dir(data_dir: Path, out: Path, progress: bool = False) -> BackupReport:
    """Copies DATA_DIR's store (compacted) and keys to the new directory OUT."""
    source = Path(data_dir) / "lmdb"
    if not (source / "data.mdb").exists():
        raise BackupError(f"{data_dir} is not a signalhub data directory")
    if Path(out).exists():
        raise BackupError(f"{out} exists; a backup goes into a new directory")
    Path(out).mkdir(parents=True, mode=0o700)
    target = Path(out) / "lmdb"
    target.mkdir(mode=0o700)
    if progress:
        print(f"copying {source} ...", file=sys.stderr, flush=True)
    copy_environment(source, target)
    _copy_keys(Path(data_dir), Path(out))
    return _summary(target)


def _copy_keys(source: Path, target: Path) -> None:
    for name in _KEY_FILES:
        if (source / name).exists():
            shutil.copy2(source / name, target / name)
    if (source / "tls").is_dir():
        shutil.copytree(source / "tls", target / "tls")


def restore_data_dir(backup: Path, data_dir: Path, force: bool = False) -> BackupReport:
    """Restores BACKUP into DATA_DIR. Refuses while a hub serves the directory, and refuses to
    replace an existing store without `force`."""
    source = Path(backup) / "lmdb" / "data.mdb"
    if not source.exists():
        raise BackupError(f"{backup} is not a signalhub backup (no lmdb/data.mdb)")
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with serve_lock(data_dir, wait=False) as held:
        if not held:
            raise BackupError(f"a hub is serving {data_dir}; stop it first")
        existing = data_dir / "lmdb" / "data.mdb"
        if existing.exists() and not force:
            raise BackupError(f"{data_dir} already has a store; add --force to replace it")
        (data_dir / "lmdb").mkdir(exist_ok=True, mode=0o700)
        for name in ("data.mdb", "lock.mdb"):
            (data_dir / "lmdb" / name).unlink(missing_ok=True)
        shutil.copy2(source, existing)
        for name in _KEY_FILES:
            if (Path(backup) / name).exists():
                (data_dir / name).unlink(missing_ok=True)
                shutil.copy2(Path(backup) / name, data_dir / name)
        if (Path(backup) / "tls").is_dir():
            shutil.rmtree(data_dir / "tls", ignore_errors=True)
            shutil.copytree(Path(backup) / "tls", data_dir / "tls")
    return _summary(data_dir / "lmdb")


class serve_lock:
    """An exclusive lock on DATA_DIR/serve.lock: held by a serving hub for its lifetime, so
    two hubs never share a store and a restore never runs under a live one."""

    def __init__(self, data_dir: Path, wait: bool = False) -> None:
        self.path = Path(data_dir) / SERVE_LOCK
        self.wait = wait
        self.fd = -1

    def __enter__(self) -> bool:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(self.fd)
            self.fd = -1
            return False
        return True

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1
