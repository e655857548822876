"""Progress of long CLI jobs on a terminal; silent when output is piped or redirected, so the
commands stay scriptable."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """A one-line counter on stderr, redrawn at most every 0.1 s, only on a terminal."""

    def __init__(self, label: str, total: int | None = None, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._drawn = 0.0

    def advance(self, n: int = 1) -> None:
        """Counts `n` more done; redraws the line if 0.1 s have passed since the last time."""
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self._drawn >= 0.1:
            self._draw()
            self._drawn = now

    def _draw(self) -> None:
        if self.total:
            width = 30
            filled = int(width * self.done / self.total)
            bar = "#" * filled + "-" * (width - filled)
            text = f"{self.label} [{bar}] {self.done:,}/{self.total:,}"
        else:
            text = f"{self.label} {self.done:,}"
        self.stream.write("\r" + text)
        self.stream.flush()

    def close(self) -> None:
        """Draws the final count and ends the line (nothing when not on a terminal)."""
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
