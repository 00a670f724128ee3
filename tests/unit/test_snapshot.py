"""Offline loading (`-f`): kubectl_pullsecret.snapshot."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest

from kubectl_pullsecret.errors import SourceError, UsageError
from kubectl_pullsecret.snapshot import Snapshot, load_files, meta, secret_value


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def names(snap: Snapshot, kind: str) -> list[str]:
    return sorted(f"{meta(o).get('namespace') or ''}/{meta(o)['name']}" for o in snap.of(kind))


POD = """
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: shop
spec:
  containers:
  - name: web
    image: quay.io/acme/web:1.2
"""


# --- file shapes ---------------------------------------------------------------

def test_single_yaml_object(write):
    path = write("pod.yaml", POD)
    snap = load_files([str(path)])
    assert names(snap, "Pod") == ["shop/web-1"]
    pod = snap.get("Pod", "shop", "web-1")
    assert pod is not None
    assert pod["spec"]["containers"][0]["image"] == "quay.io/acme/web:1.2"
    assert snap.offline is True
    assert snap.inputs == (str(path),)
    assert snap.warnings == ()
    assert snap.namespaces() == ["shop"]


def test_multi_document_yaml_with_empty_documents(write):
    path = write("all.yaml", """
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: shop}
        ---
        ---
        # a comment-only document
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: default, namespace: shop}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: regcred, namespace: shop}
        type: kubernetes.io/dockerconfigjson
        ---
    """)
    snap = load_files([str(path)])
    assert names(snap, "Pod") == ["shop/a"]
    assert names(snap, "ServiceAccount") == ["shop/default"]
    assert names(snap, "Secret") == ["shop/regcred"]
    assert snap.warnings == ()


def test_kind_list_as_printed_by_kubectl_get(write):
    path = write("dump.yaml", """
        apiVersion: v1
        kind: List
        metadata:
          resourceVersion: ""
        items:
        - apiVersion: v1
          kind: Pod
          metadata: {name: a, namespace: ns1}
        - apiVersion: v1
          kind: Pod
          metadata: {name: b, namespace: ns2}
        - apiVersion: v1
          kind: ServiceAccount
          metadata: {name: default, namespace: ns1}
        - apiVersion: apps/v1
          kind: Deployment
          metadata: {name: web, namespace: ns1}
    """)
    snap = load_files([str(path)])
    assert names(snap, "Pod") == ["ns1/a", "ns2/b"]
    assert names(snap, "ServiceAccount") == ["ns1/default"]
    assert names(snap, "Deployment") == ["ns1/web"]
    assert "List" not in snap.objects
    assert snap.namespaces() == ["ns1", "ns2"]


def test_typed_lists_give_their_items_the_kind(write):
    path = write("raw.yaml", """
        apiVersion: v1
        kind: PodList
        metadata: {resourceVersion: "77"}
        items:
        - metadata: {name: a, namespace: shop}
          spec: {containers: [{name: c, image: nginx}]}
        - metadata: {name: b, namespace: shop}
        ---
        apiVersion: v1
        kind: SecretList
        items:
        - metadata: {name: regcred, namespace: shop}
          type: kubernetes.io/dockerconfigjson
        ---
        apiVersion: apps/v1
        kind: DeploymentList
        items:
        - metadata: {name: web, namespace: shop}
    """)
    snap = load_files([str(path)])
    assert names(snap, "Pod") == ["shop/a", "shop/b"]
    assert all(p["kind"] == "Pod" for p in snap.of("Pod"))
    assert names(snap, "Secret") == ["shop/regcred"]
    assert names(snap, "Deployment") == ["shop/web"]
    assert not any(k.endswith("List") for k in snap.objects)


def test_json_files(write):
    listing = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "shop"}},
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "shop"},
             "type": "Opaque", "data": {"k": b64("v")}},
        ],
    }
    single = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder", "namespace": "shop"}}
    p1 = write("list.json", json.dumps(listing, indent=2))
    p2 = write("sa.json", json.dumps(single))
    snap = load_files([str(p1), str(p2)])
    assert names(snap, "Pod") == ["shop/a"]
    assert names(snap, "Secret") == ["shop/s"]
    assert names(snap, "ServiceAccount") == ["shop/builder"]
    assert secret_value(snap.of("Secret")[0], "k") == b"v"
    assert snap.inputs == (str(p1), str(p2))


def test_directory_is_walked_recursively_reading_only_yaml_yml_json(write, tmp_path):
    root = "must-gather/quay-io-must-gather-sha256-abc"
    read = [
        write(f"{root}/cluster-scoped-resources/config.openshift.io/clusterversions.yaml", """
            apiVersion: config.openshift.io/v1
            kind: ClusterVersion
            metadata: {name: version}
        """),
        write(f"{root}/namespaces/shop/shop.yaml", """
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop}
        """),
        write(f"{root}/namespaces/shop/core/pods.yaml", """
            apiVersion: v1
            kind: PodList
            items:
            - metadata: {name: web-1, namespace: shop}
        """),
        write(f"{root}/namespaces/shop/core/secrets.yml", """
            apiVersion: v1
            kind: SecretList
            items:
            - metadata: {name: regcred, namespace: shop}
        """),
        write(f"{root}/namespaces/shop/core/serviceaccounts.json", json.dumps(
            {"kind": "ServiceAccountList", "items": [{"metadata": {"name": "default", "namespace": "shop"}}]})),
    ]
    # Same valid content, but names that must not be read.
    ignored_pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: must-not-load, namespace: shop}\n"
    write(f"{root}/timestamp", ignored_pod)
    write(f"{root}/namespaces/shop/core/pods.txt", ignored_pod)
    write(f"{root}/namespaces/shop/core/pods.yaml.bak", ignored_pod)
    write(f"{root}/namespaces/shop/pods/web-1/web/web/logs/current.log", ignored_pod)
    write(f"{root}/namespaces/shop/core/pods.yaml.gz", b"\x1f\x8b\x08\x00\x00garbage\x00\xff")

    snap = load_files([str(tmp_path / "must-gather")])
    assert names(snap, "Pod") == ["shop/web-1"]
    assert names(snap, "Secret") == ["shop/regcred"]
    assert names(snap, "ServiceAccount") == ["shop/default"]
    assert names(snap, "Namespace") == ["/shop"]
    assert names(snap, "ClusterVersion") == ["/version"]
    assert sorted(snap.inputs) == sorted(str(p) for p in read)
    assert snap.warnings == ()


def test_stdin_dash_reads_the_given_stream(write):
    stream = io.StringIO("apiVersion: v1\nkind: Pod\nmetadata: {name: from-stdin, namespace: shop}\n")
    path = write("sa.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default, namespace: shop}\n")
    snap = load_files([str(path), "-"], stdin=stream)
    assert names(snap, "Pod") == ["shop/from-stdin"]
    assert names(snap, "ServiceAccount") == ["shop/default"]
    assert snap.inputs == (str(path), "-")


def test_stdin_dash_with_malformed_input_names_stdin():
    with pytest.raises(SourceError) as exc:
        load_files(["-"], stdin=io.StringIO("kind: Pod\nmetadata: [unclosed\n"))
    assert "<stdin>" in str(exc.value)


@pytest.mark.parametrize("order", [("5", "12", "7"), ("12", "7", "5"), ("7", "5", "12")])
def test_duplicates_keep_the_highest_resource_version(write, order):
    docs = [f"""
apiVersion: v1
kind: Secret
metadata: {{name: regcred, namespace: shop, resourceVersion: "{rv}"}}
data: {{rv: {b64(rv)}}}
""" for rv in order]
    # The first two in one multi-document file, the last in a second file.
    p1 = write("a.yaml", "---".join(docs[:2]))
    p2 = write("b.yaml", docs[2])
    snap = load_files([str(p1), str(p2)])
    secrets = snap.of("Secret")
    assert len(secrets) == 1
    assert meta(secrets[0])["resourceVersion"] == "12"
    assert secret_value(secrets[0], "rv") == b"12"


def test_duplicate_without_resource_version_loses_to_one_with_it(write):
    p = write("a.yaml", f"""
        apiVersion: v1
        kind: Secret
        metadata: {{name: s, namespace: shop, resourceVersion: "3"}}
        data: {{which: {b64("versioned")}}}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {{name: s, namespace: shop}}
        data: {{which: {b64("hand-written")}}}
    """)
    snap = load_files([str(p)])
    assert secret_value(snap.of("Secret")[0], "which") == b"versioned"


def test_same_name_in_other_namespace_or_kind_is_not_a_duplicate(write):
    p = write("a.yaml", """
        {kind: Secret, apiVersion: v1, metadata: {name: x, namespace: a}}
        ---
        {kind: Secret, apiVersion: v1, metadata: {name: x, namespace: b}}
        ---
        {kind: ServiceAccount, apiVersion: v1, metadata: {name: x, namespace: a}}
    """)
    snap = load_files([str(p)])
    assert names(snap, "Secret") == ["a/x", "b/x"]
    assert names(snap, "ServiceAccount") == ["a/x"]


def test_non_kubernetes_yaml_and_unknown_kinds_are_ignored(write, tmp_path):
    write("d/docker-config.json", json.dumps({"auths": {"quay.io": {"auth": b64("u:p")}}}))
    write("d/values.yaml", """
        replicas: 3
        image:
          repository: quay.io/acme/web
    """)
    write("d/scalars.yaml", "just a string\n---\n42\n---\n- a\n- b\n")
    write("d/kustomization.yaml", "resources: [a.yaml]\nkind: Kustomization\n")
    write("d/other.yaml", """
        apiVersion: v1
        kind: Service
        metadata: {name: svc, namespace: shop}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: ing, namespace: shop}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: kept, namespace: shop}
    """)
    snap = load_files([str(tmp_path / "d")])
    assert set(snap.objects) == {"Pod"}
    assert names(snap, "Pod") == ["shop/kept"]
    assert snap.warnings == ()
    # Ignored kinds do not make their namespace "covered" either.
    assert not snap.covers("ConfigMap", "shop")


def test_string_data_is_merged_into_data_base64_encoded(write):
    p = write("s.yaml", f"""
        apiVersion: v1
        kind: Secret
        metadata: {{name: regcred, namespace: shop}}
        type: kubernetes.io/dockerconfigjson
        data:
          overridden: {b64("old")}
          kept: {b64("keep me")}
        stringData:
          overridden: new
          .dockerconfigjson: '{{"auths": {{"quay.io": {{"auth": "dTpw"}}}}}}'
          unicode: pässwörd
    """)
    secret = load_files([str(p)]).get("Secret", "shop", "regcred")
    assert secret is not None
    assert "stringData" not in secret
    assert set(secret["data"]) == {"overridden", "kept", ".dockerconfigjson", "unicode"}
    assert secret["data"]["overridden"] == b64("new")
    assert secret["data"]["kept"] == b64("keep me")
    assert secret_value(secret, "unicode") == "pässwörd".encode()
    assert json.loads(secret_value(secret, ".dockerconfigjson") or b"") == {"auths": {"quay.io": {"auth": "dTpw"}}}


def test_string_data_only_secret_gets_data(write):
    p = write("s.yaml", """
        apiVersion: v1
        kind: Secret
        metadata: {name: s, namespace: shop}
        stringData: {token: abc}
    """)
    secret = load_files([str(p)]).get("Secret", "shop", "s")
    assert secret is not None
    assert secret["data"] == {"token": b64("abc")}


def test_events_k8s_io_v1_events_are_normalised(write):
    p = write("events.yaml", """
        apiVersion: events.k8s.io/v1
        kind: EventList
        items:
        - metadata: {name: web-1.1, namespace: shop}
          regarding: {kind: Pod, name: web-1, namespace: shop, fieldPath: "spec.containers{web}"}
          note: 'Failed to pull image "quay.io/acme/web:1.2": unauthorized'
          reason: Failed
          type: Warning
          eventTime: "2026-11-27T14:02:11.000000Z"
          series: {count: 6, lastObservedTime: "2026-11-27T14:09:11.000000Z"}
        ---
        apiVersion: v1
        kind: Event
        metadata: {name: web-1.2, namespace: shop}
        involvedObject: {kind: Pod, name: web-1, namespace: shop}
        message: Back-off pulling image "quay.io/acme/web:1.2"
        reason: BackOff
        count: 40
    """)
    snap = load_files([str(p)])
    new = snap.get("Event", "shop", "web-1.1")
    assert new is not None
    assert new["involvedObject"] == {"kind": "Pod", "name": "web-1", "namespace": "shop",
                                     "fieldPath": "spec.containers{web}"}
    assert new["message"] == 'Failed to pull image "quay.io/acme/web:1.2": unauthorized'
    assert new["count"] == 6
    assert new["lastTimestamp"] == "2026-11-27T14:02:11.000000Z"
    core = snap.get("Event", "shop", "web-1.2")
    assert core is not None
    assert core["involvedObject"]["name"] == "web-1"
    assert core["message"].startswith("Back-off")
    assert core["count"] == 40


def test_events_k8s_io_event_without_series_counts_once(write):
    p = write("e.yaml", """
        apiVersion: events.k8s.io/v1
        kind: Event
        metadata: {name: e, namespace: shop}
        regarding: {kind: Pod, name: p, namespace: shop}
        note: hello
    """)
    event = load_files([str(p)]).get("Event", "shop", "e")
    assert event is not None
    assert (event["involvedObject"]["name"], event["message"], event["count"]) == ("p", "hello", 1)


# --- errors --------------------------------------------------------------------

@pytest.mark.parametrize(("name", "content", "line"), [
    ("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x\n  namespace: [a, b\n", 4),
    ("bad.yaml", "apiVersion: v1\nkind: Pod\n  metadata: oops\n", 3),
    ("bad.yml", "a: 1\nb:\n\t- tab-indented\n", 3),
    ("bad.json", '{\n  "kind": "Pod",\n  "metadata": {"name": "x",,}\n}\n', 3),
], ids=["unclosed-flow", "bad-indent", "tab", "json-double-comma"])
def test_explicit_malformed_file_raises_source_error_naming_file_and_line(write, name, content, line):
    path = write(name, content)
    with pytest.raises(SourceError) as exc:
        load_files([str(path)])
    message = str(exc.value)
    assert "\n" not in message
    assert str(path) in message
    assert f"line {line}" in message


def test_explicit_file_with_control_character_names_the_line(write):
    path = write("ctl.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: \x1b[0mweb}\n")
    with pytest.raises(SourceError) as exc:
        load_files([str(path)])
    assert str(path) in str(exc.value)
    assert "line 3" in str(exc.value)


def test_malformed_file_found_in_a_directory_is_skipped_with_a_warning(write, tmp_path):
    write("dump/a-good.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: shop}\n")
    bad = write("dump/b-bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: [b\n")
    write("dump/sub/c-good.json", json.dumps({"kind": "Secret", "metadata": {"name": "s", "namespace": "shop"}}))
    snap = load_files([str(tmp_path / "dump")])
    assert names(snap, "Pod") == ["shop/a"]
    assert names(snap, "Secret") == ["shop/s"]
    assert len(snap.warnings) == 1
    warning = snap.warnings[0]
    assert str(bad) in warning
    assert "line " in warning
    assert "\n" not in warning
    assert str(bad) not in snap.inputs
    assert len(snap.inputs) == 2


def test_missing_path_raises_usage_error(write, tmp_path):
    good = write("ok.yaml", POD)
    missing = tmp_path / "nope" / "dump.yaml"
    with pytest.raises(UsageError) as exc:
        load_files([str(good), str(missing)])
    assert str(missing) in str(exc.value)


def test_empty_inputs_give_an_empty_snapshot(write, tmp_path):
    write("empty/empty.yaml", "")
    write("empty/empty.json", "")
    snap = load_files([str(tmp_path / "empty")])
    assert dict(snap.objects) == {}
    assert snap.namespaces() == []
    assert snap.warnings == ()


# --- covers() ------------------------------------------------------------------

def test_covers_a_kind_in_a_namespace_once_any_object_of_it_is_present(write):
    p = write("dump.yaml", """
        {kind: Secret, apiVersion: v1, metadata: {name: other, namespace: shop}}
        ---
        {kind: Pod, apiVersion: v1, metadata: {name: web, namespace: shop}}
        ---
        {kind: Pod, apiVersion: v1, metadata: {name: web, namespace: billing}}
    """)
    snap = load_files([str(p)])
    assert snap.covers("Secret", "shop")
    assert snap.get("Secret", "shop", "regcred") is None  # covered and absent: really missing
    assert not snap.covers("Secret", "billing")  # pods there, but no secrets: unknown
    assert not snap.covers("ServiceAccount", "shop")
    assert snap.covers("Pod", "shop") and snap.covers("Pod", "billing")
    assert not snap.covers("Pod", "default")


def test_covers_wildcard_namespace():
    snap = Snapshot(objects={}, covered=frozenset({("Secret", "*")}))
    assert snap.covers("Secret", "shop")
    assert snap.covers("Secret", "anything")
    assert not snap.covers("ServiceAccount", "shop")


def test_empty_snapshot_covers_nothing():
    assert not Snapshot(objects={}).covers("Secret", "default")


# --- secret_value() ------------------------------------------------------------

@pytest.mark.parametrize(("secret", "expected"), [
    ({"data": {"k": b64("hello")}}, b"hello"),
    ({"data": {"k": b64("x" * 100)[:60] + "\n" + b64("x" * 100)[60:]}}, b"x" * 100),  # wrapped base64
    ({"data": {"k": ""}}, None),
    ({"data": {"k": "   "}}, None),
    ({"data": {"k": None}}, None),
    ({"data": {"k": 12}}, None),
    ({"data": {}}, None),
    ({"data": {"other": b64("x")}}, None),
    ({"data": None}, None),
    ({"data": "not-a-map"}, None),
    ({}, None),
    ({"data": {"k": "REDACTED"}}, None),
    ({"data": {"k": "redacted"}}, None),
    ({"data": {"k": "<redacted>"}}, None),
    ({"data": {"k": "***"}}, None),
    ({"data": {"k": "<hidden>"}}, None),
    ({"data": {"k": "not base64!"}}, None),
    ({"data": {"k": "YWJj$"}}, None),
    ({"data": {"k": "YWJjZA"}}, None),  # missing padding: Go's StdEncoding rejects it too
])
def test_secret_value(secret, expected):
    assert secret_value(secret, "k") == expected


# --- openshift detection -------------------------------------------------------

def _snap(*objs: dict) -> Snapshot:
    by_kind: dict[str, list[dict]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    return Snapshot(objects={k: tuple(v) for k, v in by_kind.items()})


PLAIN = (
    {"kind": "Pod", "metadata": {"name": "p", "namespace": "ns", "annotations": {"openshift.io/scc": "restricted"}}},
    {"kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "ns",
                                            "annotations": {"kubernetes.io/enforce-mountable-secrets": "true"}}},
    {"kind": "Secret", "metadata": {"name": "s", "namespace": "ns",
                                    "annotations": {"kubernetes.io/service-account.name": "default"}}},
    {"kind": "Namespace", "metadata": {"name": "ns", "annotations": {"scheduler.alpha.kubernetes.io/node-selector": ""}}},
    {"kind": "Deployment", "metadata": {"name": "d", "namespace": "ns"}},
)


def test_plain_kubernetes_is_not_openshift():
    assert _snap(*PLAIN).openshift is False
    assert Snapshot(objects={}).openshift is False


@pytest.mark.parametrize("signal", [
    {"kind": "DeploymentConfig", "metadata": {"name": "dc", "namespace": "ns"}},
    {"kind": "Image", "metadata": {"name": "sha256:abc"}},
    {"kind": "ClusterVersion", "metadata": {"name": "version"}},
    {"kind": "ClusterOperator", "metadata": {"name": "image-registry"}},
    {"kind": "ServiceAccount", "metadata": {"name": "builder", "namespace": "ns", "annotations": {
        "openshift.io/internal-registry-pull-secret-ref": "builder-dockercfg-x7k2p"}}},
    {"kind": "Secret", "metadata": {"name": "builder-dockercfg-x7k2p", "namespace": "ns", "annotations": {
        "openshift.io/internal-registry-auth-token.service-account": "builder"}}},
    {"kind": "Namespace", "metadata": {"name": "ns", "annotations": {"openshift.io/sa.scc.uid-range": "1000/10000"}}},
], ids=lambda o: o["kind"])
def test_openshift_signals(signal):
    assert _snap(*PLAIN, signal).openshift is True


def test_openshift_detected_from_loaded_must_gather(repo_root: Path):
    snap = load_files([str(repo_root / "examples" / "must-gather")])
    assert snap.openshift is True
    assert snap.warnings == ()


def test_a_replaced_snapshot_indexes_its_own_objects() -> None:
    """dataclasses.replace (live.with_access adds the access answers so) builds a new index:
    the copy's objects never show up in the original, nor the other way round."""
    import dataclasses

    def secret(name: str) -> dict[str, object]:
        return {"kind": "Secret", "metadata": {"name": name, "namespace": "a"}}

    first = Snapshot(objects={"Secret": (secret("one"),)})
    second = dataclasses.replace(first, objects={"Secret": (secret("two"),)}, access={("a", "default", "b"): True})
    assert first.get("Secret", "a", "one") is not None and first.get("Secret", "a", "two") is None
    assert second.get("Secret", "a", "two") is not None and second.get("Secret", "a", "one") is None
    same = dataclasses.replace(first, access={("a", "default", "b"): True})
    assert same.get("Secret", "a", "one") is first.get("Secret", "a", "one")
    assert same == dataclasses.replace(first, access={("a", "default", "b"): True})
