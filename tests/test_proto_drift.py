"""The committed generated code must be exactly what `make proto` produces from proto/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
GENERATED = [
    "signalhub/v1/common_pb2.py", "signalhub/v1/common_pb2.pyi",
    "signalhub/v1/common_pb2_grpc.py", "signalhub/v1/exchange_pb2.py",
    "signalhub/v1/exchange_pb2.pyi", "signalhub/v1/exchange_pb2_grpc.py",
    "signalhub/v1/admin_pb2.py", "signalhub/v1/admin_pb2.pyi", "signalhub/v1/admin_pb2_grpc.py",
    "signalhub/v1/coalition_pb2.py", "signalhub/v1/coalition_pb2.pyi",
    "signalhub/v1/coalition_pb2_grpc.py",
    "signalhub/storage/v1/records_pb2.py", "signalhub/storage/v1/records_pb2.pyi",
]  # fmt: skip


def _generate(out: Path) -> None:
    include = str(Path(protoc.__file__).parent / "_proto")
    wire = sorted(str(p) for p in (ROOT / "proto/signalhub/v1").glob("*.proto"))
    storage = sorted(str(p) for p in (ROOT / "proto/signalhub/storage/v1").glob("*.proto"))
    args = ["protoc", f"-I{ROOT / 'proto'}", f"-I{include}", f"--python_out={out}",
            f"--pyi_out={out}"]  # fmt: skip
    assert protoc.main([*args, f"--grpc_python_out={out}", *wire]) == 0
    assert protoc.main([*args, *storage]) == 0


def test_generated_code_matches_proto_files(tmp_path: Path) -> None:
    _generate(tmp_path)
    produced = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*_pb2*.py*"))
    assert produced == sorted(GENERATED)
    stale = [name for name in GENERATED
             if (tmp_path / name).read_bytes() != (ROOT / name).read_bytes()]  # fmt: skip
    assert not stale, f"generated code is stale, run `make proto`: {stale}"


def test_drift_check_notices_a_changed_proto(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "proto", copy / "proto")
    exchange = copy / "proto/signalhub/v1/exchange.proto"
    exchange.write_text(exchange.read_text().replace("int32 limit = 2;", "int64 limit = 2;"))
    out = tmp_path / "out"
    out.mkdir()
    include = str(Path(protoc.__file__).parent / "_proto")
    assert protoc.main(["protoc", f"-I{copy / 'proto'}", f"-I{include}", f"--python_out={out}",
                        str(exchange)]) == 0  # fmt: skip
    produced = (out / "signalhub/v1/exchange_pb2.py").read_bytes()
    if produced == (ROOT / "signalhub/v1/exchange_pb2.py").read_bytes():
        pytest.fail("a changed .proto produced identical code: the drift test would not notice")
