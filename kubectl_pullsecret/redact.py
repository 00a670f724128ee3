"""Secret hygiene: every secret value seen is registered here, and every text that
leaves the process (reports, logs, error lines) is scrubbed of them.

This is defence in depth: the code never puts a secret into a message in the first
place; the scrubber catches what a future change might leak by accident.
"""

from __future__ import annotations

import threading

MASK = "<redacted>"
# Values shorter than this are not scrubbed: replacing every "ab" in a report would
# mangle it. Such values are never formatted into output anyway.
MIN_LEN = 4

_lock = threading.Lock()
_secrets: set[str] = set()


def register(*values: str | bytes | None) -> None:
    """Remember secret values (passwords, tokens, auth strings, raw secret data)."""
    with _lock:
        for value in values:
            if value is None:
                continue
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            text = text.strip()
            if len(text) >= MIN_LEN:
                _secrets.add(text)


def scrub(text: str) -> str:
    """Return text with every registered secret value replaced by a mask."""
    with _lock:
        if not _secrets:
            return text
        # Longest first, so a secret that contains another is masked whole.
        ordered = sorted(_secrets, key=len, reverse=True)
    for secret in ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def clear() -> None:
    """Forget all registered values (tests)."""
    with _lock:
        _secrets.clear()
