"""Command line: flags, dispatch, and the only place errors become exit codes.

Imports of anything heavy happen inside the commands, so `--help` and `version` stay
fast and never load `kubernetes` or `requests`.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import TYPE_CHECKING

from kubectl_pullsecret import __version__
from kubectl_pullsecret.errors import FixError, PullsecretError, UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, NoReturn

    from kubectl_pullsecret.nodes import NodeOptions
    from kubectl_pullsecret.progress import Progress, Show

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_SOURCE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
PROG = "kubectl pullsecret"

DESCRIPTION = """\
Diagnose and repair the credentials pods use to pull their images.

commands:
  doctor [TARGET ...]   which credentials the kubelet will try for each image, and what is wrong
  fix [TARGET ...]      apply the fixes doctor suggests for TARGET (asks y/N; --yes for all)
  fix link SECRET       add a pull secret to a service account (--sa, default: default)
  fix create SECRET     create a pull secret (--from-file, or --docker-server/-username/-password-stdin)
  fix grant             let another namespace's service accounts pull this namespace's images
  fix global set|remove add, replace or remove an entry of OpenShift's global pull secret
  fix restart KIND/NAME recreate pods so they pick up their service account's pull secrets
  version               print the version

TARGET: pod/NAME, deployment/NAME, statefulset/NAME, daemonset/NAME, replicaset/NAME,
job/NAME, cronjob/NAME, deploymentconfig/NAME, sa/NAME, secret/NAME; none = every pod.

examples:
  kubectl pullsecret doctor                          # every pod of the context's namespace
  kubectl pullsecret doctor -n shop deployment/web -o json
  kubectl pullsecret doctor -A --no-probe            # the whole cluster, credentials matched only
  kubectl pullsecret doctor -f examples/shop         # offline: a dump, a must-gather, stdin
  kubectl pullsecret doctor --image quay.io/acme/web:1.2 --authfile ~/.docker/config.json
  kubectl pullsecret doctor -n shop --from-nodes     # probe from the pods' nodes too (asks y/N)
  kubectl pullsecret fix deployment/web -n shop      # offer each fix, y/N
  kubectl pullsecret fix create regcred --docker-server quay.io --docker-username bot \
      --docker-password-stdin --link default -n shop < password.txt
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _scrub(text: str) -> str:
    from kubectl_pullsecret import redact

    return redact.scrub(text)


def _common(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("common flags (kubectl conventions)")
    g.add_argument("--kubeconfig", metavar="PATH", help="kubeconfig file (default: $KUBECONFIG, a list, else "
                   "~/.kube/config; in a pod, the in-cluster config)")
    g.add_argument("--context", metavar="NAME", help="kubeconfig context (default: the current context)")
    g.add_argument("-n", "--namespace", metavar="NS", help="namespace (default: the context's namespace, else "
                   "default; offline: every namespace in the input)")
    g.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    g.add_argument("-l", "--selector", metavar="SELECTOR", help="label selector (k=v, k!=v, k in (a,b), !k)")
    g.add_argument("--request-timeout", metavar="DURATION", help="per API request: seconds or a duration (30s, 1m); "
                   "0 = none (default)")
    g.add_argument("-v", "--verbosity", type=int, default=0, metavar="N", help="log level on stderr (redacted)")
    g.add_argument("-f", "--filename", action="append", default=[], metavar="PATH",
                   help="offline mode: YAML/JSON file, directory (recursive; a must-gather tree works) or - for "
                        "stdin; repeatable")


def _csv(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds: {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be between 1 and 100: {text!r}")
    return value


def _probe_flags(group: argparse._ArgumentGroup, no_probe: str) -> None:
    """The registry probe flags doctor and every fix share."""
    group.add_argument("--no-probe", action="store_true", help=no_probe)
    group.add_argument("--probe-timeout", type=_seconds, default=10.0, metavar="SECONDS",
                       help="per registry request, whole answer included (default 10)")
    group.add_argument("--insecure-registry", action="append", default=[], metavar="HOST",
                       help="allow plain http and skip TLS verification for HOST (repeatable)")
    group.add_argument("--registry-ca-file", metavar="PATH", help="extra CA bundle trusted for registries")


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser (help, --version, unknown commands) and one parser per command."""
    parser = _Parser(prog=PROG, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true", help="print the version")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    doctor = sub.add_parser("doctor", help="diagnose image pull credentials",
                            description="Which credentials the kubelet will try for each image, and what is wrong.")
    doctor.add_argument("targets", nargs="*", metavar="TARGET", help="pod/NAME, deployment/NAME, ..., sa/NAME, "
                        "secret/NAME; none = every pod")
    o = doctor.add_argument_group("doctor flags")
    o.add_argument("-o", "--output", choices=["table", "wide", "json", "yaml", "markdown"], default="table")
    _probe_flags(o, "no registry traffic: credentials are matched, not tried")
    o.add_argument("--authfile", metavar="PATH", help="docker config (config.json or .dockercfg) used as the node's "
                   "credentials (what /var/lib/kubelet/config.json holds)")
    o.add_argument("--image", action="append", default=[], metavar="REF",
                   help="diagnose this image (repeatable) with --authfile and/or the namespace's --sa")
    o.add_argument("--sa", metavar="NAME", help="service account for --image (default: default; with --authfile, "
                   "-n or --sa also reads the cluster for its pull secrets)")
    o.add_argument("--checks", type=_csv, metavar="ID,...", help="run only these checks")
    o.add_argument("--skip", type=_csv, default=[], metavar="ID,...", help="skip these checks")
    o.add_argument("--list-checks", action="store_true", help="list check ids, severities and descriptions")
    o.add_argument("--fail-on", choices=["error", "warning", "never"], default="error",
                   help="exit 1 when a finding is at or above this severity (default error)")
    n = doctor.add_argument_group("node probes (from where the kubelet pulls)")
    n.add_argument("--from-nodes", action="store_true", help="also probe from short-lived pods on the nodes that "
                   "run the pods (privileged: host network, the node's config.json and /etc read-only); asks y/N")
    n.add_argument("--node", action="append", default=[], metavar="NAME", help="probe from this node (repeatable; "
                   "every image in scope)")
    n.add_argument("--node-selector", metavar="SELECTOR", help="probe from the nodes with these labels")
    n.add_argument("--probe-image", metavar="IMAGE", help="image of the probe pods: any with python3 >= 3.11 "
                   "(default registry.access.redhat.com/ubi9/python-312:latest)")
    n.add_argument("--probe-namespace", metavar="NS", help="namespace of the probe pods, created and removed if "
                   "missing (default kubectl-pullsecret-probe)")
    n.add_argument("--max-parallel", type=_count, metavar="N", help="probe pods at a time (default 4)")
    n.add_argument("--node-timeout", type=_seconds, metavar="SECONDS", help="per node, pod creation to result, "
                   "image pull included (default 120)")
    n.add_argument("--yes", "-y", action="store_true", help="create the probe pods without asking")
    _common(doctor)

    version = sub.add_parser("version", help="print the version")
    _common(version)
    commands: dict[str, argparse.ArgumentParser] = {"doctor": doctor, "version": version}
    commands.update(_fix_parsers())
    return parser, commands


FIX_WORDS = ("link", "create", "grant", "restart")


def _fix_flags(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("fix flags")
    g.add_argument("--dry-run", nargs="?", const="client", default="none", choices=["none", "client", "server"],
                   help="client: print the plan and the objects, send nothing; server: send with dryRun=All")
    g.add_argument("-o", "--output", choices=["yaml", "json"], help="print the objects as written (or as they would "
                   "be, with --dry-run); secret values redacted")
    g.add_argument("--yes", "-y", action="store_true", help="apply without asking (global pull secret, bare pods, "
                   "fix TARGET)")
    _probe_flags(g, "no registry traffic: no verification, re-check without probes")
    g.add_argument("--backup-dir", default="~/.kube/pullsecret-backups", metavar="DIR",
                   help="where the previous content of a replaced secret is kept, mode 0600 "
                        "(default ~/.kube/pullsecret-backups)")
    g.add_argument("--wait", metavar="DURATION", help="how long to follow a rollout (MachineConfigPools, pods): "
                   "a duration (30s, 10m); 0 = do not wait")
    _common(parser)


def _fix_parsers() -> dict[str, argparse.ArgumentParser]:
    def make(words: str, description: str) -> argparse.ArgumentParser:
        return _Parser(prog=f"{PROG} {words}", description=description,
                       formatter_class=argparse.RawDescriptionHelpFormatter)

    fix = make("fix", "Run doctor on TARGET and apply each finding's fix in order (create, link, grant, global, "
               "restart): y/N per fix on a terminal, --yes for all; without a terminal, only the plan.")
    fix.add_argument("targets", nargs="*", metavar="TARGET", help="as for doctor; none = every pod")
    _fix_flags(fix)

    link = make("fix link", "Add SECRET to a service account's imagePullSecrets (--for pull, the default) and/or "
                "secrets (--for mount). Unlike `oc secrets link`, pull is the default.")
    link.add_argument("secret", metavar="SECRET")
    link.add_argument("--sa", default="default", metavar="NAME", help="service account (default: default)")
    link.add_argument("--for", dest="for_", default="pull", metavar="pull|mount|pull,mount",
                      help="imagePullSecrets (pull, default), secrets (mount), or both")
    _fix_flags(link)

    create = make("fix create", "Create a pull secret from a docker config file (type detected) or from "
                  "--docker-* flags, after verifying the credentials against the registry (--no-verify to skip).")
    create.add_argument("secret", metavar="SECRET")
    create.add_argument("--from-file", metavar="PATH", help="config.json (auths) or .dockercfg file; - for stdin")
    create.add_argument("--docker-server", metavar="SERVER", help="registry host (docker.io for Docker Hub)")
    create.add_argument("--docker-username", metavar="USER")
    create.add_argument("--docker-password-stdin", action="store_true", help="read the password from stdin "
                        "(never echoed)")
    create.add_argument("--docker-password", metavar="PASSWORD", help="the password (visible in the process list "
                        "and shell history: prefer --docker-password-stdin)")
    create.add_argument("--docker-email", metavar="EMAIL")
    create.add_argument("--link", metavar="SA", help="also link it to this service account for pulls")
    create.add_argument("--no-verify", action="store_true", help="create without trying the credentials")
    create.add_argument("--overwrite", action="store_true", help="replace an existing secret of that name "
                        "(its previous content is backed up first)")
    _fix_flags(create)

    grant = make("fix grant", "Let service accounts of --from-namespace pull images of this namespace (-n) from "
                 "OpenShift's internal registry: a RoleBinding of ClusterRole system:image-puller, reused if one "
                 "exists.")
    grant.add_argument("--from-namespace", required=True, metavar="NS", help="the namespace whose pods pull")
    who = grant.add_mutually_exclusive_group(required=True)
    who.add_argument("--sa", metavar="NAME", help="one service account of --from-namespace")
    who.add_argument("--all-service-accounts", action="store_true",
                     help="every service account of --from-namespace (group system:serviceaccounts:NS)")
    _fix_flags(grant)

    gset = make("fix global set", "Add or replace REGISTRY's entry in openshift-config/pull-secret; every other "
                "entry is kept byte for byte. The previous content is backed up first; asks y/N.")
    gset.add_argument("--registry", required=True, metavar="REGISTRY")
    gset.add_argument("--username", required=True, metavar="USER")
    gset.add_argument("--password-stdin", action="store_true", help="read the password (or token) from stdin")
    gset.add_argument("--no-verify", action="store_true", help="write without trying the credentials")
    _fix_flags(gset)

    gremove = make("fix global remove", "Remove REGISTRY's entry from openshift-config/pull-secret (backed up "
                   "first; asks y/N; removing cloud.openshift.com stops Telemetry).")
    gremove.add_argument("--registry", required=True, metavar="REGISTRY")
    _fix_flags(gremove)

    restart = make("fix restart", "Recreate pods so admission gives them their service account's current pull "
                   "secrets: a rollout restart of the owning workload; a bare pod is deleted only after y/N "
                   "(nothing recreates it). Nothing happens when every pod already has them.")
    restart.add_argument("target", metavar="KIND/NAME", help="pod/, deployment/, statefulset/, daemonset/, "
                         "replicaset/, job/, deploymentconfig/")
    _fix_flags(restart)
    return {"fix": fix, "fix link": link, "fix create": create, "fix grant": grant, "fix global set": gset,
            "fix global remove": gremove, "fix restart": restart}


def _command_words(argv: list[str], commands: dict[str, argparse.ArgumentParser]) -> tuple[str, list[str]] | None:
    """The command (up to three words: `fix global set`) and the rest of argv."""
    if not argv or argv[0] not in commands:
        return None
    if argv[0] != "fix":
        return argv[0], argv[1:]
    if len(argv) > 1 and argv[1] in FIX_WORDS:
        return f"fix {argv[1]}", argv[2:]
    if len(argv) > 1 and argv[1] == "global":
        if len(argv) > 2 and argv[2] in ("set", "remove"):
            return f"fix global {argv[2]}", argv[3:]
        raise UsageError("fix global: expected set or remove (see 'kubectl pullsecret fix global set --help')")
    return "fix", argv[1:]


def _setup_logging(verbosity: int) -> None:
    """Logs go to stderr, through the redactor. Loaded only when asked for (start-up time)."""
    if verbosity <= 0:
        return
    import logging

    class RedactingFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return _scrub(super().format(record))

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("kubectl_pullsecret")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbosity < 4 else logging.DEBUG)


def _doctor(args: argparse.Namespace) -> int:
    from kubectl_pullsecret import checks, doctor, render
    from kubectl_pullsecret.findings import Severity

    if args.list_checks:
        rows = [(cid, c.severity, c.description) for cid, c in checks.CHECKS.items()]
        sys.stdout.write(render.render_check_list(rows))
        return EXIT_OK
    if args.filename and (args.kubeconfig or args.context):
        raise UsageError("-f reads files only: drop --kubeconfig/--context, or drop -f to read the cluster")
    # A progress line for the long runs, on a terminal, with the human formats only.
    line: Progress | None = None
    if (args.all_namespaces or args.from_nodes) and sys.stderr.isatty() and args.output not in ("json", "yaml"):
        from kubectl_pullsecret.progress import Progress

        line = Progress(sys.stderr)
    progress = line.update if line is not None else None
    opts = doctor.Options(
        files=args.filename,
        targets=args.targets,
        all_namespaces=args.all_namespaces,
        selector=args.selector,
        images=args.image,
        sa=args.sa,
        authfile=args.authfile,
        checks=args.checks,
        skip=args.skip,
        from_nodes=_node_options(args, progress),
        progress=progress,
        **_cluster_and_probe(args),
    )
    # The cyclic garbage collector rescans every live object on each full collection:
    # with the 100,000s of dicts of a big cluster that is half the run time, and a
    # run creates almost no reference cycles. A short-lived command can do without it.
    gc.disable()
    try:
        report = doctor.run(opts, sys.stdin)
    finally:
        gc.enable()
        if line is not None:
            line.clear()
    if args.output in ("json", "yaml"):
        # Machine output stays pure; the human formats carry the notes themselves.
        for note in report.notes:
            sys.stderr.write(_scrub(f"note: {note}\n"))
    sys.stdout.write(render.render(report, args.output))
    if not report.diagnosed:
        sys.stderr.write("error: the pods (or targets) could not be read, so nothing was diagnosed: see the "
                         "permission-denied findings\n")
        return EXIT_SOURCE
    if args.fail_on == "never":
        return EXIT_OK
    return EXIT_FINDINGS if report.worst() >= Severity.parse(args.fail_on) else EXIT_OK


def _node_options(args: argparse.Namespace, progress: Show | None) -> NodeOptions | None:
    """--from-nodes and its flags: NodeOptions, or None. Without a terminal to ask on,
    --yes is required (checked before anything is read)."""
    given = [flag for flag, value in (("--node", args.node), ("--node-selector", args.node_selector),
                                      ("--probe-image", args.probe_image), ("--probe-namespace", args.probe_namespace),
                                      ("--max-parallel", args.max_parallel), ("--node-timeout", args.node_timeout))
             if value]
    if not args.from_nodes:
        if given:
            raise UsageError(f"{', '.join(given)}: only with --from-nodes")
        return None
    if args.filename:
        raise UsageError("--from-nodes runs probe pods on the cluster's nodes: it cannot be used with -f")
    if args.node and args.node_selector:
        raise UsageError("--node and --node-selector: give one or the other")
    if args.no_probe:
        raise UsageError("--from-nodes probes registries from the nodes: drop --no-probe")
    from kubectl_pullsecret import nodes

    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    if not args.yes and not interactive:
        raise UsageError("--from-nodes creates privileged probe pods on the nodes: add --yes to confirm (there is "
                         "no terminal to ask on)")

    def confirm(text: str) -> bool:
        from kubectl_pullsecret.fixes import prompt

        sys.stderr.write(_scrub(text) + "\n")
        return prompt.ask(sys.stdin, sys.stderr, "Create them? [y/N] ").strip().lower() in ("y", "yes")

    def say(text: str) -> None:
        sys.stderr.write(_scrub(text) + "\n")

    return nodes.NodeOptions(
        nodes=tuple(args.node), node_selector=args.node_selector, image=args.probe_image or nodes.PROBE_IMAGE,
        namespace=args.probe_namespace or nodes.NAMESPACE, max_parallel=args.max_parallel or nodes.MAX_PARALLEL,
        node_timeout=args.node_timeout or nodes.NODE_TIMEOUT, probe_timeout=args.probe_timeout,
        confirm=None if args.yes else confirm, say=say,
        progress=progress)


def _fix(args: argparse.Namespace) -> int:
    from kubectl_pullsecret import render
    from kubectl_pullsecret.fixes import commands
    from kubectl_pullsecret.fixes.session import FixOptions, Session

    if args.filename:
        raise UsageError("fix writes to the cluster: -f (offline files) cannot be used with it")
    if args.command != "fix" and (args.all_namespaces or args.selector):
        raise UsageError(f"{args.command}: -A and -l apply to 'fix TARGET' only")
    opts = FixOptions(
        dry_run=args.dry_run, yes=args.yes, backup_dir=args.backup_dir,
        wait=(_duration(args.wait, "--wait") or 0.0) if args.wait is not None else None, **_cluster_and_probe(args))
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    session = Session(opts, sys.stdin, sys.stderr, interactive)
    result = commands.run(session, args)
    if args.output:
        sys.stderr.write(render.render_fix(result))
        sys.stdout.write(render.render_fix_objects(result, args.output))
    else:
        # A client dry run shows the plan and the objects (as -o yaml would print them).
        sys.stdout.write(render.render_fix(result, with_objects=opts.dry_run == "client"))
    return EXIT_FINDINGS if (result.failed or result.planned_only or result.remaining) else EXIT_OK


def _cluster_and_probe(args: argparse.Namespace) -> dict[str, Any]:
    """What doctor and fix read the same way: where the cluster is, and the probe flags."""
    return {
        "namespace": args.namespace, "kubeconfig": args.kubeconfig, "context": args.context,
        "request_timeout": _duration(args.request_timeout) if args.request_timeout else None,
        "probe": not args.no_probe, "probe_timeout": args.probe_timeout,
        "insecure_registries": args.insecure_registry,
        "registry_ca_file": _readable(args.registry_ca_file, "--registry-ca-file") if args.registry_ca_file else None,
    }


def _duration(text: str, flag: str = "--request-timeout") -> float | None:
    from kubectl_pullsecret.kube import parse_duration

    return parse_duration(text, flag)


def _readable(path: str, flag: str) -> str:
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
    except OSError as exc:
        raise UsageError(f"{flag} {path}: {exc.strerror}") from None
    if b"-----BEGIN CERTIFICATE-----" not in head:
        raise UsageError(f"{flag} {path}: no PEM certificate in the file")
    return path


def _version() -> int:
    v = sys.version_info
    sys.stdout.write(f"kubectl-pullsecret v{__version__} (python {v.major}.{v.minor}.{v.micro})\n")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["__complete"]:  # kubectl's plugin completion (kubectl_complete-pullsecret)
        from kubectl_pullsecret.complete import main as complete

        return complete(argv[1:])
    verbosity = 0
    try:
        parser, commands = build_parser()
        words = _command_words(argv, commands)
        if words is not None:
            # Flags are accepted anywhere after the command words, between targets too
            # (kubectl convention): intermixed parsing, per command.
            args = commands[words[0]].parse_intermixed_args(words[1])
            args.command, args.version = words[0], False
        elif argv and not argv[0].startswith("-"):
            raise UsageError(f"unknown command {argv[0]!r}: expected doctor, fix or version "
                             "(see 'kubectl pullsecret --help')")
        else:
            args = parser.parse_args(argv)
        verbosity = getattr(args, "verbosity", 0) or 0
        _setup_logging(verbosity)
        if args.version or args.command == "version":
            return _version()
        if args.command == "doctor":
            return _doctor(args)
        if args.command and args.command.startswith("fix"):
            return _fix(args)
        parser.print_help()
        return EXIT_OK
    except UsageError as exc:
        sys.stderr.write(_scrub(f"error: {exc}\n"))
        return EXIT_USAGE
    except FixError as exc:
        sys.stderr.write(_scrub(f"error: {exc}\n"))
        return EXIT_FINDINGS
    except PullsecretError as exc:
        sys.stderr.write(_scrub(f"error: {exc}\n"))
        return EXIT_SOURCE
    except SystemExit as exc:  # argparse after --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (| head): not an error worth a message.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the one place that turns anything into an exit code
        if verbosity >= 9:
            import traceback

            sys.stderr.write(_scrub(traceback.format_exc()))
        sys.stderr.write(_scrub(f"error: internal error: {type(exc).__name__}: {exc} "
                                      "(run with -v 9 for details; please report it)\n"))
        return EXIT_SOURCE
