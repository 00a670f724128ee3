"""The progress line of long runs: with -A (or --from-nodes, see test_nodes_e2e) and stderr
on a terminal, doctor rewrites one line on stderr while it reads the cluster and probes,
and erases it before the report; never with stderr a pipe, never with -o json/yaml, and
not for a one-namespace run."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubectl_pullsecret import progress
from tests.integration.live_helpers import example_objects, fake_kube

REPO = Path(__file__).resolve().parents[2]
# The example's registries answer nothing here: a proxy on a closed port refuses every
# probe at once (the API server, on 127.0.0.1, is not proxied).
ENV = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
       "NO_PROXY": "127.0.0.1,localhost", "COLUMNS": "200"}
LINE = "\r\x1b[K"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with fake_kube(openshift=False) as api:
        api.add_all(example_objects("shop"))
        yield api.kubeconfig(tmp_path_factory.mktemp("progress") / "kubeconfig")


def _run(kc: Path, *args: str, tty: bool = True) -> tuple[int, str, str]:
    """doctor with stderr on a pseudo-terminal (or a pipe); stdout is a pipe."""
    argv = [sys.executable, "-m", "kubectl_pullsecret", "doctor", "--kubeconfig", str(kc), "--probe-timeout", "3",
            *args]
    if not tty:
        proc = subprocess.run(argv, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=60, check=False)
        return proc.returncode, proc.stdout, proc.stderr
    master, slave = os.openpty()
    proc2 = subprocess.Popen(argv, cwd=REPO, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            seen += chunk
        out, _ = proc2.communicate(timeout=60)
    finally:
        os.close(master)
    return proc2.returncode, out.decode(), seen.decode(errors="replace")


def _states(err: str) -> list[str]:
    return [s for s in err.split(LINE) if s]


def test_all_namespaces_on_a_terminal_shows_reads_and_probes_then_erases_the_line(cluster: Path) -> None:
    code, out, err = _run(cluster, "-A")
    assert code == 1, err
    assert "Summary:" in out and LINE not in out  # the report itself is untouched
    states = _states(err)
    reads = [s for s in states if s.startswith("reading the cluster:")]
    probes = [s for s in states if s.startswith("probing registries:")]
    assert reads and probes, states
    # The last state of each phase is always shown: every read and every chain done.
    done, planned = map(int, re.match(r"reading the cluster: (\d+)/(\d+) reads", reads[-1]).groups())  # type: ignore[union-attr]
    assert done == planned >= 5
    assert re.search(r"\d+ kinds loaded, \d+ objects$", reads[-1])
    chains = re.match(r"probing registries: (\d+)/(\d+) image credential chains$", probes[-1])
    assert chains and chains.group(1) == chains.group(2) and int(chains.group(2)) >= 1, probes
    # Reads come before probes, and the line is erased at the end (nothing after the erase).
    assert states.index(reads[-1]) < states.index(probes[0])
    assert err.endswith(LINE), repr(err[-80:])
    assert all("\n" not in s for s in reads + probes)  # one line, rewritten


@pytest.mark.parametrize("args, tty", [
    (("-A", "-o", "json"), True),
    (("-A", "-o", "yaml"), True),
    (("-A",), False),          # stderr a pipe
    (("-n", "shop"), True),    # one namespace: not a long run
])
def test_no_progress_line(cluster: Path, args: tuple[str, ...], tty: bool) -> None:
    code, out, err = _run(cluster, *args, tty=tty)
    assert code == 1, err
    assert LINE not in err and "\x1b[" not in err, repr(err)  # (a terminal shows "\n" as "\r\n")
    assert "reading the cluster" not in err and "probing registries" not in err


# --- the line itself -------------------------------------------------------------------------------------------

def test_line_is_throttled_but_keeps_each_phase_s_last_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    stream = io.StringIO()
    line = progress.Progress(stream)
    for i in range(1, 51):
        line.update(f"probing registries: {i}/50", final=i == 50)
    states = _states(stream.getvalue())
    assert states[0] == "probing registries: 1/50" and states[-1] == "probing registries: 50/50"
    assert len(states) < 10  # 50 updates within 0.1 s: the first and the final one
    line.clear()
    assert stream.getvalue().endswith(LINE)
    size = len(stream.getvalue())
    line.clear()  # nothing shown since: nothing written
    assert len(stream.getvalue()) == size


def test_line_never_wraps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    stream = io.StringIO()
    progress.Progress(stream).update("reading the cluster: 3/14 reads, 2 kinds loaded, 12,345 objects", final=True)
    [state] = _states(stream.getvalue())
    assert len(state) < 30 and state.endswith("…") and state.startswith("reading the cluster")


def test_a_closed_stderr_is_not_an_error() -> None:
    stream = io.StringIO()
    stream.close()
    line = progress.Progress(stream)
    line.update("x", final=True)
    line.clear()  # no exception: the line is a courtesy
