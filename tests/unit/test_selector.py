"""Label selectors (parse_selector, selector_matches) and Target.parse."""

from __future__ import annotations

import pytest

from kubectl_pullsecret.errors import UsageError
from kubectl_pullsecret.resolve import Target, parse_selector, selector_matches

LABELS = {"app": "web", "tier": "fe", "env": "prod", "app.kubernetes.io/name": "shop-web", "empty": ""}


# --- parse_selector ------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("k=v", [("k", "=", {"v"})]),
    ("k==v", [("k", "=", {"v"})]),
    ("k!=v", [("k", "!=", {"v"})]),
    ("k", [("k", "exists", set())]),
    ("!k", [("k", "!exists", set())]),
    ("k in (a,b)", [("k", "in", {"a", "b"})]),
    ("k in(a)", [("k", "in", {"a"})]),
    ("k notin (a)", [("k", "notin", {"a"})]),
    ("k=", [("k", "=", {""})]),
    ("app.kubernetes.io/name=shop-web", [("app.kubernetes.io/name", "=", {"shop-web"})]),
    ("version=v1.2_3", [("version", "=", {"v1.2_3"})]),
    (" k = v ", [("k", "=", {"v"})]),
    ("k in ( a , b )", [("k", "in", {"a", "b"})]),
    ("a=1,b!=2,c,!d", [("a", "=", {"1"}), ("b", "!=", {"2"}), ("c", "exists", set()), ("d", "!exists", set())]),
    ("a in (x,y),b notin (z),c==w", [("a", "in", {"x", "y"}), ("b", "notin", {"z"}), ("c", "=", {"w"})]),
    ("a in (x, y) , !b , c", [("a", "in", {"x", "y"}), ("b", "!exists", set()), ("c", "exists", set())]),
    ("", []),
    ("   ", []),
])
def test_parse_selector(text, expected):
    assert parse_selector(text) == [(k, op, frozenset(v)) for k, op, v in expected]


@pytest.mark.parametrize("text", [
    "k=v=w",
    "=v",
    "!",
    "!k=v",
    "!k in (a)",
    "k in a",
    "k in (a",
    "k in (a,b",
    "k notin",
    "k=(a)",
    "k=v w",
    "k v",
    "k:v",
    "k >< v",
    "k in (a) x",
    "a=b,",
    ",a=b",
    "a=b,,c=d",
    "k=v;j=w",
    "(k)",
])
def test_parse_selector_invalid_syntax_is_a_usage_error(text):
    with pytest.raises(UsageError) as exc:
        parse_selector(text)
    assert "\n" not in str(exc.value)
    assert str(exc.value).startswith("-l ")


@pytest.mark.parametrize("text", ["kin (a)", "tierin (fe)", "appnotin (web)"])
def test_operator_glued_to_key_is_a_usage_error(text):
    with pytest.raises(UsageError):
        parse_selector(text)


# --- selector_matches ----------------------------------------------------------

@pytest.mark.parametrize(("selector", "expected"), [
    ("app=web", True),
    ("app=api", False),
    ("app==web", True),
    ("app==api", False),
    ("app!=web", False),
    ("app!=api", True),
    ("missing!=x", True),  # != matches objects without the label
    ("missing=x", False),
    ("app", True),
    ("missing", False),
    ("!app", False),
    ("!missing", True),
    ("app in (web,api)", True),
    ("app in (api,db)", False),
    ("missing in (a)", False),
    ("app notin (api)", True),
    ("app notin (api,web)", False),
    ("missing notin (a)", True),  # notin matches objects without the label
    ("empty=", True),
    ("empty", True),
    ("empty=x", False),
    ("app.kubernetes.io/name=shop-web", True),
    ("app=web,tier=fe", True),
    ("app=web,tier=be", False),
    ("app=api,tier=fe", False),
    ("app in (web, api),!missing,env!=dev", True),
    ("app in (web, api),!env", False),
    ("  app = web ,  tier in ( fe , be ) ", True),
    ("app=web,tier,env notin (dev,test)", True),
    ("app=web,tier,env notin (dev,prod)", False),
    ("", True),
])
def test_selector_matches(selector, expected):
    assert selector_matches(parse_selector(selector), LABELS) is expected


def test_selector_matches_empty_labels():
    assert selector_matches(parse_selector("!app,x!=y,z notin (a)"), {}) is True
    assert selector_matches(parse_selector("app"), {}) is False
    assert selector_matches(parse_selector("app in (a)"), {}) is False


# --- Target.parse --------------------------------------------------------------

@pytest.mark.parametrize(("text", "kind", "name"), [
    ("pod/x", "Pod", "x"),
    ("po/x", "Pod", "x"),
    ("pods/x", "Pod", "x"),
    ("Pod/x", "Pod", "x"),
    ("pod/web-7c9d8f6b5-x2lqp", "Pod", "web-7c9d8f6b5-x2lqp"),
    ("deploy/x", "Deployment", "x"),
    ("deployment/x", "Deployment", "x"),
    ("deployments/x", "Deployment", "x"),
    ("deployment.apps/x", "Deployment", "x"),
    ("deployments.v1.apps/x", "Deployment", "x"),
    ("sts/x", "StatefulSet", "x"),
    ("statefulset.apps/x", "StatefulSet", "x"),
    ("ds/x", "DaemonSet", "x"),
    ("rs/x", "ReplicaSet", "x"),
    ("rc/x", "ReplicationController", "x"),
    ("job/x", "Job", "x"),
    ("jobs.batch/x", "Job", "x"),
    ("cj/x", "CronJob", "x"),
    ("cronjob/x", "CronJob", "x"),
    ("dc/x", "DeploymentConfig", "x"),
    ("deploymentconfig.apps.openshift.io/x", "DeploymentConfig", "x"),
    ("sa/x", "ServiceAccount", "x"),
    ("serviceaccount/x", "ServiceAccount", "x"),
    ("serviceaccounts/builder", "ServiceAccount", "builder"),
    ("secret/regcred", "Secret", "regcred"),
    ("secrets/x.y", "Secret", "x.y"),
])
def test_target_parse(text, kind, name):
    assert Target.parse(text) == Target(kind, name)


@pytest.mark.parametrize("text", [
    "x",
    "foo/x",
    "pod/",
    "pod/a/b",
    "/x",
    "/",
    "",
    "pod//x",
    "svc/x",
    "configmap/x",
    "node/x",
    "pod x",
])
def test_target_parse_invalid_is_a_usage_error(text):
    with pytest.raises(UsageError) as exc:
        Target.parse(text)
    assert repr(text) in str(exc.value)
    assert "\n" not in str(exc.value)
