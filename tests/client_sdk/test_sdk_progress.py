"""Progress of long CLI jobs: drawn on a terminal, silent when piped."""

from __future__ import annotations

import io

from client_sdk.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal() -> None:
    out = Terminal()
    with Progress("submitting", 10, stream=out) as p:
        for _ in range(10):
            p.advance()
    text = out.getvalue()
    assert "submitting [" in text and "10/10" in text and text.endswith("\n")


def test_progress_is_silent_when_piped() -> None:
    out = io.StringIO()
    with Progress("syncing", stream=out) as p:
        p.advance(500)
    assert out.getvalue() == ""
