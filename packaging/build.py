#!/usr/bin/env python3
"""Build the single-file kubectl-pullsecret, its krew archives and the krew manifest.

    python packaging/build.py                  # dist/kubectl-pullsecret for this machine
    python packaging/build.py --all --krew     # every platform, archives, packaging/krew/pullsecret.yaml
    python packaging/build.py --krew --check   # exit 1 if the committed manifest is stale

The single file is a zipapp (`python3 FILE ...`, or run it: it starts with
`#!/usr/bin/env python3`) holding this package and its pinned dependencies
(packaging/requirements.lock), taken from wheels that pip downloads for a fixed
platform so that any machine builds the same bytes. Compiled speedups are dropped
(their packages fall back to Python) except pydantic_core, carried for CPython
3.11-3.15 of the target platform. The packages are unpacked to a cache on first use
(see zipapp_main.py).

The zip and the archives are reproducible: sorted entries, fixed timestamps and
modes, gzip without name or time. The same commit and lock give the same sha256.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "packaging" / "requirements.lock"
MAIN = ROOT / "packaging" / "zipapp_main.py"
MANIFEST = ROOT / "packaging" / "krew" / "pullsecret.yaml"
LICENSE = ROOT / "LICENSE"
PACKAGE = "kubectl_pullsecret"
NATIVE = "pydantic_core"
NAME = "kubectl-pullsecret"
COMPLETE = "kubectl_complete-pullsecret"
HOMEPAGE = "https://github.com/kubectl-pullsecret/kubectl-pullsecret"
SHEBANG = b"#!/usr/bin/env python3\n"
EPOCH = (2020, 1, 1, 0, 0, 0)  # zip timestamps (the zip format cannot go before 1980)
TAR_MTIME = 1577836800  # the same instant for the tar members
PYTHONS = ("3.11", "3.12", "3.13", "3.14", "3.15")
# Two groups of packages, each unpacked to a cache on first import so that Python can
# cache their bytecode (imported from the zip, every run recompiled them: a live
# `doctor -n NS` took 1.8 s up to its first request, 0.6 s unpacked): "core" (the plugin, and what `version`,
# offline `doctor -f` and the probes import; about 3 MB) and "live" (kubernetes' client
# and pydantic with the compiled pydantic_core: a live cluster only; about 45 MB).
CORE = frozenset({"kubectl_pullsecret", "yaml", "tabulate", "requests", "urllib3", "idna", "charset_normalizer",
                  "certifi"})
LAZY = "_lazy"
# pure-Python wheels and the Python parts of the others come from this one tag set
COMMON = ("manylinux2014_x86_64", "3.11")


@dataclass(frozen=True)
class Platform:
    os: str
    arch: str
    pip: str  # pip download --platform

    @property
    def key(self) -> str:
        return f"{self.os}-{self.arch}"


PLATFORMS = {p.key: p for p in (
    Platform("linux", "amd64", "manylinux2014_x86_64"),
    Platform("linux", "arm64", "manylinux2014_aarch64"),
    Platform("darwin", "amd64", "macosx_10_12_x86_64"),
    Platform("darwin", "arm64", "macosx_11_0_arm64"),
)}
# Files of the vendored libraries left out: tests, type stubs, compiled code with a
# Python fallback, and kubernetes' asyncio client (it needs aiohttp, not vendored).
SKIP = re.compile(r"(^|/)(__pycache__|tests?|e2e_test)(/|$)|_test\.py$|\.(pyi|pyc|so|pyd|dylib|dll|c|h|pyx|pxd)$"
                  r"|^kubernetes/aio/|^_yaml/")
DIST_INFO_KEEP = re.compile(r"\.dist-info/(METADATA|licenses/.*|LICEN[CS]E.*|COPYING.*|NOTICE.*|AUTHORS.*)$")


def version() -> str:
    text = (ROOT / PACKAGE / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    if not match:
        raise SystemExit("error: no __version__ in kubectl_pullsecret/__init__.py")
    return match.group(1)


def locked() -> list[str]:
    return [line.split("#", 1)[0].strip() for line in LOCK.read_text().splitlines()
            if line.split("#", 1)[0].strip()]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def download(specs: Iterable[str], cache: Path, platform: str, python: str, fetch: bool = True) -> list[Path]:
    """The wheels of `specs` (name==version) for one platform and CPython version, from
    `cache`, or else from the package index (pip download into `cache`; `fetch` False:
    the cache only)."""
    specs = list(specs)
    dest = cache / platform / python
    dest.mkdir(parents=True, exist_ok=True)
    abi = "cp" + python.replace(".", "")
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
           "--only-binary=:all:", "--platform", platform, "--python-version", python, "--implementation", "cp",
           "--abi", abi, "--abi", "abi3", "--abi", "none", "-d", str(dest), *specs]
    wheels = []
    for spec in specs:
        name, _, ver = spec.partition("==")
        found = sorted(p for p in dest.glob("*.whl") if _norm(p.name.split("-")[0]) == _norm(name)
                       and p.name.split("-")[1] == ver)
        if not found:
            break
        wheels.append(found[0])
    else:
        return wheels
    if not fetch:
        raise SystemExit(f"error: pip downloaded no wheel for {spec} ({platform}, python {python}) into {dest}")
    env = dict(os.environ, PIP_CONSTRAINT="")  # pins come from the lock, not the machine's constraints
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"error: pip download for {platform} python {python} failed:\n{result.stderr.strip()}")
    return download(specs, cache, platform, python, fetch=False)


def wheel_files(wheel: Path, keep: re.Pattern[str] | None = None) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of the importable files of a wheel, its licence files and METADATA."""
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir() or ".data/" in name.split("/", 1)[0] + "/":
                continue
            if ".dist-info/" in name:
                if DIST_INFO_KEEP.search(name):
                    yield name, zf.read(info)
                continue
            if keep is not None:
                if keep.search(name):
                    yield name, zf.read(info)
            elif not SKIP.search(name):
                yield name, zf.read(info)


def package_files() -> Iterator[tuple[str, bytes]]:
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path.relative_to(ROOT).as_posix(), path.read_bytes()


@functools.cache
def _common_files(pure: tuple[str, ...], cache: Path) -> tuple[tuple[str, bytes], ...]:
    """The files of the pure-Python wheels: the same for every platform, read once a build."""
    return tuple(item for wheel in download(pure, cache, *COMMON) for item in wheel_files(wheel))


def zipapp(platform: Platform, cache: Path) -> bytes:
    """The single file for one platform: the shebang, then a zip."""
    specs = locked()
    pure = [s for s in specs if _norm(s.split("==")[0]) != NATIVE]
    native = [s for s in specs if _norm(s.split("==")[0]) == NATIVE]
    entries: dict[str, bytes] = {"__main__.py": MAIN.read_bytes()}
    groups: dict[str, dict[str, bytes]] = {"core": {}, "live": {}}

    def add(name: str, data: bytes) -> None:
        if ".dist-info/" in name:  # METADATA and licences stay at the root (importlib.metadata)
            entries[name] = data
            return
        group = "core" if name.split("/", 1)[0].removesuffix(".py") in CORE else "live"
        groups[group].setdefault(f"{LAZY}/{group}/{name}", data)

    for name, data in (*package_files(), *_common_files(tuple(pure), cache)):
        add(name, data)
    for python in PYTHONS:
        for wheel in download(native, cache, platform.pip, python):
            for name, data in wheel_files(wheel, re.compile(rf"^{NATIVE}/")):
                add(name, data)
    tops = {}
    for group, files in groups.items():
        entries.update(files)
        entries[f"{LAZY}/{group}/INDEX"] = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                                                   for name, data in sorted(files.items())).encode()
        tops[group] = sorted({n.split("/")[2].removesuffix(".py") for n in files})
    entries["_pullsecret_lazy.py"] = (
        f'"""Written by packaging/build.py: the top-level packages of each group under {LAZY}/."""\n'
        f"GROUPS = {{{', '.join(f'{g!r}: frozenset({t!r})' for g, t in tops.items())}}}\n").encode()
    buf = io.BytesIO()
    buf.write(SHEBANG)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[name], compresslevel=9)
    return buf.getvalue()


COMPLETE_SCRIPT = b"""#!/bin/sh
# kubectl's plugin completion (kubectl >= 1.26) runs kubectl_complete-pullsecret from PATH.
# Put this file next to kubectl-pullsecret on PATH (with krew: in ~/.krew/bin).
exec kubectl-pullsecret __complete "$@"
"""


def archive(single: bytes) -> bytes:
    """The krew archive: the single file, the completion helper and the licence."""
    members = [(NAME, single, 0o755), (COMPLETE, COMPLETE_SCRIPT, 0o755), ("LICENSE", LICENSE.read_bytes(), 0o644)]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, TAR_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def archive_name(ver: str, platform: Platform) -> str:
    return f"{NAME}-v{ver}-{platform.key}.tar.gz"


def manifest(ver: str, digests: dict[str, str]) -> str:
    """packaging/krew/pullsecret.yaml (krew's index format, apiVersion v1alpha2)."""
    lines = [
        "# Generated by packaging/build.py --all --krew from the archives it builds: do not edit.",
        "apiVersion: krew.googlecontainertools.github.com/v1alpha2",
        "kind: Plugin",
        "metadata:",
        "  name: pullsecret",
        "spec:",
        f"  version: v{ver}",
        f"  homepage: {HOMEPAGE}",
        "  shortDescription: Diagnose and repair image pull secrets",
        "  description: |",
        "    Tells, per pod and container, which credentials the kubelet will try for",
        "    each image, whether they really work against the registry (its real auth",
        "    flow, token servers included), and what is wrong with service accounts,",
        "    secrets, cross-namespace pulls, OpenShift's global pull secret and mirrors.",
        "    `kubectl pullsecret fix` applies the repair and checks again.",
        "  caveats: |",
        "    Needs python3 >= 3.11 on PATH.",
        "    Shell completion (kubectl >= 1.26): link the helper next to the plugin,",
        "      ln -s \"${KREW_ROOT:-$HOME/.krew}/store/pullsecret/" f"v{ver}/{COMPLETE}\" \\",
        f"        \"${{KREW_ROOT:-$HOME/.krew}}/bin/{COMPLETE}\"",
        "    Start with: kubectl pullsecret doctor -n NAMESPACE",
        "  platforms:",
    ]
    for key, platform in PLATFORMS.items():
        lines += [
            "  - selector:",
            "      matchLabels:",
            f"        os: {platform.os}",
            f"        arch: {platform.arch}",
            f"    uri: {HOMEPAGE}/releases/download/v{ver}/{archive_name(ver, platform)}",
            f"    sha256: {digests[key]}",
            "    files:",
            f"    - from: {NAME}",
            "      to: .",
            f"    - from: {COMPLETE}",
            "      to: .",
            "    - from: LICENSE",
            "      to: .",
            f"    bin: {NAME}",
        ]
    return "\n".join(lines) + "\n"


def host_platform() -> Platform | None:
    machine = os.uname().machine.lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return PLATFORMS.get(f"{sys.platform}-{arch}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORMS), help="target (repeatable; "
                        "default: this machine)")
    parser.add_argument("--all", action="store_true", help="every platform")
    parser.add_argument("--krew", action="store_true", help="also the krew archives and packaging/krew/pullsecret.yaml "
                        "(implies --all)")
    parser.add_argument("--check", action="store_true", help="with --krew: leave the manifest as it is, exit 1 if it "
                        "differs from the one these archives need")
    parser.add_argument("--out", default=str(ROOT / "dist"), help="output directory (default dist/)")
    parser.add_argument("--manifest", default=str(MANIFEST), help="where --krew writes the manifest (default "
                        "packaging/krew/pullsecret.yaml)")
    parser.add_argument("--cache", default=os.environ.get("PULLSECRET_WHEEL_CACHE",
                                                          str(Path.home() / ".cache" / "kubectl-pullsecret-build")),
                        help="where downloaded wheels are kept ($PULLSECRET_WHEEL_CACHE)")
    args = parser.parse_args(argv)
    host = host_platform()
    targets = list(PLATFORMS.values()) if args.all or args.krew else (
        [PLATFORMS[k] for k in args.platform] if args.platform else [host] if host else [])
    if not targets:
        parser.error(f"no build for this machine ({sys.platform} {os.uname().machine}): give --platform")
    out, cache, ver = Path(args.out), Path(args.cache), version()
    out.mkdir(parents=True, exist_ok=True)
    digests = {}
    for platform in targets:
        single = zipapp(platform, cache)
        names = [f"{NAME}-{platform.key}"] + ([NAME] if platform == host else [])
        for name in names:
            (out / name).write_bytes(single)
            (out / name).chmod(0o755)
        print(f"{out / names[-1]}  {len(single) / 2**20:.1f} MiB  sha256 {hashlib.sha256(single).hexdigest()}")
        if args.krew:
            tgz = archive(single)
            (out / archive_name(ver, platform)).write_bytes(tgz)
            digests[platform.key] = hashlib.sha256(tgz).hexdigest()
            print(f"{out / archive_name(ver, platform)}  sha256 {digests[platform.key]}")
    if args.krew:
        text, target = manifest(ver, digests), Path(args.manifest)
        if args.check:
            if not target.exists() or target.read_text() != text:
                print(f"{target} is stale: run python packaging/build.py --krew", file=sys.stderr)
                return 1
            print(f"{target} matches the archives")
        else:
            target.write_text(text)
            print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
