"""Running doctor in-process against the test registries, and building its inputs."""

from __future__ import annotations

import base64
import io
import json
import textwrap
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubectl_pullsecret.cli import main
from kubectl_pullsecret.probe_model import OUTCOMES


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def doc(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.out)
        return result

    def probe(self, image: str | None = None) -> dict[str, Any]:
        images = [i for i in self.doc["images"] if image is None or i["image"] == image]
        assert len(images) == 1, [i["image"] for i in self.doc["images"]]
        probe: dict[str, Any] = images[0]["probe"]
        assert probe is not None
        assert probe["outcome"] in OUTCOMES, probe  # SPEC's outcome names only
        for attempt in probe.get("attempts", []):
            assert attempt["outcome"] in OUTCOMES, probe
        return probe

    def checks(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for f in self.doc["findings"]:
            out.setdefault(f["check"], []).append(f)
        return out


def doctor(*args: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["doctor", *args])
    return Run(code, out.getvalue(), err.getvalue())


def auth(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def authfile(path: Path, entries: dict[str, dict[str, str]]) -> str:
    path.write_text(json.dumps({"auths": entries}))
    return str(path)


def pull_secret_yaml(name: str, entries: dict[str, dict[str, str]], namespace: str = "ns") -> str:
    data = base64.b64encode(json.dumps({"auths": entries}).encode()).decode()
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: Secret
        metadata: {{name: {name}, namespace: {namespace}}}
        type: kubernetes.io/dockerconfigjson
        data: {{.dockerconfigjson: {data}}}
        """)


def pod_yaml(name: str, image: str, secrets: list[str], namespace: str = "ns") -> str:
    refs = ", ".join(f"{{name: {s}}}" for s in secrets)
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: Pod
        metadata: {{name: {name}, namespace: {namespace}, creationTimestamp: "2026-01-01T00:00:00Z"}}
        spec:
          serviceAccountName: default
          imagePullSecrets: [{refs}]
          containers: [{{name: app, image: "{image}"}}]
        """)


def sa_yaml(namespace: str = "ns") -> str:
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: ServiceAccount
        metadata: {{name: default, namespace: {namespace}}}
        """)


def write_dump(path: Path, *docs: str) -> str:
    path.write_text("---\n".join(docs))
    return str(path)
