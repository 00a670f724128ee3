"""Registry probe checks: what the real registry said to the credentials the kubelet
would send (per container), and to each entry of a secret named as a target."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

from kubectl_pullsecret import keyring
from kubectl_pullsecret.checks.base import USER, Context, credential_fix, for_container, ns_flag, q
from kubectl_pullsecret.checks.credentials import new_secret_name
from kubectl_pullsecret.findings import Finding, Fix, ObjectRef, Severity
from kubectl_pullsecret.probe_model import DOCKER_HUB_API, Attempt, ImageProbe, LoginPlan, Result
from kubectl_pullsecret.reference import strip_port
from kubectl_pullsecret.resolve import GLOBAL_PULL_SECRET, Resolution

# Registries whose token realm is on another host by design, with the runtime's own
# credential for the registry accepted there (not a "delegated auth" setup to pair).
KNOWN_REALMS = {"docker.io": "auth.docker.io", DOCKER_HUB_API: "auth.docker.io"}
VANTAGE_NOTE = ("This was tried from this machine; the pull runs on the node, whose DNS, proxy, firewall and CA "
                "trust may differ (check from a node: `oc debug node/NODE -- chroot /host crictl pull IMAGE`).")


def probed(ctx: Context) -> Iterator[tuple[Resolution, ImageProbe]]:
    """Containers whose image was probed (not skipped), with the probe. With node probes
    (--from-nodes) those decide, as the pull happens there: one probe per distinct
    answer, naming the nodes that got it; this machine's probe only when no node
    answered for the container."""
    for res in ctx.resolutions:
        from_nodes = [p for p in ctx.node_probes_of(res) if p.outcome != "skipped"]
        if from_nodes:
            yield from ((res, p) for p in _grouped(from_nodes))
            continue
        probe = ctx.probe_of(res)
        if probe is not None and probe.outcome != "skipped":
            yield res, probe


def _grouped(probes: list[ImageProbe]) -> list[ImageProbe]:
    """Node probes with the same answer, attempt by attempt, as one (nodes: all of them)."""
    groups: dict[tuple[object, ...], list[ImageProbe]] = {}
    for p in probes:
        key = tuple((a.credential, a.node_entry, a.result.outcome, a.result.detail) for a in p.attempts)
        groups.setdefault(key, []).append(p)
    return [replace(group[0], nodes=tuple(p.vantage.removeprefix("node/") for p in group))
            for group in groups.values()]


def where(probe: ImageProbe) -> str:
    """The vantage of a finding's probe, as the start of its message."""
    if probe.vantage == "local":
        return ""
    names = probe.nodes or (probe.vantage.removeprefix("node/"),)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"From node{'s' if len(names) > 1 else ''} {shown}: "


def vantage_note(probe: ImageProbe) -> str:
    if probe.vantage == "local":
        return VANTAGE_NOTE
    return "This is what the node itself gets (its DNS, proxy, routes and CA trust)."


def _at(probe: ImageProbe, check: str, severity: Severity, res: Resolution, msg: str,
        fix: Fix | None = None) -> Finding:
    """A container finding from one probe, its message starting with where it was seen."""
    return for_container(check, severity, res, where(probe) + msg, fix)


def probed_logins(ctx: Context) -> Iterator[tuple[LoginPlan, Result]]:
    """Entries of secret targets that were logged in with (not skipped), with the result."""
    for plan, result in ctx.logins:
        if result is not None and result.outcome != "skipped":
            yield plan, result


def describe(res: Resolution, index: int | None, node_entry: tuple[str, str] | None = None) -> str:
    """credential #i (source, key, user, fingerprint): never the password."""
    if index is None and node_entry is not None:
        return (f"the node's own credential (/var/lib/kubelet/config.json key {node_entry[0]!r}, fingerprint "
                f"{node_entry[1]}; not the one the cluster's objects give)")
    if index is None:
        return "no credential (anonymous)"
    c = res.credentials[index]
    return (f"credential #{index} ({c.source} key {c.entry.key!r}, user {c.entry.username or '(none)'}, "
            f"fingerprint {c.entry.fingerprint})")


def used(res: Resolution, probe: ImageProbe) -> str:
    """The credential the probe tried last, described."""
    return describe(res, probe.credential, probe.attempts[-1].node_entry)


def _later(res: Resolution, probe: ImageProbe) -> str:
    """The credential that worked after a failing one, named briefly."""
    if probe.credential is not None:
        return f"A later credential (#{probe.credential})"
    entry = probe.attempts[-1].node_entry
    return f"The node's own credential (config.json key {entry[0]!r})" if entry else "A later attempt"


def _entry_text(plan: LoginPlan) -> str:
    return (f"Entry {plan.entry.key!r} of {plan.source} (user {plan.entry.username or '(none)'}, "
            f"fingerprint {plan.entry.fingerprint})")


def secret_ref(source: str) -> ObjectRef:
    _, ns, name = source.split("/", 2)
    return ObjectRef("Secret", ns, name)


def _login_finding(check: str, severity: Severity, plan: LoginPlan, text: str, fix: Fix | None = None) -> Finding:
    """A finding on a secret target, about one of its entries."""
    return Finding(check, severity, secret_ref(plan.source), f"{_entry_text(plan)}{text}", fix=fix)


def _failed_host(result: Result, fallback: str) -> str:
    """Where a probe failed: the token realm's host when it failed at the token step."""
    return result.auth_server if result.stage == "token" and result.auth_server else fallback


def _attempts(probe: ImageProbe, outcome: str) -> list[Attempt]:
    return [a for a in probe.attempts if a.result.outcome == outcome]


def update_credential_fix(ctx: Context, source: str, key: str, username: str) -> Fix:
    """Replace one entry's credential in its secret (or the global pull secret), keeping
    the other entries: the product document's `oc registry login --to` procedure."""
    user = q(username) if username else USER
    if source == "global":
        ns, name = GLOBAL_PULL_SECRET
        return Fix(f"kubectl pullsecret fix global set --registry {q(key)} --username {user} --password-stdin",
                   (f"oc get secret/{name} -n {ns} --template='{{{{index .data \".dockerconfigjson\" "
                    f"| base64decode}}}}' > {name}.json",
                    f"oc registry login --registry={q(key)} --auth-basic={user}:PASSWORD --to={name}.json",
                    f"oc set data secret/{name} -n {ns} --from-file=.dockerconfigjson={name}.json"))
    if source.startswith("file:"):
        path = source[len("file:"):]
        return Fix(None, (f"podman login --authfile {q(path)} --username {user} {q(key)}   # on the node: "
                          "/var/lib/kubelet/config.json",))
    ref = secret_ref(source)
    ns = ns_flag(ref.namespace)
    state = ctx.resolver.secret(ref.namespace or "default", ref.name or "")
    data_key = state.data_key or ".dockerconfigjson"
    escaped = data_key.replace(".", "\\.")
    steps = [f"oc get secret {q(ref.name or '')}{ns} -o jsonpath='{{.data.{escaped}}}' | base64 -d > config.json",
             f"oc registry login --registry={q(key)} --auth-basic={user}:PASSWORD --to=config.json"]
    if data_key == ".dockercfg":
        steps.append("jq .auths config.json > dockercfg   # a .dockercfg secret holds the bare auths map")
        steps.append(f"oc set data secret/{q(ref.name or '')}{ns} --from-file=.dockercfg=dockercfg")
    else:
        steps.append(f"oc set data secret/{q(ref.name or '')}{ns} --from-file=.dockerconfigjson=config.json")
    return Fix(None, tuple(steps))


def check_credential_rejected(ctx: Context) -> Iterator[Finding]:
    """The registry or its token server refused the username/password."""
    for res, probe in probed(ctx):
        for a in _attempts(probe, "credential-rejected"):
            if a.credential is None and a.node_entry is None:
                continue
            if probe.outcome == "ok":
                severity = Severity.WARNING
                tail = (f" {_later(res, probe)} works, so the pull succeeds, but this one is "
                        "stale: remove or renew it.")
            else:
                severity = Severity.ERROR
                tail = " The kubelet tries it and the pull fails with an authentication error."
            msg = f"{describe(res, a.credential, a.node_entry)} was rejected: {a.result.detail}.{tail}"
            c = res.credentials[a.credential] if a.credential is not None else None
            yield _at(probe, "registry-credential-rejected", severity, res, msg,
                      update_credential_fix(ctx, c.source, c.entry.key, c.entry.username) if c else None)
    for plan, result in probed_logins(ctx):
        if result.outcome == "credential-rejected":
            yield _login_finding("registry-credential-rejected", Severity.ERROR, plan,
                                 f" was rejected: {result.detail}. Every pull that uses it fails.",
                                 update_credential_fix(ctx, plan.source, plan.entry.key, plan.entry.username))


def check_access_denied(ctx: Context) -> Iterator[Finding]:
    """Logged in, but the registry refuses the repository (not authorised, or it does not exist)."""
    for res, probe in probed(ctx):
        for a in _attempts(probe, "access-denied"):
            ref = res.reference
            assert ref is not None
            user = res.credentials[a.credential].entry.username if a.credential is not None else ""
            severity = Severity.WARNING if probe.outcome == "ok" else Severity.ERROR
            msg = (f"{describe(res, a.credential, a.node_entry)} logs in, but the pull is refused: "
                   f"{a.result.detail}. The registry does not distinguish \"no permission\" from \"no such "
                   f"repository\": check that {ref.name} is spelled right and exists, and that {user or 'the account'} "
                   "has pull (read) access to it (for a robot or service account, its repository permissions).")
            if probe.outcome == "ok":
                msg += f" {_later(res, probe)} works, so the pull succeeds."
            yield _at(probe, "registry-access-denied", severity, res, msg)


def check_auth_required(ctx: Context) -> Iterator[Finding]:
    """No credential matched and the registry refuses anonymous pulls."""
    for res, probe in probed(ctx):
        if probe.outcome != "auth-required":
            continue
        ref = res.reference
        assert ref is not None
        if not probe.anonymous:
            # A credential matched, but the registry never asked for it in a way the
            # runtime can answer (a 401 without a Basic/Bearer challenge).
            msg = (f"{used(res, probe)} matches {ref.name}, but it could not be used: "
                   f"{probe.detail}. The runtime cannot log in either; check the registry (or a proxy in front "
                   "of it).")
            yield _at(probe, "registry-auth-required", Severity.ERROR, res, msg)
            continue
        msg = (f"No credential the kubelet would send matches {ref.name}, so it pulls anonymously, and "
               f"{ref.registry} refuses that: {probe.detail}. Create a pull secret for {ref.registry} and make "
               f"the pod use it (link it to service account {res.subject.sa_name}).")
        severity = Severity.ERROR
        provider = keyring.credential_provider(ref.registry)
        if provider:
            # The kubelet may get a credential from its plugin, which no object shows.
            severity = Severity.WARNING
            msg += (f" Unless the nodes run the kubelet credential provider {provider}, which supplies "
                    f"{ref.registry} credentials itself (then check the node role's pull permission instead).")
        fix = credential_fix(res.subject, new_secret_name(ref.host), ref.registry, None)
        yield _at(probe, "registry-auth-required", severity, res, msg, fix)


def check_image_not_found(ctx: Context) -> Iterator[Finding]:
    """The repository is readable, but the tag or digest does not exist."""
    for res, probe in probed(ctx):
        if probe.outcome != "manifest-unknown":
            continue
        who = used(res, probe)
        msg = (f"{probe.detail}. The credentials work ({who} was accepted), so this is not a pull-secret problem: "
               "check the tag or digest in the pod spec, or push the image.")
        yield _at(probe, "image-not-found", Severity.ERROR, res, msg)


def _not_a_registry(result: Result, registry: str, named_by: str) -> str:
    """Probe outcome not-a-registry: what answered in place of the registry API (the
    detail), and where to look."""
    if result.stage == "token":
        return (f"{result.detail}. The token realm of {registry}'s WWW-Authenticate challenge does not answer as a "
                "token server (a wrong realm URL, or a proxy in front of it?), so no pull can log in")
    if result.stage == "manifest":
        return (f"{result.detail}. {registry} answers /v2/ as a registry, but not the manifest request (a proxy in "
                "front of it?)")
    return (f"{result.detail}. Something other than a registry answers at {registry} (a web server, proxy or login "
            f"page?), so the registry API is not reachable there: check the registry host and port in {named_by}")


def check_unreachable(ctx: Context) -> Iterator[Finding]:
    """The registry (or its token server) could not be reached from this machine, or
    something else answers at its address (probe outcome not-a-registry: the catalogue
    has no id of its own for it; to the kubelet, too, the registry API is not there)."""
    for res, probe in probed(ctx):
        if probe.outcome == "unreachable":
            failed = "its token server" if probe.final.stage == "token" else probe.registry
            msg = f"{failed} could not be reached: {probe.detail}. {vantage_note(probe)}"
        elif probe.outcome == "not-a-registry":
            msg = f"{_not_a_registry(probe.final, probe.registry, 'the image reference')}. {vantage_note(probe)}"
        else:
            continue
        yield _at(probe, "registry-unreachable", Severity.ERROR, res, msg)
    for plan, result in probed_logins(ctx):
        if result.outcome == "unreachable":
            yield _login_finding("registry-unreachable", Severity.ERROR, plan, f": {result.detail}. {VANTAGE_NOTE}")
        elif result.outcome == "not-a-registry":
            text = _not_a_registry(result, plan.registry or result.registry, "the entry's key")
            yield _login_finding("registry-unreachable", Severity.ERROR, plan, f": {text}. {VANTAGE_NOTE}")


def tls_fix(ctx: Context, host: str) -> Fix:
    if ctx.openshift:
        cm_key = host.replace(":", "..")
        patch = json.dumps({"spec": {"additionalTrustedCA": {"name": "registry-cas"}}})
        return Fix(None, (f"oc create configmap registry-cas -n openshift-config --from-file={q(cm_key)}=ca.crt",
                          f"oc patch image.config.openshift.io/cluster --type=merge -p {q(patch)}"))
    return Fix(None, (f"# on every node: install the registry's CA as /etc/containerd/certs.d/{host}/ca.crt "
                      f"(containerd) or /etc/containers/certs.d/{host}/ca.crt (CRI-O)",))


def check_tls(ctx: Context) -> Iterator[Finding]:
    """The registry's TLS certificate is not trusted (or it does not speak TLS)."""
    for res, probe in probed(ctx):
        if probe.outcome != "tls-error":
            continue
        host = _failed_host(probe.final, probe.registry)
        if probe.vantage == "local":
            msg = (f"{probe.detail}. Checked against this machine's CA bundle (plus --registry-ca-file); the node "
                   "trusts what its runtime is configured with, which may differ.")
        else:
            msg = (f"{probe.detail}. Checked against the node's own trust: its CA bundle and "
                   f"/etc/containers/certs.d/{host}/, /etc/docker/certs.d/{host}/ (*.crt).")
        yield _at(probe, "registry-tls-untrusted", Severity.ERROR, res, msg, tls_fix(ctx, host))
    for plan, result in probed_logins(ctx):
        if result.outcome == "tls-error":
            yield _login_finding("registry-tls-untrusted", Severity.ERROR, plan, f": {result.detail}.",
                                 tls_fix(ctx, _failed_host(result, plan.registry or "")))


def _limit_text(result: Result) -> str:
    limits = result.rate_limit or {}
    parts = []
    if "remaining" in limits:
        parts.append(f"{limits['remaining']} of {limits.get('limit', '?')} pulls left")
    if "retryAfter" in limits:
        parts.append(f"retry after {limits['retryAfter']}s")
    return f" ({', '.join(parts)})" if parts else ""


def check_rate_limited(ctx: Context) -> Iterator[Finding]:
    """The registry answers 429, or says no pulls remain (ratelimit-remaining: 0)."""
    for res, probe in probed(ctx):
        hit = next((a.result for a in probe.attempts if a.result.outcome == "rate-limited"
                    or (a.result.rate_limit or {}).get("remaining") == 0), None)
        if hit is None:
            continue
        who = "anonymous pulls (counted per source IP: every pod on the node shares it)" \
            if probe.anonymous else f"pulls with {used(res, probe)}"
        msg = f"{probe.registry} is rate-limiting {who}: {hit.detail}{_limit_text(hit)}."
        if probe.registry == "docker.io" and probe.anonymous:
            msg += " Authenticated Docker Hub pulls get a higher limit: add a docker.io credential."
        yield _at(probe, "registry-rate-limited", Severity.WARNING, res, msg)
    for plan, result in probed_logins(ctx):
        if result.outcome == "rate-limited":
            yield _login_finding("registry-rate-limited", Severity.WARNING, plan,
                                 f": {result.detail}{_limit_text(result)}.")


def delegated_host(registry: str, result: Result | None) -> str | None:
    """The realm host when a registry delegates authentication to another host."""
    if result is None or not result.realm or not result.auth_server:
        return None
    auth = result.auth_server
    if strip_port(auth) == strip_port(registry) or KNOWN_REALMS.get(registry) == strip_port(auth):
        return None
    return auth


def check_delegated_auth(ctx: Context) -> Iterator[Finding]:
    """The token realm is on another host, and the credentials hold no entry for it."""
    for res, probe in probed(ctx):
        if all(a.credential is None and a.node_entry is None for a in probe.attempts):
            continue  # anonymous: nothing to pair
        auth = next(filter(None, (delegated_host(probe.registry, a.result) for a in probe.attempts)), None)
        if auth is None or keyring.kubelet_lookup(res.pod_sources, ctx.node.sources, auth):
            continue
        failed = probe.outcome != "ok" and any(a.result.stage == "token" for a in probe.attempts)
        msg = (f"{probe.registry} delegates authentication to {auth} (its token realm), and the credentials hold "
               f"an entry for {probe.registry} but none for {auth}. The runtime sends the {probe.registry} "
               f"credential to {auth}; the vendor's procedure asks for a pull secret entry for both endpoints.")
        if failed:
            msg += f" The token exchange with {auth} failed: {probe.detail}."
        user = res.credentials[probe.credential].entry.username if probe.credential is not None else None
        fix = credential_fix(res.subject, new_secret_name(strip_port(auth)), auth, user)
        yield _at(probe, "delegated-auth-unpaired", Severity.ERROR if failed else Severity.WARNING, res, msg, fix)
    for plan, result in probed_logins(ctx):
        auth = delegated_host(plan.registry or "", result)
        if auth is None:
            continue
        secret = secret_ref(plan.source)
        state = ctx.resolver.secret(secret.namespace or "default", secret.name or "")
        if state.config is not None and any(keyring.key_matches(e.key, auth) for e in state.config.entries):
            continue
        failed = result.outcome != "ok" and result.stage == "token"
        msg = (f": {plan.registry} delegates authentication to {auth}, and {plan.source} has no "
               f"entry for {auth}; the vendor's procedure asks for an entry for both endpoints.")
        if failed:
            msg += f" The token exchange failed: {result.detail}."
        yield _login_finding("delegated-auth-unpaired", Severity.ERROR if failed else Severity.WARNING, plan, msg,
                             update_credential_fix(ctx, plan.source, auth, plan.entry.username))
