"""`__main__` of the single-file kubectl-pullsecret (a zipapp built by packaging/build.py).

What `version`, offline `doctor -f` and the registry probes need is imported from the
file itself (zipimport). What only a live cluster needs — kubernetes' client and
pydantic, with pydantic_core, a compiled library no zip import can load, carried for
each supported CPython version of one platform — lies under `_lazy/`: on the first
import of one of those packages, the files for this interpreter are unpacked once into
`$XDG_CACHE_HOME/kubectl-pullsecret/lazy-<digest>` (a private 0700 directory; a per-run
temporary one when there is no usable cache) and imported from there, where Python
caches their bytecode as for an installed package.

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

LAZY = "_lazy/"
INDEX = LAZY + "INDEX"  # "sha256  path" per file, written by the build
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
    def __init__(self, archive: str, names: frozenset[str]) -> None:
        self.archive = archive
        self.names = names

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname not in self.names:
            return None
        where = self.unpack()
        sys.meta_path.remove(self)
        sys.path.append(where)
        return importlib.machinery.PathFinder.find_spec(fullname, [where])

    def unpack(self) -> str:
        with zipfile.ZipFile(self.archive) as zf:
            index = zf.read(INDEX)
            names = [line.split("  ", 1)[1] for line in index.decode().splitlines() if line]
            suffixes = importlib.machinery.EXTENSION_SUFFIXES

            def tag(name: str) -> str:  # "_pydantic_core.cpython-312-darwin.so" -> ".cpython-312-darwin.so"
                base = os.path.basename(name)
                return base[base.index("."):]

            native = [n for n in names if n.endswith((".so", ".pyd"))]
            if not any(tag(n) in suffixes for n in native):
                raise ImportError(
                    f"this kubectl-pullsecret file has no {NATIVE} for this python3 ({suffixes[0]}); it has "
                    + ", ".join(sorted({tag(n) for n in native}))
                    + " (take the file for this platform, or: pip install kubectl-pullsecret)")
            wanted = [n for n in names if n not in native or tag(n) in suffixes]
            root = _cache_root()
            final = os.path.join(root, "lazy-" + hashlib.sha256(index).hexdigest()[:16]) if root else None
            if final and os.path.isdir(final):
                return final
            work = tempfile.mkdtemp(prefix="lazy-", dir=root)
            for name in wanted:
                dest = os.path.join(work, name[len(LAZY):])
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
        from _pullsecret_lazy import NAMES  # type: ignore[import-not-found]  # written by the build

        sys.meta_path.insert(0, LazyFinder(archive, NAMES))
    if os.path.basename(sys.argv[0]).startswith("kubectl_complete-"):
        sys.argv[1:1] = ["__complete"]
    from kubectl_pullsecret.cli import main as cli_main

    return cli_main()


raise SystemExit(main())
