"""The progress line of long runs (-A, --from-nodes) on a terminal's stderr.

One line, rewritten in place (carriage return, erase line), cut to the terminal's
width so that it never wraps, at most ten times a second (the last state of each
phase is always shown), and erased before the report is printed. Callers decide
whether there is one at all (a terminal, a human output format).
"""

from __future__ import annotations

import shutil
import threading
import time
from typing import Protocol, TextIO

INTERVAL = 0.1  # seconds between two rewrites


class Show(Protocol):
    """What the phases call: `show(text)`, `show(text, final=True)` for a phase's last state."""

    def __call__(self, text: str, *, final: bool = False) -> None: ...


class Progress:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()
        self._last = 0.0
        self._shown = False

    def update(self, text: str, *, final: bool = False) -> None:
        """Show `text`; `final` (the last state of a phase) is never skipped."""
        now = time.monotonic()
        with self._lock:
            if not final and now - self._last < INTERVAL:
                return
            self._last = now
            width = shutil.get_terminal_size((80, 24)).columns
            line = text if len(text) < width else text[:max(1, width - 2)] + "…"
            try:
                self.stream.write("\r\033[K" + line)
                self.stream.flush()
            except (OSError, ValueError):  # stderr closed: the line is only a courtesy
                return
            self._shown = True

    def clear(self) -> None:
        with self._lock:
            if self._shown:
                self._shown = False
                try:
                    self.stream.write("\r\033[K")
                    self.stream.flush()
                except (OSError, ValueError):
                    pass
