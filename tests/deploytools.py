"""Helpers shared by the deploy-file tests (tests/deploy/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def rel(path: Path) -> str:
    """`path` relative to the repository root, for messages."""
    return str(path.relative_to(ROOT))


def yaml_docs(path: Path) -> list[Any]:
    """Every non-empty document of a YAML file."""
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def yaml_one(path: Path) -> Any:
    """The one document of a YAML file."""
    (doc,) = yaml_docs(path)
    return doc
