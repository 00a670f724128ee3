"""`__main__` of the single-file kubectl-pullsecret (a zipapp built by packaging/build.py).

The packages lie under `_lazy/` in two groups: `core` (the plugin, and what
`version`, offline `doctor -f` and the registry probes import) and `live` (kubernetes'
client and pydantic, with pydantic_core, a compiled library no zip import can load,
carried for each supported CPython version of one platform). On the first import of a
group's package, the group's files for this interpreter are unpacked once into
`$XDG_CACHE_HOME/kubectl-pullsecret/<group>-<digest>` (a private 0700 directory) and
imported from there, where Python caches their bytecode as for an installed package.
Without a usable cache, `core` is imported from the zip itself and `live` from a
per-run temporary directory.

Run as `kubectl_complete-pullsecret` (a link or copy of the file with that name), it
answers kubectl's shell completion.
"""

import sys

if sys.version_info < (3, 11):  # noqa: UP036 - the one check an old python3 must be able to run
    sys.stderr.write("error: kubectl-pullsecret needs python3 >= 3.11 (this is %d.%d)\n"  # noqa: UP031
                     % sys.version_info[:2])
    raise SystemExit(3)

import atexit
import hashlib
import importlib.abc
import importlib.machinery
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

LAZY = "_lazy/"  # then the group, then its files and INDEX ("sha256  path" per file)
NATIVE = "pydantic_core"


def _cache_root() -> str | None:
    """A directory of ours only: created 0700, owned by this user, not writable by others."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    root = os.path.join(base, "kubectl-pullsecret")
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
        st = os.stat(root)
    except OSError:
        return None
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        return None
    return root


class LazyFinder(importlib.abc.MetaPathFinder):
    def __init__(self, archive: str, groups: dict[str, frozenset[str]]) -> None:
        self.archive = archive
        self.owner = {name: group for group, names in groups.items() for name in names}
        self.placed: dict[str, str] = {}  # group -> where its packages are imported from

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        group = self.owner.get(fullname)  # top-level names: submodules follow their package's __path__
        if group is None:
            return None
        where = self.placed.get(group)
        if where is None:
            where = self.unpack(group) or os.path.join(self.archive, LAZY + group)  # the zip itself
            self.placed[group] = where
            sys.path.append(where)
        return importlib.machinery.PathFinder.find_spec(fullname, [where])

    def unpack(self, group: str) -> str | None:
        prefix = LAZY + group + "/"
        with zipfile.ZipFile(self.archive) as zf:
            index = zf.read(prefix + "INDEX")
            names = [line.split("  ", 1)[1] for line in index.decode().splitlines() if line]
            suffixes = importlib.machinery.EXTENSION_SUFFIXES

            def tag(name: str) -> str:  # "_pydantic_core.cpython-312-darwin.so" -> ".cpython-312-darwin.so"
                base = os.path.basename(name)
                return base[base.index("."):]

            native = [n for n in names if n.endswith((".so", ".pyd"))]
            if native and not any(tag(n) in suffixes for n in native):
                raise ImportError(
                    f"this kubectl-pullsecret file has no {NATIVE} for this python3 ({suffixes[0]}); it has "
                    + ", ".join(sorted({tag(n) for n in native}))
                    + " (take the file for this platform, or: pip install kubectl-pullsecret)")
            wanted = [n for n in names if n not in native or tag(n) in suffixes]
            root = _cache_root()
            if root is None and not native:
                return None
            final = os.path.join(root, f"{group}-{hashlib.sha256(index).hexdigest()[:16]}") if root else None
            if final and os.path.isdir(final):
                return final
            work = tempfile.mkdtemp(prefix=group + "-", dir=root)
            for name in wanted:
                dest = os.path.join(work, name[len(prefix):])
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with zf.open(name) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
        if final is None:
            atexit.register(shutil.rmtree, work, True)
            return work
        try:
            os.rename(work, final)
        except OSError:  # another run unpacked it first
            shutil.rmtree(work, ignore_errors=True)
        return final


def main() -> int:
    archive = os.path.dirname(os.path.abspath(__file__))
    if zipfile.is_zipfile(archive):
        from _pullsecret_lazy import GROUPS  # type: ignore[import-not-found]  # written by the build

        sys.meta_path.insert(0, LazyFinder(archive, GROUPS))
    if os.path.basename(sys.argv[0]).startswith("kubectl_complete-"):
        sys.argv[1:1] = ["__complete"]
    from kubectl_pullsecret.cli import main as cli_main

    return cli_main()


raise SystemExit(main())
