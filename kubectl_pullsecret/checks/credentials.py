"""Per-container credential checks: references, matching, keying, CRI-O agreement."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from kubectl_pullsecret import keyring
from kubectl_pullsecret.checks.base import (
    Context,
    credential_fix,
    for_container,
    ns_flag,
    q,
    restart_fix,
    template_steps,
    uses_own_pull_secrets,
)
from kubectl_pullsecret.dockerconfig import PULL_SECRET_TYPES, Entry
from kubectl_pullsecret.findings import Finding, Fix, Severity
from kubectl_pullsecret.keyring import DEFAULT_REGISTRY_HOST
from kubectl_pullsecret.reference import Reference
from kubectl_pullsecret.resolve import Resolution, Subject, sa_pull_secrets

DOCKER_HUB_LOOKALIKES = frozenset({
    "registry-1.docker.io", "registry.docker.io", "registry.hub.docker.com", "hub.docker.com",
    "docker.com", "www.docker.com", "auth.docker.io",
})


def unknown_secrets(res: Resolution) -> list[str]:
    """The container's pull secrets whose content the input does not tell."""
    return [s.name for s in res.secrets if s.unknown]


def _searched(ctx: Context, res: Resolution) -> str:
    """Which sources were looked at, with their keys: the evidence for 'no match'."""
    parts = []
    for state in res.secrets:
        if state.usable and state.config is not None:
            keys = ", ".join(e.key for e in state.config.entries) or "no entries"
            parts.append(f"{state.source_name} ({keys})")
        else:
            parts.append(f"{state.source_name} ({_STATE_TEXT.get(state.status, state.status)})")
    if not res.secrets:
        parts.append("no pull secrets")
    for src in ctx.node.sources:
        keys = ", ".join(e.key for e in src.config.entries) or "no entries"
        parts.append(f"{src.name} ({keys})")
    if not ctx.node.sources:
        parts.append("no node credentials (pass --authfile to check the node's config.json)")
    return "; ".join(parts)


_STATE_TEXT = {
    "missing": "does not exist",
    "wrong-type": "ignored: wrong type",
    "malformed": "malformed",
    "unavailable": "data not in the input",
    "absent-from-input": "not in the input",
}


def new_secret_name(host: str) -> str:
    """A pull secret name for a registry host (no port): quay.io -> quay-io-pull."""
    name = re.sub(r"[^a-z0-9-]+", "-", host.lower().strip("[]")).strip("-")
    return f"{name or 'registry'}-pull"


def _anonymous(res: Resolution) -> bool:
    """No credential, or only entries without username/password: the kubelet ignores
    `identitytoken`, so such a match logs in with nothing."""
    return not any(c.entry.has_credentials for c in res.credentials)


def _empty_matches(res: Resolution) -> str:
    if not res.credentials:
        return ""
    keys = ", ".join(f"{c.source} key {c.entry.key!r}" for c in res.credentials)
    return (f" The only matching entries ({keys}) have no username or password (the kubelet does not use "
            "`identitytoken`), so the kubelet sends an empty login.")


def check_reference(ctx: Context) -> Iterator[Finding]:
    """The image string does not parse as a reference."""
    for res in ctx.resolutions:
        if res.reference_error is None:
            continue
        image = res.container.image
        what = (f"Image {image!r} is not a valid reference: {res.reference_error}." if image
                else "The container has no image.")
        yield for_container("image-reference-invalid", Severity.ERROR, res,
                            f"{what} The kubelet reports InvalidImageName and never pulls it.")


def check_no_match(ctx: Context) -> Iterator[Finding]:
    """No credential matches the image's registry and path, so the pull is anonymous."""
    # Imported here: openshift builds on checks.registry, which builds on this module.
    from kubectl_pullsecret.checks.openshift import source_never_contacted

    for res in ctx.resolutions:
        ref = res.reference
        if ref is None or res.keyring_error or not _anonymous(res) or ref.is_docker_hub or unknown_secrets(res):
            continue
        if source_never_contacted(ctx, res):
            continue  # only mirrors are contacted: mirror-credential-missing judges their credentials
        probe = ctx.probe_of(res)
        outcome = probe.outcome if probe is not None else None
        if outcome in ("ok", "manifest-unknown"):
            # The registry serves it anonymously: a public image, nothing to fix.
            yield for_container("no-matching-credential", Severity.INFO, res,
                                f"No credential matches {ref.name}; the kubelet pulls it anonymously, and the probe "
                                f"shows {ref.registry} allows that (a public repository).{_empty_matches(res)}")
            continue
        provider = keyring.credential_provider(ref.registry)
        # Warning unless the probe showed anonymous pulls refused (and no provider plugin
        # may be supplying a credential): the repository may be public.
        severity = (Severity.ERROR if outcome == "auth-required" and not provider and not ctx.node_unknown
                    else Severity.WARNING)
        if outcome == "auth-required":
            verdict = f"and {ref.registry} refuses anonymous pulls of it (probe)"
        elif probe is None:
            verdict = "which works only if the repository is public (not checked: probes are off)"
        elif outcome == "skipped":
            verdict = f"which works only if the repository is public (not checked: not probed: {probe.detail})"
        else:
            verdict = f"which works only if the repository is public (the probe could not tell: {outcome})"
        msg = (f"No credential matches {ref.name}: the kubelet pulls it anonymously, {verdict}.{_empty_matches(res)} "
               f"Searched: {_searched(ctx, res)}.")
        if ctx.node_unknown:
            msg += (" The global pull secret (the nodes' credentials) could not be read, so an entry for "
                    f"{ref.registry} there would not show here.")
        if provider:
            msg += (f" On nodes running the kubelet credential provider {provider}, the kubelet gets a "
                    f"{ref.registry} credential from it instead, which no object shows.")
        s = res.subject
        if ctx.openshift and ref.registry in ctx.internal_registries:
            # The internal registry's credential is the SA's <sa>-dockercfg-* secret, never a hand-made one.
            msg += (f" Internal registry credentials come from service account {s.sa_name}'s "
                    f"{s.sa_name}-dockercfg-* pull secret: see sa-not-provisioned, pod-predates-sa-secrets and "
                    "pod-overrides-sa-secrets.")
            fix = restart_fix(s) if s.created else None
        else:
            unlinked = unlinked_secret(ctx, res)
            if unlinked is not None:
                msg += (f" Secret {unlinked} in namespace {s.ref.namespace or 'default'} has a credential for "
                        f"{ref.registry} but is not among the pod's pull secrets.")
                fix = link_fix(ctx, s, unlinked)
            else:
                fix = credential_fix(s, new_secret_name(ref.host), ref.registry, None)
        yield for_container("no-matching-credential", severity, res, msg, fix)


def unlinked_secret(ctx: Context, res: Resolution) -> str | None:
    """A usable pull secret of the pod's namespace with a credential for the image that
    the pod does not use (the commonest cause: created, never linked to the SA)."""
    s = res.subject
    ref = res.reference
    if ref is None:
        return None
    ns = s.ref.namespace or "default"
    memo: dict[tuple[str, str, tuple[str, ...]], str | None] = ctx.memo.setdefault("unlinked", {})
    key = (ns, ref.name, s.pull_secrets)
    if key not in memo:
        memo[key] = None
        for name in _pull_secrets_by_namespace(ctx).get(ns, ()):
            if name in s.pull_secrets:
                continue
            state = ctx.resolver.secret(ns, name)
            if not state.usable or state.config is None:
                continue
            found = _source_keyring(ctx, keyring.Source(state.source_name, state.config)).lookup(ref.name)
            if any(c.entry.has_credentials for c in found):
                memo[key] = name
                break
    return memo[key]


def _pull_secrets_by_namespace(ctx: Context) -> dict[str, list[str]]:
    """Names of the pull-secret-typed secrets per namespace, sorted (built once per run)."""
    by_ns: dict[str, list[str]] | None = ctx.memo.get("secrets_by_ns")
    if by_ns is None:
        by_ns = ctx.memo["secrets_by_ns"] = {}
        for obj in ctx.snapshot.of("Secret"):
            m = obj.get("metadata") or {}
            if obj.get("type") in PULL_SECRET_TYPES and m.get("name"):
                by_ns.setdefault(str(m.get("namespace") or "default"), []).append(str(m["name"]))
        for names in by_ns.values():
            names.sort()
    return by_ns


def link_fix(ctx: Context, s: Subject, secret: str) -> Fix:
    """Link an existing secret to the pod's SA (then recreate the pod); if the SA already
    lists it, only the recreation is missing; if the pod lists its own pull secrets, the
    SA's are never added and the template must name it."""
    ns = s.ref.namespace or "default"
    if uses_own_pull_secrets(s):
        return Fix(None, template_steps(s, secret))
    sa = ctx.snapshot.get("ServiceAccount", ns, s.sa_name)
    if sa is not None and secret in sa_pull_secrets(sa) and s.created:
        restart = restart_fix(s)
        if restart is not None:
            return restart
    command = f"kubectl pullsecret fix link {q(secret)} --sa {q(s.sa_name)}{ns_flag(ns)}"
    equivalent = [f"oc secrets link {q(s.sa_name)} {q(secret)} --for=pull{ns_flag(ns)}"]
    if s.created:
        restart = restart_fix(s)
        if restart is not None:
            equivalent.extend(restart.equivalent)
    return Fix(command, tuple(equivalent))


def check_dockerhub_anonymous(ctx: Context) -> Iterator[Finding]:
    """A Docker Hub image is pulled without credentials (rate limits, private repositories fail)."""
    for res in ctx.resolutions:
        ref = res.reference
        if ref is None or not ref.is_docker_hub or res.keyring_error or not _anonymous(res) or unknown_secrets(res):
            continue
        msg = (f"{ref.name} comes from Docker Hub and no credential matches it, so it is pulled anonymously: "
               "Docker Hub rate-limits anonymous pulls per source IP (shared by every pod on the node) and "
               "private repositories fail. A Docker Hub key must be docker.io, index.docker.io or "
               f"https://index.docker.io/v1/.{_empty_matches(res)}")
        s = res.subject
        fix = credential_fix(s, "dockerhub-pull", "docker.io", None)
        yield for_container("dockerhub-anonymous", Severity.WARNING, res, msg, fix)


def _split_port(host: str) -> tuple[str, str]:
    if host.startswith("["):
        close = host.find("]")
        return host[: close + 1], host[close + 2:] if host[close + 1: close + 2] == ":" else ""
    name, _, port = host.partition(":")
    return name, port


@lru_cache(maxsize=65536)  # the same keys and images recur in every namespace
def key_mismatch(raw_key: str, ref: Reference) -> tuple[str, str] | None:
    """Is this entry meant for the image's registry but keyed so the kubelet never
    matches it? Returns (why, the key that would match) or None."""
    image = ref.name
    norm = keyring.normalize_key(raw_key)
    if norm is not None and keyring.url_match(norm, image):
        return None
    img_name, img_port = _split_port(ref.registry)
    if raw_key != raw_key.strip() and keyring.url_match(keyring.normalize_key(raw_key.strip()) or "", image):
        return "it has leading or trailing whitespace", raw_key.strip()
    stripped = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", raw_key.strip())
    host_part, _, path_part = stripped.partition("/")
    key_name, key_port = _split_port(host_part)
    if norm is None:
        if key_name.lower() == img_name.lower():
            return "the kubelet cannot parse it as a URL (bad port or %-escape) and skips it", ref.registry
        return None
    if ref.is_docker_hub and key_name.lower() == DEFAULT_REGISTRY_HOST and norm != DEFAULT_REGISTRY_HOST:
        # keyring.go Lookup falls back to exactly the key index.docker.io: with a path it never applies.
        path = norm.partition("/")[2]
        return ("the kubelet uses an index.docker.io key only as the Docker Hub fallback, and only without a path",
                "docker.io" + (f"/{path}" if path else ""))
    if ref.is_docker_hub and key_name.lower() in DOCKER_HUB_LOOKALIKES:
        return (f"{key_name} is not a key the kubelet uses for Docker Hub images (only docker.io, index.docker.io "
                "and https://index.docker.io/v1/ work)", "docker.io")
    if key_name.lower() == img_name.lower():
        if key_name != img_name:
            return "host names are compared case-sensitively", ref.registry + (f"/{path_part}" if path_part else "")
        key_path = "/" + norm.partition("/")[2] if "/" in norm else ""
        if key_port != img_port:
            have = f"port {key_port}" if key_port else "no port"
            want = f"port {img_port}" if img_port else "no port"
            return f"the key has {have} but the image has {want}, and ports must be equal", ref.registry + key_path
        img_path = "/" + ref.repository
        if key_path and not img_path.startswith(key_path):
            last = key_path.rstrip("/").rsplit("/", 1)[-1]
            if img_path.lower().startswith(key_path.lower()):
                return "paths are compared case-sensitively", ref.registry + img_path[: len(key_path)]
            if ":" in last or "@" in last:
                base = re.split(r"[:@]", key_path, maxsplit=1)[0]
                if img_path.startswith(base):
                    return "the key includes a tag or digest; keys name a registry or repository path", ref.registry + base
            if key_path in ("/v1", "/v2"):
                return f"the path {key_path} is not cut as /v1/ or /v2/ would be", ref.registry
        return None
    if "*" in key_name or "?" in key_name or "[" in key_name:
        k_labels, i_labels = key_name.split("."), img_name.split(".")
        if len(k_labels) != len(i_labels) and key_port == img_port:
            suffix = key_name.lstrip("*?.")
            if img_name.endswith("." + suffix) or img_name == suffix:
                return (f"a wildcard matches exactly one label, and {key_name} has {len(k_labels)} labels while "
                        f"{img_name} has {len(i_labels)}", ref.registry)
    return None


def check_key_mismatch(ctx: Context) -> Iterator[Finding]:
    """An entry is meant for this registry but keyed so the kubelet never matches it (port, host, path, wildcard)."""
    for res in ctx.resolutions:
        ref = res.reference
        if ref is None or res.keyring_error:
            continue
        matched_sources = {c.source for c in res.credentials}
        for src in res.pod_sources + ctx.node.sources:
            if src.name in matched_sources:
                continue
            for entry in src.config.entries:
                hit = key_mismatch(entry.key, ref)
                if hit is None:
                    continue
                why, better = hit
                msg = (f"{src.name} has an entry keyed {entry.key!r} (user {entry.username or '-'}, "
                       f"fingerprint {entry.fingerprint}) that looks meant for {ref.registry}, but the kubelet "
                       f"never matches it to {ref.name}: {why}. Key it as {better!r}.")
                fix = None
                if src.name.startswith("secret/"):
                    fix = credential_fix(res.subject, new_secret_name(ref.host), better,
                                         entry.username or None)
                yield for_container("credential-key-mismatch", Severity.WARNING, res, msg, fix)


def _describe(entry: Entry | None) -> str:
    if entry is None:
        return "no entry"
    return f"entry {entry.key!r} (user {entry.username or '-'}, fingerprint {entry.fingerprint})"


def _why_cimage_misses(key: str) -> str:
    if any(ch in key for ch in "*?["):
        return "it does not expand wildcards"
    if "/" in key.split("://", 1)[-1]:
        return "it matches a path key only exactly, walking up whole path components"
    return "its keys are exact host names"


def _source_keyring(ctx: Context, src: keyring.Source) -> keyring.Keyring:
    """One keyring per source and run (sources repeat across every pod that uses them)."""
    cache: dict[str, keyring.Keyring] = ctx.memo.setdefault("source_keyrings", {})
    if src.name not in cache:
        cache[src.name] = keyring.Keyring([src])
    return cache[src.name]


def check_crio_disagree(ctx: Context) -> Iterator[Finding]:
    """An entry matches differently under kubelet rules and containers/image (CRI-O, podman, skopeo) rules."""
    for res in ctx.resolutions:
        ref = res.reference
        if ref is None or res.keyring_error:
            continue
        for src in res.pod_sources + ctx.node.sources:
            # Every pod with this source and image gets the same answer: computed once.
            memo: dict[tuple[str, str], str | None] = ctx.memo.setdefault("crio_disagree", {})
            if (src.name, ref.name) not in memo:
                memo[(src.name, ref.name)] = _crio_disagreement(ctx, src, ref)
            msg = memo[(src.name, ref.name)]
            if msg is not None:
                yield for_container("crio-kubelet-disagree", Severity.WARNING, res, msg)


def _crio_disagreement(ctx: Context, src: keyring.Source, ref: Reference) -> str | None:
    """The containers/image-vs-kubelet difference for one source and image, or None."""
    kubelet = _source_keyring(ctx, src).lookup(ref.name)
    k_entry = kubelet[0].entry if kubelet else None
    c = keyring.cimage_lookup(src.config, ref.name, legacy=src.config.format == "dockercfg")
    c_entry = c.entry if c.credentials else None
    if len(c.candidates) > 1 and any(k_entry is None or e.key != k_entry.key for e in c.candidates):
        c_text = (f"picks any one of {', '.join(repr(e.key) for e in c.candidates)} (they all mean "
                  f"{ref.registry}, and Go's map order is random), so the user varies between "
                  f"{', '.join(sorted({e.username or '-' for e in c.candidates}))}")
    elif (k_entry is None and c_entry is None) or (
            k_entry is not None and c_entry is not None and k_entry.key == c_entry.key):
        return None
    elif c.helper:
        c_text = (f"asks the credential helper listed under credHelpers for {ref.registry} and never reads "
                  "`auths` for it")
    elif c.entry is None and c.error:
        c_text = f"cannot use the file at all ({c.error})"
    elif c.entry is not None and c_entry is None:
        reason = c.entry.cimage.error or c.entry.cimage.note or "it yields no credential"
        c_text = f"finds {_describe(c.entry)} but uses no credential from it ({reason})"
    elif c_entry is None and k_entry is not None:
        c_text = f"finds no entry ({_why_cimage_misses(k_entry.key)})"
    else:
        c_text = f"uses {_describe(c_entry)}"
    k_text = f"tries {_describe(k_entry)} first" if k_entry else "matches no entry"
    if src.node:
        why = ("CRI-O reads the node file itself when the kubelet passes no credential, and podman/skopeo "
               "on the node read it with these rules")
    else:
        why = ("a check with podman or skopeo using this secret's content as an auth file gives a different "
               "answer than the kubelet")
    msg = (f"For {ref.name} in {src.name}, the kubelet {k_text}, while containers/image {c_text}: {why}.")
    return msg
