"""Hand-edited or corrupted input never crashes doctor: objects a real API server could
not have returned are skipped with a note naming the field, and the rest is diagnosed."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_pullsecret import doctor
from kubectl_pullsecret.errors import PullsecretError
from kubectl_pullsecret.render import FORMATS, render
from kubectl_pullsecret.snapshot import SHAPES, load_files, shape_problem

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("kind", "obj", "problem"), [
    pytest.param("Pod", {"metadata": {"name": "a", "ownerReferences": "x"}}, "metadata.ownerReferences must be a list",
                 id="owner-refs-string"),
    pytest.param("Pod", {"metadata": {"name": "a"}, "spec": {"containers": [{"image": 42}]}},
                 "spec.containers[0].image must be a string", id="image-number"),
    pytest.param("Pod", {"metadata": {"name": "a"}, "spec": {"imagePullSecrets": ["regcred"]}},
                 "spec.imagePullSecrets[0] must be an object", id="pull-secret-as-string"),
    pytest.param("Pod", {"metadata": {"name": "a", "labels": {"app": 1}}}, "metadata.labels.app must be a string",
                 id="label-number"),
    pytest.param("Secret", {"metadata": {"name": "s"}, "data": ["x"]}, "data must be a map", id="data-list"),
    pytest.param("ServiceAccount", {"metadata": {"name": "d"}, "imagePullSecrets": {"name": "x"}},
                 "imagePullSecrets must be a list", id="sa-refs-object"),
    pytest.param("CronJob", {"metadata": {"name": "c"}, "spec": {"jobTemplate": "x"}},
                 "spec.jobTemplate must be an object", id="cronjob-template"),
    pytest.param("Pod", {"metadata": {"name": "a", "ownerReferences": [{"controller": "yes"}]}},
                 "metadata.ownerReferences[0].controller must be a boolean", id="controller-string"),
    pytest.param("Event", {"metadata": {"name": "e"}, "series": {"count": "many"}, "message": "m"}, None,
                 id="count-string-is-fine"),
    pytest.param("Pod", {"metadata": {"name": "a", "resourceVersion": 12}, "spec": None}, None, id="nulls-are-absent"),
])
def test_shape_problem(kind: str, obj: dict[str, Any], problem: str | None) -> None:
    assert shape_problem(obj, SHAPES[kind]) == problem


def test_skipped_objects_are_named_and_the_rest_is_diagnosed(tmp_path: Path) -> None:
    good = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ok", "namespace": "x", "uid": "1"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    bad = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad", "namespace": "x"},
           "spec": {"containers": "nginx"}}
    path = tmp_path / "in.yaml"
    path.write_text(yaml.safe_dump_all([good, bad]))
    snap = load_files([str(path)])
    assert [o["metadata"]["name"] for o in snap.of("Pod")] == ["ok"]
    assert snap.warnings == (f"skipped Pod x/bad in {path}: spec.containers must be a list "
                             "(not what the API server returns)",)
    report = doctor.run(doctor.Options(files=[str(path)], probe=False))
    assert [f.check for f in report.findings] == ["dockerhub-anonymous"]
    assert any("skipped Pod x/bad" in n for n in report.notes)
    assert "Note: skipped Pod x/bad" in render(report, "table")


def _example_objects() -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for path in sorted(ROOT.joinpath("examples").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict):
                kind = doc.get("kind", "")
                for item in doc.get("items", [doc]) if kind.endswith("List") else [doc]:
                    if kind.endswith("List") and kind != "List":
                        item = {**item, "kind": kind[:-4]}
                    objs.append(item)
    return objs


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


def test_mutated_examples_never_crash(tmp_path: Path) -> None:
    """150 seeded mutations of the bundled examples: one field of one object replaced by
    a value of another JSON type. doctor must finish (or fail with its own error) in
    every output format."""
    objs = _example_objects()
    rng = random.Random(20261128)
    replacements: list[Any] = [None, 7, "x", [], {}, True, [1, "a"], {"k": 1}]
    path = tmp_path / "mutated.json"
    for _ in range(150):
        mutated = copy.deepcopy(objs)
        target = rng.choice(mutated)
        where = rng.choice(_paths(target))
        node = target
        for step in where[:-1]:
            node = node[step]
        node[where[-1]] = rng.choice(replacements)
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": mutated}))
        try:
            report = doctor.run(doctor.Options(files=[str(path)], probe=False))
        except PullsecretError:
            continue
        for fmt in FORMATS:
            assert render(report, fmt)


@pytest.mark.parametrize("name", ["deep.yaml", "deep.json"])
def test_absurd_nesting_is_a_clear_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("[" * 50000 + "]" * 50000)
    with pytest.raises(PullsecretError) as exc:
        load_files([str(path)])
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)
