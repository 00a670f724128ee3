"""`doctor`: source → snapshot → resolution → checks → report. Returns data; prints nothing."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TextIO

from kubectl_pullsecret import checks, live, reference
from kubectl_pullsecret.checks import credentials, needs, openshift
from kubectl_pullsecret.checks.base import Context, internal_registries
from kubectl_pullsecret.errors import UsageError
from kubectl_pullsecret.findings import ImageReport, Report
from kubectl_pullsecret.kube import Cluster, ClusterOptions
from kubectl_pullsecret.probe_model import (
    ChainSpec,
    ImageProbe,
    LoginPlan,
    NodeRun,
    Result,
    plan_image,
    plan_login,
    skipped,
)
from kubectl_pullsecret.resolve import Resolution, Resolver, Scope, Target, node_credentials, resolve_all, select
from kubectl_pullsecret.snapshot import Snapshot, load_files

if TYPE_CHECKING:  # nodes.py (the --from-nodes machinery) loads only when asked for
    from kubectl_pullsecret.nodes import NodeOptions
    from kubectl_pullsecret.progress import Show

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    files: Sequence[str] = ()
    targets: Sequence[str] = ()
    namespace: str | None = None
    all_namespaces: bool = False
    selector: str | None = None
    images: Sequence[str] = ()
    sa: str | None = None  # --sa: the service account for --image (None: default)
    authfile: str | None = None
    probe: bool = True
    probe_timeout: float = 10.0
    insecure_registries: Sequence[str] = ()
    registry_ca_file: str | None = None
    checks: Sequence[str] | None = None  # None: all
    skip: Sequence[str] = field(default=())
    kubeconfig: str | None = None
    context: str | None = None
    request_timeout: float | None = None
    from_nodes: NodeOptions | None = None  # --from-nodes
    progress: Show | None = None  # the progress line: -A or --from-nodes, on a terminal

    @property
    def live(self) -> bool:
        """Read the cluster, unless files are given or --image --authfile needs none (no
        --kubeconfig/--context, and no -n/--sa asking for a service account's secrets)."""
        if self.files:
            return False
        wants_cluster = self.kubeconfig or self.context or self.namespace or self.sa is not None
        return not (self.images and self.authfile and not wants_cluster)


def selected_checks(only: Sequence[str] | None, skip: Sequence[str]) -> list[str]:
    for check_id in list(only or []) + list(skip):
        if check_id not in checks.CATALOGUE:
            raise UsageError(f"unknown check id {check_id!r} (see --list-checks)")
    wanted = set(only) if only is not None else set(checks.CHECKS)
    return [c for c in checks.CHECKS if c in wanted and c not in set(skip)]


def _read_authfile(path: str) -> tuple[str, bytes]:
    try:
        with open(path, "rb") as fh:
            return path, fh.read()
    except OSError as exc:
        raise UsageError(f"--authfile {path}: {exc.strerror}") from None


def load_snapshot(opts: Options, stdin: TextIO | None = None) -> Snapshot:
    """Offline sources: files, or nothing at all for an --image --authfile pre-flight."""
    if opts.files:
        return load_files(opts.files, stdin)
    return Snapshot(objects={}, offline=True)


def _remark(res: Resolution) -> str | None:
    if res.reference is None:
        return "invalid reference"
    if res.keyring_error:
        return "pull fails: malformed pull secret"
    unknown = credentials.unknown_secrets(res)
    if not res.credentials and unknown:
        return f"unknown: {', '.join(unknown)} not in the input"
    return None


def _image_reports(resolutions: Sequence[Resolution], probes: dict[int, ImageProbe],
                   node_run: NodeRun | None = None) -> list[ImageReport]:
    """One entry per distinct (image, credential list): pods with other pull secrets
    pulling the same image get their own entry."""
    groups: dict[tuple[Any, ...], tuple[Resolution, list[dict[str, str | None]]]] = {}
    by_node: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    for res in resolutions:
        creds = tuple(tuple(sorted(c.to_dict().items())) for c in res.credentials)
        key = (res.container.image, creds)
        used = {"kind": res.subject.ref.kind, "namespace": res.subject.ref.namespace,
                "name": res.subject.ref.name, "container": res.container.name or None}
        if key not in groups:
            groups[key] = (res, [])
        groups[key][1].append(used)
        for probe in node_run.probes.get(id(res), ()) if node_run is not None else ():
            by_node.setdefault(key, {}).setdefault(probe.vantage, probe.to_dict())
    out = []
    for key, (res, used_by) in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        image = key[0]
        on_nodes = by_node.get(key, {})
        out.append(ImageReport(
            image=image,
            reference=res.reference.to_dict() if res.reference else None,
            used_by=tuple(used_by),
            credentials=tuple(c.to_dict() for c in res.credentials),
            probe=probes[id(res)].to_dict() if id(res) in probes else None,
            node_probes=tuple(on_nodes[v] for v in sorted(on_nodes)),
            remark=_remark(res),
        ))
    return out


def run(opts: Options, stdin: TextIO | None = None) -> Report:
    return diagnose(opts, stdin)[0]


def diagnose(opts: Options, stdin: TextIO | None = None) -> tuple[Report, Scope]:
    """The report, and the subjects it is about (fix uses them to pick its findings)."""
    selected = selected_checks(opts.checks, opts.skip)
    targets = [Target.parse(t) for t in opts.targets]
    for image in opts.images:
        try:
            reference.parse(image)
        except reference.InvalidReference as exc:
            raise UsageError(f"--image {image}: {exc}") from None
    authfile = _read_authfile(opts.authfile) if opts.authfile else None
    started = time.perf_counter()
    live_source: live.Live | None = None
    cluster: Cluster | None = None
    namespaces: list[str] | None
    if opts.from_nodes is not None and not opts.live:
        raise UsageError("--from-nodes runs probe pods on the cluster's nodes: it cannot be used with -f, or with "
                         "--image --authfile alone (add -n NAMESPACE or --context)")
    if opts.live:
        cluster = Cluster.connect(ClusterOptions(opts.kubeconfig, opts.context, opts.request_timeout))
        # SPEC: no -n means the kubeconfig context's namespace, else default.
        namespaces = (None if opts.all_namespaces
                      else [opts.namespace or cluster.namespace or "default"])
        live_source = live.load_snapshot(
            cluster, live.Scope(tuple(namespaces) if namespaces is not None else None, tuple(targets),
                                opts.selector, bool(opts.images)), selected, opts.probe, opts.progress)
        snapshot = live_source.snapshot
    else:
        snapshot = load_snapshot(opts, stdin)
        log.info("loaded %s from %d input(s) in %.0f ms", snapshot.counts(), len(snapshot.inputs),
                 (time.perf_counter() - started) * 1000)
        if opts.all_namespaces:
            namespaces = None
        elif opts.namespace:
            namespaces = [opts.namespace]
        else:
            # Offline, the input is the scope: every namespace in it (files have no
            # kubeconfig context).
            namespaces = None if snapshot.namespaces() else ["default"]
    scope = select(snapshot, targets, namespaces, opts.selector, opts.images, opts.sa or "default")
    node = node_credentials(snapshot, authfile)
    resolver = Resolver(snapshot, node)
    resolutions = tuple(resolve_all(resolver, scope.subjects))
    internal = internal_registries(snapshot)
    if live_source is not None and snapshot.openshift and needs.SAR in needs.kinds_for(selected):
        questions = openshift.access_questions(resolutions, internal, snapshot)
        snapshot = live.with_access(live_source, questions)
    ctx = Context(snapshot, scope, resolver, node, resolutions, probe=opts.probe, internal_registries=internal,
                  selected=tuple(selected))
    notes = list(snapshot.warnings)
    if live_source is not None and not scope.subjects and not targets and not opts.images:
        where = f"namespace {namespaces[0]}" if namespaces else "any namespace"
        denied = live_source.primary_denied
        notes.append(f"no pods could be read in {where}" if denied else
                     f"no pods or workloads in {where}{' matching ' + opts.selector if opts.selector else ''}"
                     " (use -n NAMESPACE or -A)")
    if opts.probe:
        image_probes, logins = _probe(opts, ctx)
        notes.extend(_probe_notes(image_probes, logins))
        # The same memo: the mirror plans the probes looked at are the checks'.
        ctx = replace(ctx, image_probes=image_probes, logins=tuple(logins), memo=ctx.memo)
    if opts.from_nodes is not None and cluster is not None:
        from kubectl_pullsecret import nodes

        node_run = nodes.run_nodes(cluster, opts.from_nodes, [r for r in resolutions if _node_wanted(ctx, r)])
        log.info("node probes: %d node(s), %d API request(s)", len(node_run.results), node_run.requests)
        notes.extend(node_run.notes)
        ctx = replace(ctx, nodes=node_run, memo=ctx.memo)
    log.info("%d subject(s), %d container(s), node credentials: %s", len(scope.subjects), len(resolutions),
             node.origin or "none")
    for res in resolutions:
        log.debug("%s container %s image %s: %d credential(s): %s", res.subject.ref.short, res.container.name,
                  res.container.image, len(res.credentials),
                  ", ".join(f"{c.source}[{c.entry.key}] user {c.entry.username} fp {c.entry.fingerprint}"
                            for c in res.credentials)
                  or ("none: a pull secret is malformed, the pull fails" if res.keyring_error else "anonymous"))
    found, passed = checks.run(ctx, selected)
    log.info("ran %d check(s): %d finding(s), %d passed", len(selected), len(found), len(passed))
    return Report(
        findings=tuple(found),
        passed=tuple(passed),
        images=tuple(_image_reports(resolutions, ctx.image_probes, ctx.nodes)),
        cluster=dict(snapshot.cluster) if snapshot.cluster is not None else None,
        notes=tuple(notes),
        diagnosed=not (live_source is not None and live_source.primary_denied),
        logins=tuple(plan.to_dict(result) for plan, result in ctx.logins),
        nodes=tuple(r.to_dict() for r in ctx.nodes.results) if ctx.nodes is not None else None,
    ), scope


def _probe(opts: Options, ctx: Context) -> tuple[dict[int, ImageProbe], list[tuple[LoginPlan, Result | None]]]:
    """Registry probes (the only network step of an offline run): every container's
    credential chain, and a login with every entry of the secrets named as targets."""
    from kubectl_pullsecret import probe as probing
    from kubectl_pullsecret.registry import probe_settings

    # On OpenShift the nodes trust image.config's additionalTrustedCA and treat its
    # insecureRegistries as plain-http/unverified: the probes do the same.
    settings = probe_settings(opts.probe_timeout, opts.insecure_registries, opts.registry_ca_file,
                              openshift.probe_trust(ctx.snapshot))
    prober = probing.Prober(settings, progress=opts.progress)
    started = time.perf_counter()
    plans = {id(res): _plan(ctx, res) for res in ctx.resolutions}
    chains = prober.probe_images(p for p in plans.values() if isinstance(p, ChainSpec))
    image_probes = {key: (chains[p] if isinstance(p, ChainSpec) else p)
                    for key, p in plans.items() if p is not None}
    login_plans: list[LoginPlan] = []
    for ns, name in ctx.scope.secrets:
        state = ctx.resolver.secret(ns, name)
        if state.usable and state.config is not None:
            login_plans.extend(plan_login(state.source_name, e) for e in state.config.entries)
    results = prober.probe_logins(p.spec for p in login_plans if p.spec is not None)
    logins = [(p, results[p.spec] if p.spec is not None else None) for p in login_plans]
    log.info("probed %d image chain(s) and %d login(s) with %d HTTP request(s) in %.0f ms", len(chains), len(results),
             prober.client.request_count, (time.perf_counter() - started) * 1000)
    return image_probes, logins


def _plan(ctx: Context, res: Resolution) -> ChainSpec | ImageProbe | None:
    """plan_image, except that an image CRI-O pulls only from mirrors (NeverContactSource)
    is not probed at its source: the nodes never contact it."""
    if openshift.source_never_contacted(ctx, res):
        plan = openshift.plan_of(ctx, res)
        assert plan is not None and res.reference is not None
        return skipped(res.reference.registry, f"CRI-O pulls it only from mirrors of {plan.source} "
                                               "(NeverContactSource): see mirror-credential-missing")
    return plan_image(res)


def _node_wanted(ctx: Context, res: Resolution) -> bool:
    """Worth probing from a node: the kubelet would contact the registry with credentials
    doctor knows (cluster-internal addresses included: the nodes reach them)."""
    if res.reference is None or res.keyring_error or any(s.unknown for s in res.secrets):
        return False
    return not openshift.source_never_contacted(ctx, res)


def _probe_notes(image_probes: dict[int, ImageProbe], logins: Sequence[tuple[LoginPlan, Result | None]]) -> list[str]:
    outcomes = [p.outcome for p in image_probes.values() if p.outcome != "skipped"]
    outcomes += [r.outcome for _, r in logins if r is not None and r.outcome != "skipped"]
    if outcomes and all(o == "unreachable" for o in outcomes):
        return ["no registry could be reached from this machine (offline, or a proxy is needed: HTTPS_PROXY is "
                "honoured); the registry findings say nothing about the nodes. Use --no-probe to skip probes."]
    return []
