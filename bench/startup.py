#!/usr/bin/env python3
"""Start-up and quick-start wall time, side by side with `kubectl version --client`.

SPEC quality bar: `kubectl-pullsecret --help` wall time <= 1.2x `kubectl version --client`.
The README quick start (`doctor -f examples/shop`) must finish in under a second.

Usage: python bench/startup.py [--runs N]   (from the repository root, package installed
or not: it runs bin/kubectl-pullsecret, the checkout shim)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIM = [sys.executable, str(ROOT / "bin" / "kubectl-pullsecret")]


def measure(cmd: list[str], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    cases = {
        "kubectl version --client": ["kubectl", "version", "--client"],
        "kubectl-pullsecret --help": SHIM + ["--help"],
        "kubectl-pullsecret version": SHIM + ["version"],
        "doctor -f examples/shop --no-probe": SHIM + ["doctor", "-f", "examples/shop", "--no-probe"],
        "doctor -f examples/must-gather --no-probe -o json": SHIM + ["doctor", "-f", "examples/must-gather",
                                                                     "--no-probe", "-o", "json"],
    }
    if shutil.which("kubectl") is None:
        del cases["kubectl version --client"]
    results = {}
    print(f"{'command':52} {'median s':>9} {'max s':>7}")
    for name, cmd in cases.items():
        med, worst = measure(cmd, args.runs)
        results[name] = med
        print(f"{name:52} {med:9.3f} {worst:7.3f}")
    base = results.get("kubectl version --client")
    if base:
        ratio = results["kubectl-pullsecret --help"] / base
        print(f"\n--help / kubectl version --client = {ratio:.2f} (target <= 1.20)")
    quick = results["doctor -f examples/shop --no-probe"]
    print(f"quick start median {quick:.3f} s (target < 1 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
