"""What `signalhub admin check` reports (exchange.integrity): each problem found, with the
table and the record's key as people read it, and the counts of the walk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

MAX_PROBLEMS = 1000
"""Problems kept (and printed) by default; the count goes on past it."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong: the table, the record's key as people read it, and what is wrong."""

    table: str
    key: str
    what: str

    def line(self) -> str:
        """The problem as one line of the report."""
        return f"{self.table} {self.key}: {self.what}"


@dataclass
class CheckReport:
    """What `check_store` found."""

    problems: list[Problem] = field(default_factory=list)
    found: int = 0
    """Problems found (more than `problems` holds once it reached max_problems)."""
    records: dict[str, int] = field(default_factory=dict)
    """Records walked, by table."""
    unchecked: int = 0
    """Records written before seals (an old store): parsed and cross-checked, no checksum."""
    structure: str = "not checked"
    """The outcome of LMDB's structural walk: "ok", "problems", or why it was not run."""
    seconds: float = 0.0
    max_problems: int = MAX_PROBLEMS
    sink: Callable[[Problem], None] | None = None
    """Also called with each problem as it is found."""

    @property
    def ok(self) -> bool:
        """Whether nothing was found."""
        return self.found == 0

    def add(self, table: str, key: str, what: str) -> None:
        """Counts a problem, keeps it (up to max_problems) and passes it to the sink."""
        self.found += 1
        problem = Problem(table, key, what)
        if len(self.problems) < self.max_problems:
            self.problems.append(problem)
        if self.sink is not None:
            self.sink(problem)

    def as_json(self) -> dict[str, object]:
        """The report as `admin check --json` prints it."""
        return {
            "ok": self.ok,
            "problems": [p.__dict__ for p in self.problems],
            "found": self.found,
            "records": self.records,
            "unchecked": self.unchecked,
            "structure": self.structure,
            "seconds": round(self.seconds, 3),
        }


def key_text(db: str, key: bytes) -> str:
    """A record's key as a problem line shows it."""
    if db in ("signals", "erased") and len(key) == 16:
        return key.hex()
    if db == "submissions" and len(key) == 28:
        seq, index = int.from_bytes(key[16:24], "big"), int.from_bytes(key[24:], "big")
        return f"{key[:16].hex()}/{seq}/{index}"
    if db in ("log", "feed", "audit", "audit_heads", "pdq") and len(key) == 8:
        return str(int.from_bytes(key, "big"))
    if db == "opinions" and len(key) > 16:
        return f"{key[:16].hex()}/{key[16:].decode(errors='replace')}"
    if db == "expiries" and len(key) == 36:
        return f"{int.from_bytes(key[:8], 'big')}/{key_text('submissions', key[8:])}"
    if db in ("typed", "group_signals", "incidents") and len(key) > 17:
        return f"{key[:-16].decode(errors='replace').replace(chr(0), '/')}{key[-16:].hex()}"
    return repr(key.decode(errors="replace").replace("\x00", "/"))
