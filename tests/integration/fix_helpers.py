"""Shared pieces of the fix tests (tests/integration/test_fix_*.py): `fix` run in this
process against tests/fakekube, and the request log read as writes."""

from __future__ import annotations

import io
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

from tests.fakekube import FakeKube
from tests.integration.live_helpers import Run

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class _Stdin(io.StringIO):
    def __init__(self, text: str, tty: bool) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


class _Err(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def fix(*args: str | Path, kubeconfig: str | Path, stdin: str = "", tty: bool = False) -> Run:
    """`kubectl pullsecret fix ARGS` in this process; `tty` makes stdin and stderr look like a
    terminal (the y/N prompts), `stdin` is what the user types or pipes."""
    from kubectl_pullsecret.cli import main

    argv = ["fix", *map(str, args), "--kubeconfig", str(kubeconfig)]
    out, err = io.StringIO(), _Err(tty)
    started = time.perf_counter()
    old_stdin = sys.stdin
    sys.stdin = _Stdin(stdin, tty)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(argv)
    finally:
        sys.stdin = old_stdin
    return Run(code, out.getvalue(), err.getvalue(), time.perf_counter() - started, tuple(argv[1:]))


def writes(api: FakeKube) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, query) of every write the server received since the last clear_log()."""
    return [(r.method, r.path, dict(r.query)) for r in api.requests if r.method in WRITE_METHODS
            and not r.path.endswith("subjectaccessreviews")]
