"""The node probe program: what a `doctor --from-nodes` probe pod runs on a node.

It is this package itself (shipped to the pod as a zip, see nodes.py), so a probe from
a node follows exactly the flow and outcomes of a local probe; only the vantage
differs. What it reads from the node (mounted read-only under --host):
- /var/lib/kubelet/config.json: the node's credentials (on OpenShift, the global pull
  secret as the Machine Config Operator last wrote it), used after the pod's secrets
  as the kubelet does (kubelet keyring order);
- the node's CA bundle (/etc/pki/ca-trust/..., /etc/ssl/certs/...) and the per-registry
  CAs in /etc/containers/certs.d, /etc/docker/certs.d and /etc/containerd/certs.d
  (`<host[:port]>/*.crt`, trusted for that registry only);
- /etc/containers/registries.conf(.d): registries marked insecure;
- the runtime's proxy settings (Environment= and EnvironmentFile= of the crio/containerd
  systemd drop-ins), as the runtime, not the kubelet, makes the registry requests.
When none of the CA bundles is readable (a link out of /etc, such as openSUSE's), the
node's trust is unknown: a certificate that fails verification is then reported as
`skipped`, not as tls-error (certs.d CAs still verify what they sign).
The pod has the node's network (hostNetwork, dnsPolicy Default): its DNS and routes.

Nothing read on the node leaves it except outcomes, key names, fingerprints (8 hex of
sha256(username:password)) and a keyed digest of the node's config.json; the output is
scrubbed of every secret value the program has seen.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import json
import os
import re
import shlex
import sys
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kubectl_pullsecret import dockerconfig, keyring, redact, reference
from kubectl_pullsecret.probe_model import ChainSpec, ImageProbe, Result, chain_spec, result_to_dict

MARKER = "PULLSECRET-NODE-RESULT "  # prefixes the one result line on stdout
FORMAT_VERSION = 1
KUBELET_CONFIG = "/var/lib/kubelet/config.json"
CA_BUNDLES = (  # the first that exists is the node's system trust
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # RHEL, RHCOS, Fedora
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu
    "/etc/ssl/ca-bundle.pem",  # SUSE
    "/etc/ssl/cert.pem",  # Alpine
)
CERTS_DIRS = ("/etc/containers/certs.d", "/etc/docker/certs.d", "/etc/containerd/certs.d")
REGISTRIES_CONF = ("/etc/containers/registries.conf", "/etc/containers/registries.conf.d")
RUNTIME_DROPINS = ("/etc/systemd/system/crio.service.d", "/etc/systemd/system/containerd.service.d")
PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY")
# The probe's advice names this plugin's flags; on a node the remedies are the node's.
NODE_WORDING = (
    ("pass --registry-ca-file with its CA, or --insecure-registry for a test registry",
     "the node needs its CA (in /etc/containers/certs.d/<host:port>/, or OpenShift's additionalTrustedCA)"),
    ("--insecure-registry", "an insecure entry in the node's registries.conf (OpenShift: image.config "
                            "insecureRegistries)"),
)


@dataclass
class Host:
    """The node's filesystem, mounted under `root`; absolute symlinks resolve inside it."""

    root: str
    read: list[str] = field(default_factory=list)  # the node paths read (reported)

    def path(self, node_path: str) -> str:
        """node_path as seen in the pod, following symlinks the way the node would."""
        parts = [p for p in node_path.split("/") if p]
        resolved: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            if part == ".":
                continue
            here = os.path.join(self.root, *resolved, part)
            if os.path.islink(here) and hops < 40:
                hops += 1
                target = os.readlink(here)
                if target.startswith("/"):
                    resolved = []
                parts = [p for p in target.split("/") if p] + parts
                continue
            resolved.append(part)
        return os.path.join(self.root, *resolved)

    def read_bytes(self, node_path: str, limit: int = 4 << 20) -> bytes | None:
        try:
            with open(self.path(node_path), "rb") as fh:
                data = fh.read(limit)
        except OSError:
            return None
        self.read.append(node_path)
        return data

    def listdir(self, node_path: str) -> list[str]:
        try:
            return sorted(os.listdir(self.path(node_path)))
        except OSError:
            return []


def node_config(host: Host, nonce: str) -> tuple[dict[str, Any], keyring.Source | None]:
    """The node's config.json: a keyed digest and (key, fingerprint) per entry, and the
    keyring source the kubelet builds from it (None when absent or undecodable: the
    kubelet then has no node credentials)."""
    data = host.read_bytes(KUBELET_CONFIG)
    if data is None:
        return {"path": KUBELET_CONFIG, "present": False, "digest": None, "entries": [], "error": None}, None
    config = dockerconfig.parse(data, dockerconfig.detect_format(data))
    errors = config.all_errors()
    info = {"path": KUBELET_CONFIG, "present": True, "digest": dockerconfig.content_digest(config, nonce),
            "entries": [{"key": e.key, "fingerprint": e.fingerprint} for e in config.entries],
            "error": "; ".join(errors) or config.shape_error}
    if errors:
        return info, None  # the kubelet logs the file it cannot decode and uses no node credentials
    return info, keyring.Source("node", config, node=True)


def _split_pems(data: bytes) -> str:
    text = data.decode("utf-8", "replace")
    return text if "-----BEGIN CERTIFICATE-----" in text else ""


def _no_bundle_reason(host: Host) -> str:
    """Why no CA bundle was found: the paths tried, and the links that lead out of the mount."""
    links = []
    for path in CA_BUNDLES:
        here = os.path.join(host.root, path.lstrip("/"))
        if os.path.islink(here):
            try:
                links.append(f"{path} is a link to {os.readlink(here)}")
            except OSError:
                continue
    why = f" ({'; '.join(links)}: only /etc is mounted)" if links else ""
    return f"none of {', '.join(CA_BUNDLES)} is readable on the node{why}"


def trust(host: Host) -> tuple[str, tuple[tuple[str, str], ...], dict[str, Any]]:
    """The node's CA bundle (a path in the pod, "" when none is readable: its trust is then
    unknown, and info says why) and per-host CAs."""
    bundle = next((p for p in CA_BUNDLES if os.path.isfile(host.path(p))), None)
    if bundle is not None:
        host.read.append(bundle)
    host_cas: dict[str, list[str]] = {}
    for base in CERTS_DIRS:
        for name in host.listdir(base):
            for f in host.listdir(f"{base}/{name}"):
                if f.endswith(".crt"):
                    pem = _split_pems(host.read_bytes(f"{base}/{name}/{f}", 1 << 20) or b"")
                    if pem:
                        host_cas.setdefault(name.lower(), []).append(pem)
    info: dict[str, Any] = {"caBundle": bundle, "registryCAs": sorted(host_cas)}
    if bundle is None:
        info["caBundleReason"] = _no_bundle_reason(host)
    return (host.path(bundle) if bundle else ""), tuple((h, "\n".join(p)) for h, p in sorted(host_cas.items())), info


def insecure_registries(host: Host) -> list[str]:
    """Registries registries.conf marks insecure (v2 [[registry]] insecure=true, v1
    [registries.insecure]), as host[:port] or *.domain entries."""
    import tomllib

    files = [REGISTRIES_CONF[0]] + [f"{REGISTRIES_CONF[1]}/{n}" for n in host.listdir(REGISTRIES_CONF[1])
                                    if n.endswith(".conf")]
    out: list[str] = []
    for path in files:
        data = host.read_bytes(path, 1 << 20)
        if data is None:
            continue
        try:
            doc = tomllib.loads(data.decode("utf-8", "replace"))
        except tomllib.TOMLDecodeError:
            continue  # CRI-O refuses to start with a broken file; nothing to learn here
        for reg in doc.get("registry", []) if isinstance(doc.get("registry"), list) else []:
            if isinstance(reg, dict) and reg.get("insecure") is True:
                where = reg.get("location") or reg.get("prefix") or ""
                if isinstance(where, str) and where:
                    out.append(where.split("/", 1)[0].lower())
        v1 = doc.get("registries")
        if isinstance(v1, dict) and isinstance(v1.get("insecure"), dict):
            out.extend(str(r).split("/", 1)[0].lower() for r in v1["insecure"].get("registries", []) or [])
    return sorted(set(out))


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _environment_assignments(value: str) -> list[tuple[str, str]]:
    """An `Environment=` value: space-separated VAR=value words, each optionally quoted,
    after systemd's specifier expansion (`%%` is a literal `%`)."""
    try:
        words = shlex.split(value.replace("%%", "%"))
    except ValueError:
        return []  # systemd ignores an assignment it cannot parse
    pairs = [w.split("=", 1) for w in words if "=" in w]
    return [(k, v) for k, v in pairs if _ENV_NAME.fullmatch(k)]


def _env_file_assignments(text: str) -> list[tuple[str, str]]:
    """An `EnvironmentFile=`'s VAR=value lines, read as systemd's env-file parser does:
    `#`/`;` comment lines; a value 'single-' or "double-quoted" (there a backslash escapes
    a double quote, a backslash, ` and $, and a newline) or bare (a backslash escapes the next character, trailing
    blanks dropped), quoted parts joined; no `export` prefix (such a line is ignored)."""
    out: list[tuple[str, str]] = []
    state, key, value = "pre-key", "", ""
    keep = 0  # the value's length without its trailing unquoted blanks

    def done() -> None:
        name = key.strip()
        if _ENV_NAME.fullmatch(name):
            out.append((name, value[:keep]))

    for c in text:
        newline = c in "\n\r"
        if state == "pre-key":
            if c in "#;":
                state = "comment"
            elif not c.isspace():
                state, key = "key", c
        elif state == "comment":
            state = "comment-escape" if c == "\\" else "pre-key" if newline else "comment"
        elif state == "comment-escape":
            state = "comment"
        elif state == "key":
            if newline:
                state = "pre-key"  # no "=": ignored
            elif c == "=":
                state, value, keep = "pre-value", "", 0
            else:
                key += c
        elif state in ("pre-value", "value"):
            if newline:
                done()
                state = "pre-key"
            elif c == "\\":
                state = "escape"
            elif state == "pre-value" and c in "'\"":
                state = "single" if c == "'" else "double"
            elif state == "value" or not c.isspace():
                state, value = "value", value + c
                keep = keep if c.isspace() else len(value)
        elif state == "escape":
            state = "value"
            if not newline:  # backslash-newline: the value goes on
                value += c
                keep = len(value)
        elif state == "single":
            if c == "'":
                state = "pre-value"
            else:
                value += c
                keep = len(value)
        elif state == "double":
            if c == '"':
                state = "pre-value"
            elif c == "\\":
                state = "double-escape"
            else:
                value += c
                keep = len(value)
        elif state == "double-escape":
            state = "double"
            if c != "\n":
                value += c if c in '"\\`$' else "\\" + c
                keep = len(value)
    if state not in ("pre-key", "comment", "comment-escape", "key"):
        done()  # the last line, without its newline (an unclosed quote included, as systemd)
    return out


def _unit_settings(text: str) -> list[tuple[str, str]]:
    """The (name, value) settings of a unit file's [Service] section, continuation lines joined."""
    out: list[tuple[str, str]] = []
    section = ""
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[] ")
            continue
        name, sep, value = line.partition("=")
        if sep and section == "Service":
            out.append((name.strip(), value.strip()))
    return out


def _env_files(host: Host, spec: str) -> list[str]:
    """The node paths an `EnvironmentFile=` value names (a wildcard in the file name is
    expanded, sorted, as systemd does); "-" (optional) makes no difference here: a file
    that cannot be read, such as one outside the mounted /etc, adds nothing."""
    path = spec.replace("%%", "%").removeprefix("-").strip()
    if not path.startswith("/"):
        return []  # systemd requires an absolute path
    directory, name = path.rsplit("/", 1)
    if not any(c in name for c in "*?["):
        return [path]
    return [f"{directory}/{n}" for n in host.listdir(directory or "/") if fnmatch.fnmatchcase(n, name)]


def unit_environment(host: Host, dropins: str) -> dict[str, str]:
    """The environment a unit's drop-ins (in `dropins`, lexical order) give its service:
    every Environment= in order, then every EnvironmentFile= in order, which override
    them ("Settings from these files override settings made with Environment=", systemd.exec);
    an empty assignment resets the list before it. The unit file itself, under /usr, is
    not mounted."""
    assignments: list[tuple[str, str]] = []
    files: list[str] = []
    for name in host.listdir(dropins):
        if not name.endswith(".conf"):
            continue
        text = (host.read_bytes(f"{dropins}/{name}", 1 << 20) or b"").decode("utf-8", "replace")
        for setting, value in _unit_settings(text):
            if setting == "Environment":
                assignments = assignments + _environment_assignments(value) if value else []
            elif setting == "EnvironmentFile":
                files = files + [value] if value else []
    for spec in files:
        for path in _env_files(host, spec):
            data = host.read_bytes(path, 1 << 20)
            if data is not None:
                assignments += _env_file_assignments(data.decode("utf-8", "replace"))
    env: dict[str, str] = {}
    for var, value in assignments:
        env[var] = value
        if var.upper() in PROXY_VARS:
            _register_userinfo(value)  # overridden values too: every secret seen
    return env


def runtime_proxy(host: Host) -> dict[str, str]:
    """The proxy variables the container runtime runs with (its systemd drop-ins); the
    upper-case name wins over the lower-case one, as in Go's net/http."""
    found: dict[str, str] = {}
    for base in RUNTIME_DROPINS:
        env = unit_environment(host, base)
        for var in PROXY_VARS:
            value = env.get(var) or env.get(var.lower())
            if value:
                found[var] = value
    return found


def _register_userinfo(url: str) -> None:
    """The proxy password, as written and percent-decoded (what goes on the wire)."""
    parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    if parts.password:
        redact.register(parts.password, urllib.parse.unquote(parts.password))


def _shown_proxy(url: str) -> str:
    """The proxy address without its credentials."""
    parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    try:
        port = str(parts.port or "")
    except ValueError:  # not a port number: not shown
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{f':{port}' if port else ''}"


def unknown_trust(result: Result, reason: str) -> Result:
    """A certificate that failed verification while the node's CA bundle is unknown:
    `skipped`, as nothing is concluded about that registry's trust from this node. Other
    outcomes, TLS protocol failures included, stand."""
    from kubectl_pullsecret.registry import untrusted_certificate

    host = untrusted_certificate(result.detail) if result.outcome == "tls-error" else None
    if host is None:
        return result
    return replace(result, outcome="skipped", detail=(
        f"the TLS certificate of {host} could not be checked from this node: its CA bundle could not be read "
        f"({reason}); nothing is concluded about the trust of {result.registry or host} from here"))


def probe_node(job: dict[str, Any], node: str, host: Host) -> dict[str, Any]:
    """Probe every image the job assigns to `node`, from here, with what the node has."""
    started = time.perf_counter()
    config_info, node_source = node_config(host, str(job["nonce"]))
    bundle, host_cas, trust_info = trust(host)
    # The bundle's certifi stub names the node's CA bundle (requests 2.32.0 to 2.32.4 load
    # it when imported: it must be a readable bundle), else one of the probe image's.
    if bundle:
        os.environ["PULLSECRET_CA_BUNDLE"] = bundle
    else:
        os.environ.pop("PULLSECRET_CA_BUNDLE", None)
    from kubectl_pullsecret.probe import Prober  # imports requests
    from kubectl_pullsecret.registry import Settings

    insecure = insecure_registries(host)
    proxy = runtime_proxy(host)
    # The runtime's proxy, not the pod's environment: the pod has none of its own.
    for var in PROXY_VARS:
        for name in (var, var.lower()):
            os.environ.pop(name, None)
    for var, value in proxy.items():
        os.environ[var] = os.environ[var.lower()] = value
    trust_info.update({"insecure": insecure, "proxy": _shown_proxy(proxy["HTTPS_PROXY"]) if proxy.get("HTTPS_PROXY")
                       else None})

    sources: list[keyring.Source] = []
    for src in job["sources"]:
        data = base64.b64decode(src["data"])
        sources.append(keyring.Source(src["name"], dockerconfig.parse(data, src["format"])))
    node_keyring = keyring.Keyring([node_source] if node_source else [])
    pod_keyrings: dict[tuple[int, ...], keyring.Keyring] = {}
    planned: list[tuple[int, list[keyring.Credential], ChainSpec]] = []
    for image_id in job["nodes"].get(node, []):
        item = job["images"][image_id]
        ref = reference.parse(item["image"])
        key = tuple(item["sources"])
        if key not in pod_keyrings:
            pod_keyrings[key] = keyring.Keyring([sources[i] for i in key])
        creds = keyring.union_lookup([pod_keyrings[key], node_keyring], ref.name)
        planned.append((image_id, creds, chain_spec(ref, creds)))

    settings = Settings(timeout=float(job.get("timeout", 10.0)), insecure=frozenset(insecure),
                        system_cas=bundle, host_cas=host_cas)
    prober = Prober(settings)
    probes: dict[ChainSpec, ImageProbe] = prober.probe_images(spec for _, _, spec in planned)
    unknown = trust_info.get("caBundleReason") if not bundle else None
    images = []
    for image_id, creds, spec in planned:
        probe = probes[spec]
        results = [(a.credential, unknown_trust(a.result, unknown) if unknown else a.result) for a in probe.attempts]
        images.append({
            "id": image_id,
            "credentials": [{"source": c.source, "key": c.entry.key, "fingerprint": c.entry.fingerprint}
                            for c in creds],
            "attempts": [{"credential": credential, **result_to_dict(replace(r, detail=node_wording(r.detail)))}
                         for credential, r in results],
        })
    return {"version": FORMAT_VERSION, "node": node, "config": config_info, "trust": trust_info,
            "read": sorted(set(host.read)), "images": images, "requests": prober.client.request_count,
            "elapsedMs": int((time.perf_counter() - started) * 1000)}


def node_wording(detail: str) -> str:
    for local, node in NODE_WORDING:
        detail = detail.replace(local, node)
    return detail


def scrubbed(value: Any) -> Any:
    """`value` (a JSON document) with every string in it scrubbed of the secrets seen:
    before encoding, as json.dumps escapes a secret's quotes, backslashes and non-ASCII
    characters, which a scrub of the encoded text would then miss."""
    if isinstance(value, str):
        return redact.scrub(value)
    if isinstance(value, dict):
        return {scrubbed(k): scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrubbed(v) for v in value]
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kubectl-pullsecret node-probe")
    parser.add_argument("--job", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--host", default="/host")
    args = parser.parse_args(argv)
    try:
        with open(args.job, encoding="utf-8") as fh:
            job = json.load(fh)
        if job.get("version") != FORMAT_VERSION:
            raise ValueError(f"job format {job.get('version')!r}, this program reads {FORMAT_VERSION}")
        out = probe_node(job, args.node, Host(args.host))
    except Exception as exc:  # noqa: BLE001 - the one result line must always be written
        out = {"version": FORMAT_VERSION, "node": args.node, "error": f"{type(exc).__name__}: {exc}"[:500]}
    sys.stdout.write(MARKER + redact.scrub(json.dumps(scrubbed(out), separators=(",", ":"))) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
