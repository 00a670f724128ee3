"""Run the fake API server in its own process (for benchmarks).

    python -m tests.fakekube --load objects.json [--openshift] --kubeconfig OUT [--user NAME --token T]
        [--roles] [--port N]

Loads a JSON list of objects (or a `List`), writes a kubeconfig (for --user when given, else admin),
prints one line `ready https://127.0.0.1:PORT` on stdout, and serves until SIGTERM/SIGINT or stdin is
closed. At exit it prints the request count summary to stderr as JSON
(`{"count": N, "requests": {"GET /api/v1/pods": n, ...}}`). The same summary is served live, without
authentication, at GET /fakekube/requests (those requests are not counted).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from types import FrameType

from .rbac import standard_cluster_roles
from .server import FakeKube, load_objects


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakekube", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load", action="append", default=[], help="JSON file of objects (repeatable)")
    parser.add_argument("--openshift", action="store_true", help="serve the OpenShift API groups too")
    parser.add_argument("--kubeconfig", required=True, help="where to write the kubeconfig")
    parser.add_argument("--user", help="user name for the kubeconfig (added with --token)")
    parser.add_argument("--token", help="bearer token of --user")
    parser.add_argument("--group", action="append", default=[], help="group of --user (repeatable)")
    parser.add_argument("--namespace", help="namespace of the kubeconfig context")
    parser.add_argument("--roles", action="store_true", help="add the standard ClusterRoles (view, edit, ...)")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    if bool(args.user) != bool(args.token) and args.user != "admin":
        parser.error("--user and --token go together")

    api = FakeKube(openshift=args.openshift, port=args.port)
    started = time.perf_counter()
    count = 0
    for path in args.load:
        objs = load_objects(path)
        api.add_all(objs)
        count += len(objs)
    if args.roles:
        api.add_all(standard_cluster_roles())
    if args.user and args.token:
        api.add_user(args.user, args.token, args.group)
    api.start()
    api.kubeconfig(args.kubeconfig, user=args.user or "admin", namespace=args.namespace)
    print(f"loaded {count} objects in {time.perf_counter() - started:.2f}s", file=sys.stderr, flush=True)
    print(f"ready {api.url}", flush=True)

    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def watch_stdin() -> None:
        try:
            while sys.stdin.read(65536):
                pass
        except (OSError, ValueError):
            pass
        done.set()

    if not sys.stdin.isatty():
        threading.Thread(target=watch_stdin, daemon=True).start()
    done.wait()
    api.stop()
    print(json.dumps(api._log_summary(), sort_keys=True), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
