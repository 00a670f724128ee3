"""Probe scheduling: each distinct (registry, repository, reference, credential)
probed once per run, concurrently, on a bounded pool; chains follow the kubelet's
order (probe_model.py decides what to probe; registry.py makes the requests)."""

from __future__ import annotations

import functools
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from kubectl_pullsecret.probe_model import Attempt, ChainSpec, ImageProbe, Login, LoginSpec, Result
from kubectl_pullsecret.registry import Client, Memo, Settings

if TYPE_CHECKING:
    from kubectl_pullsecret.progress import Show

log = logging.getLogger(__name__)

POOL_SIZE = 16  # concurrent probes (distinct registries are probed side by side)
_T = TypeVar("_T")


@dataclass
class Prober:
    """One per run. Results are shared by every pod, container and secret entry."""

    settings: Settings
    pool_size: int = POOL_SIZE
    progress: Show | None = None  # the progress line (-A, --from-nodes on a terminal)
    client: Client = field(init=False)
    _attempts: Memo = field(default_factory=Memo)

    def __post_init__(self) -> None:
        self.client = Client(self.settings)

    def _attempt(self, spec: ChainSpec, login: Login) -> Result:
        key = (spec.registry, spec.repository, spec.ref, login)
        result: Result = self._attempts.get(
            key, lambda: self.client.probe_image(spec.registry, spec.repository, spec.ref, login))
        return result

    def _chain(self, spec: ChainSpec) -> ImageProbe:
        attempts: list[Attempt] = []
        for index, login in spec.logins:
            result = self._attempt(spec, login)
            attempts.append(Attempt(index, result))
            if result.outcome == "ok":
                break
        return ImageProbe(tuple(attempts))

    def _budget(self, longest: int, count: int) -> float:
        # Every request is bounded by the timeout; this guard only catches what no socket
        # timeout covers (a resolver that never answers). A chain makes at most ~5
        # requests per credential (ping over two schemes, token, HEAD, GET).
        waves = math.ceil(count / max(1, self.pool_size))
        return self.settings.timeout * (5 * max(1, longest) + 2) * max(1, waves) + 1.0

    def _tell(self, template: str) -> Callable[[int, int], None] | None:
        show = self.progress
        if show is None:
            return None
        return lambda done, total: show(template.format(done=done, total=total), final=done == total)

    def probe_images(self, specs: Iterable[ChainSpec]) -> dict[ChainSpec, ImageProbe]:
        unique = _round_robin(list(dict.fromkeys(specs)))
        longest = max((len(s.logins) for s in unique), default=1)
        tasks: list[Callable[[], ImageProbe]] = [functools.partial(self._chain, s) for s in unique]
        results = _run_pool(tasks, self.pool_size, self._budget(longest, len(unique)),
                            self._tell("probing registries: {done}/{total} image credential chains"))
        out: dict[ChainSpec, ImageProbe] = {}
        for spec, result in zip(unique, results, strict=True):
            out[spec] = result if result is not None else ImageProbe((Attempt(None, Result(
                "unreachable", spec.registry, f"no answer from {spec.registry} within the probe budget (DNS or "
                "connection stuck)")),))
        return out

    def probe_logins(self, specs: Iterable[LoginSpec]) -> dict[LoginSpec, Result]:
        unique = list(dict.fromkeys(specs))
        tasks: list[Callable[[], Result]] = [functools.partial(self.client.probe_login, s.registry, s.login)
                                             for s in unique]
        results = _run_pool(tasks, self.pool_size, self._budget(1, len(unique)),
                            self._tell("probing registries: {done}/{total} secret logins"))
        return {spec: r if r is not None else Result("unreachable", spec.registry, "no answer within the probe budget")
                for spec, r in zip(unique, results, strict=True)}


def _round_robin(specs: list[ChainSpec]) -> list[ChainSpec]:
    """Interleave registries: the first wave of the pool then covers as many distinct
    registries as it can (a thread waiting for another's ping of the same registry
    holds a pool slot without doing anything)."""
    by_registry: dict[str, list[ChainSpec]] = {}
    for spec in specs:
        by_registry.setdefault(spec.registry, []).append(spec)
    out: list[ChainSpec] = []
    queues = list(by_registry.values())
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out


def _run_pool(tasks: Sequence[Callable[[], _T]], size: int, budget: float,
              on_done: Callable[[int, int], None] | None = None) -> list[_T | None]:
    """Run tasks on at most `size` daemon threads; wait at most `budget` seconds. A task
    still running then is abandoned (None): daemon threads never hold the process.
    `on_done(finished, total)` follows each finished task."""
    if not tasks:
        return []
    results: list[_T | None] = [None] * len(tasks)
    errors: list[BaseException] = []
    work: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(tasks)):
        work.put(i)
    remaining = [len(tasks)]
    done = threading.Condition()

    def worker() -> None:
        while True:
            try:
                i = work.get_nowait()
            except queue.Empty:
                return
            try:
                results[i] = tasks[i]()
            except BaseException as exc:  # noqa: BLE001 - re-raised on the calling thread
                errors.append(exc)
            with done:
                remaining[0] -= 1
                done.notify_all()
                if on_done is not None:
                    on_done(len(tasks) - remaining[0], len(tasks))

    for n in range(min(size, len(tasks))):
        threading.Thread(target=worker, name=f"probe-{n}", daemon=True).start()
    deadline = time.monotonic() + budget
    with done:
        while remaining[0] > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("%d probe(s) did not finish within %.0fs; reported as unreachable", remaining[0], budget)
                break
            done.wait(left)
    if errors:
        raise errors[0]
    return list(results)
