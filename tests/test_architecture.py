"""The architecture is enforced: the import contracts in pyproject.toml ([tool.importlinter])
hold, and docs/architecture.md's picture is the one scripts/architecture.py draws from the code."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("signalhub", "exchange", "matcher", "client_sdk")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("architecture", ROOT / "scripts/architecture.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["architecture"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).parent / "lint-imports"
    found = str(lint) if lint.exists() else shutil.which("lint-imports")
    assert found, "lint-imports is missing: pip install -e '.[dev]' (import-linter)"
    return subprocess.run(
        [found, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_import_contracts_hold() -> None:
    done = _lint_imports(ROOT)
    assert done.returncode == 0, (
        "an import breaks a contract of pyproject.toml's [tool.importlinter] "
        f"(docs/architecture.md says which package may import which):\n{done.stdout}{done.stderr}"
    )


def test_a_forbidden_import_breaks_the_contracts(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.so", "__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "exchange/errors.py").open("a") as errors:
        errors.write("\n\ndef _sdk() -> None:\n    import client_sdk.errors  # noqa: F401\n")
    done = _lint_imports(tmp_path)
    assert done.returncode == 1
    assert "exchange never imports client_sdk BROKEN" in done.stdout
    assert "exchange.errors -> client_sdk.errors" in done.stdout


def test_architecture_doc_is_generated_from_the_code() -> None:
    generator = _generator()
    text = (ROOT / "docs/architecture.md").read_text(encoding="utf-8")
    assert generator.replace_block(text, generator.render()) == text, (
        "docs/architecture.md's picture is stale (an import or a module changed): "
        "run `python scripts/architecture.py --write` and commit the result"
    )


def _tree(root: Path, files: dict[str, str]) -> None:
    for package in PACKAGES:
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("")
    for name, source in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(source)


def test_imports_are_read_with_relative_ones_resolved_and_functions_included(
    tmp_path: Path,
) -> None:
    generator = _generator()
    _tree(
        tmp_path,
        {
            "exchange/ledger/__init__.py": "",
            "exchange/ledger/submit.py": (
                "from ..store import Store\nfrom . import decisions\n"
                "def f():\n    import matcher.pdq_index\n"
            ),
            "exchange/store.py": "from exchange import errors\n",
            "exchange/errors.py": "import grpc\n",
        },
    )
    assert set(generator.imported_modules(tmp_path / "exchange/ledger/submit.py", tmp_path)) == {
        "exchange.store.Store",
        "exchange.ledger.decisions",
        "matcher.pdq_index",
    }
    assert generator.node_imports(tmp_path)["exchange.ledger"] == {"exchange.store", "matcher"}
    assert generator.node_imports(tmp_path)["exchange.store"] == {"exchange.errors"}
    assert generator.node_imports(tmp_path)["exchange.errors"] == set()


def test_an_arrow_a_longer_path_implies_is_left_out() -> None:
    generator = _generator()
    arrows = {(0, 1), (1, 2), (0, 2), (2, 3)}
    assert generator._implied((0, 2), arrows)
    assert not generator._implied((0, 1), arrows)
    assert not generator._implied((2, 3), arrows)


def test_a_module_no_component_names_is_drawn_with_its_package() -> None:
    generator = _generator()
    assert generator.component_of("exchange.ledger") == "ledger"
    assert generator.component_of("exchange.newly_added") == "other hub modules"
    assert generator.component_of("client_sdk.newly_added") == "client SDK"
