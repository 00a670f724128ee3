#!/usr/bin/env python3
"""The single-file build against the installed package: start-up, offline and live runs.

Usage: python bench/singlefile.py [--runs N] [--file dist/kubectl-pullsecret]

Builds the single file for this machine (packaging/build.py) unless --file is given,
then times, median of N runs, under Debian's /usr/bin/python3 -I (else this python):
`version`, `doctor -f examples/shop --no-probe`, and a live `doctor -n shop --no-probe`
against the fake API server (tests/fakekube, its own process) loaded with examples/shop:
the first live run of a fresh cache (it unpacks kubernetes, pydantic and pydantic_core
and compiles their bytecode) and the later ones. The installed package
(`python -m kubectl_pullsecret`, bytecode cached) is timed the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STOCK = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Wall time of one run, which must succeed: exit 0 (version) or 1 (the example's findings)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and "Summary:" not in proc.stdout):
        raise SystemExit(f"{' '.join(cmd)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--file", help="a built single file (default: build one)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-singlefile-"))
    single = Path(args.file) if args.file else tmp / "kubectl-pullsecret"
    if not args.file:
        subprocess.run([sys.executable, str(ROOT / "packaging" / "build.py"), "--out", str(tmp)], check=True,
                       stdout=subprocess.DEVNULL)
    sys.path.insert(0, str(ROOT))
    from tests.integration.live_helpers import example_objects

    (tmp / "objects.json").write_text(json.dumps(example_objects("shop")))
    server = subprocess.Popen([sys.executable, "-m", "tests.fakekube", "--load", str(tmp / "objects.json"),
                               "--kubeconfig", str(tmp / "kc")], cwd=ROOT, stdin=subprocess.PIPE,  # open: serve
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            if (tmp / "kc").exists():
                break
            time.sleep(0.1)
        home = tmp / "home"
        home.mkdir()
        env = {"PATH": os.environ["PATH"], "HOME": str(home)}
        sf = [STOCK, "-I", str(single)]
        inst = [sys.executable, "-m", "kubectl_pullsecret"]
        installed_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        live = ["doctor", "-n", "shop", "--no-probe", "--kubeconfig", str(tmp / "kc")]
        offline = ["doctor", "-f", "examples/shop", "--no-probe"]
        rows = []
        first = []
        for _ in range(args.runs):
            shutil.rmtree(home / ".cache", ignore_errors=True)
            first.append(timed(sf + live, env))
        for name, argv in (("version", ["version"]), ("doctor -f examples/shop --no-probe", offline),
                           ("doctor -n shop --no-probe (live)", live)):
            timed(inst + argv, installed_env)  # bytecode written once
            s = statistics.median(timed(sf + argv, env) for _ in range(args.runs))
            i = statistics.median(timed(inst + argv, installed_env) for _ in range(args.runs))
            rows.append((name, s, i))
        rows.append(("doctor -n shop --no-probe (live), fresh cache", statistics.median(first), None))
    finally:
        server.terminate()
        server.wait()
    print(f"single file {single} ({single.stat().st_size / 2**20:.1f} MiB), python {STOCK}, median of {args.runs}")
    print(f"{'command':50} {'single file s':>14} {'installed s':>12}")
    for name, s, i in rows:
        installed = f"{i:.3f}" if i is not None else "-"
        print(f"{name:50} {s:14.3f} {installed:>12}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
