"""What the user pipes or types: a secret read from stdin (`--password-stdin`), and a
line asked for on the terminal, without echo for a password. Every secret read here is
registered with the redactor before anything else sees it."""

from __future__ import annotations

from typing import Any, TextIO

from kubectl_pullsecret import redact
from kubectl_pullsecret.errors import UsageError


def _chomp(text: str) -> str:
    """One trailing newline removed (as `docker login --password-stdin` does), nothing else."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def read_piped(stdin: TextIO | None, flag: str, empty: str) -> str:
    """All of stdin, one trailing newline cut; UsageError when there is none or it is empty."""
    if stdin is None:
        raise UsageError(f"{flag}: no standard input")
    text = _chomp(stdin.read())
    redact.register(text)
    if not text:
        raise UsageError(f"{flag}: {empty}")
    return text


def ask(stdin: TextIO | None, out: TextIO | None, prompt: str, hidden: bool = False) -> str:
    """One line typed after `prompt`; `hidden`: a password, read with echo off when stdin
    is a real terminal (a stream that only says it is one is read as it comes)."""
    if stdin is None:
        return ""
    old: Any = None
    if hidden:
        try:
            import termios

            fd = stdin.fileno()
            old = termios.tcgetattr(fd)
            quiet = termios.tcgetattr(fd)
            quiet[3] &= ~termios.ECHO
            termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)  # before the prompt: nothing typed is echoed
        except (ImportError, OSError, ValueError):
            old = None  # not a real terminal: nothing to hide
    try:
        if out is not None:
            out.write(prompt)
            out.flush()
        text = _chomp(stdin.readline())
    finally:
        if old is not None:
            termios.tcsetattr(fd, termios.TCSAFLUSH, old)
            if out is not None:
                out.write("\n")  # the Enter the user typed was not echoed
    if hidden:
        redact.register(text)
    return text
