"""fixes/splice.py: one `auths` member replaced, inserted or deleted in the JSON text, every
other byte kept. Expected results are written out by hand, not computed by the module."""

from __future__ import annotations

import json

import pytest

from kubectl_pullsecret import dockerconfig
from kubectl_pullsecret.fixes import splice

NEW = {"auth": "bmV3Om5ldw=="}
NEW_TEXT = '{"auth":"bmV3Om5ldw=="}'

# (name, document, key, expected after set_member(key, NEW), expected after remove_member(key))
CASES = [
    ("compact, middle member",
     '{"auths":{"a.io":{"auth":"YTph"},"b.io":{"auth":"Yjpi"},"c.io":{"auth":"Yzpj"}}}', "b.io",
     '{"auths":{"a.io":{"auth":"YTph"},"b.io":' + NEW_TEXT + ',"c.io":{"auth":"Yzpj"}}}',
     '{"auths":{"a.io":{"auth":"YTph"},"c.io":{"auth":"Yzpj"}}}'),
    ("first member",
     '{"auths":{"a.io":{"auth":"YTph"},\n "b.io":{"auth":"Yjpi"}}}', "a.io",
     '{"auths":{"a.io":' + NEW_TEXT + ',\n "b.io":{"auth":"Yjpi"}}}',
     '{"auths":{"b.io":{"auth":"Yjpi"}}}'),
    ("last member, pretty printed",
     '{\n  "auths": {\n    "a.io": {\n      "auth": "YTph"\n    },\n    "b.io": {\n      "auth": "Yjpi"\n    }\n  }\n}\n',
     "b.io",
     '{\n  "auths": {\n    "a.io": {\n      "auth": "YTph"\n    },\n    "b.io": ' + NEW_TEXT + '\n  }\n}\n',
     '{\n  "auths": {\n    "a.io": {\n      "auth": "YTph"\n    }\n  }\n}\n'),
    ("only member",
     '{"auths":{\n\t"only.io" : { "auth" : "bzpv" }\n}}', "only.io",
     '{"auths":{\n\t"only.io" : ' + NEW_TEXT + '\n}}',
     '{"auths":{\n}}'),
    ("key with a port and a path, written with a unicode escape",
     '{"auths":{"reg.example.com:5000/team\\u002fx":{"auth":"dDp0"},"z.io":{}}}', "reg.example.com:5000/team/x",
     '{"auths":{"reg.example.com:5000/team\\u002fx":' + NEW_TEXT + ',"z.io":{}}}',
     '{"auths":{"z.io":{}}}'),
    ("nested objects and odd values in another entry",
     '{"auths":{"n.io":{"auth":"bjpu","x":{"y":[1,{"z":"}"}],"s":"a\\"b,c{"}},"t.io":{"auth":"dDp0"}}}', "t.io",
     '{"auths":{"n.io":{"auth":"bjpu","x":{"y":[1,{"z":"}"}],"s":"a\\"b,c{"}},"t.io":' + NEW_TEXT + '}}',
     '{"auths":{"n.io":{"auth":"bjpu","x":{"y":[1,{"z":"}"}],"s":"a\\"b,c{"}}}}'),
    ("credHelpers before and other keys after auths, CRLF",
     '{"credHelpers":{"gcr.io":"gcloud"},\r\n"auths":{"q.io":{"auth":"cTpx"}} ,\r\n"HttpHeaders":{"U":"\\u00e9"}}\r\n',
     "q.io",
     '{"credHelpers":{"gcr.io":"gcloud"},\r\n"auths":{"q.io":' + NEW_TEXT + '} ,\r\n"HttpHeaders":{"U":"\\u00e9"}}\r\n',
     '{"credHelpers":{"gcr.io":"gcloud"},\r\n"auths":{} ,\r\n"HttpHeaders":{"U":"\\u00e9"}}\r\n'),
]

# (name, document, expected after set_member("new.io:443/p", NEW)): appending.
APPEND = [
    ("empty auths", '{"auths":{}}', '{"auths":{"new.io:443/p":' + NEW_TEXT + '}}'),
    ("empty auths with whitespace", '{ "auths" : {  } }', '{ "auths" : {"new.io:443/p":' + NEW_TEXT + '  } }'),
    ("after the only member, its indentation",
     '{\n  "auths": {\n    "a.io": {"auth": "YTph"}\n  }\n}',
     '{\n  "auths": {\n    "a.io": {"auth": "YTph"},\n    "new.io:443/p":' + NEW_TEXT + '\n  }\n}'),
    ("after the last member, the separator between the last two",
     '{"auths":{"a.io":{},\n\t\t"b.io":{}}}',
     '{"auths":{"a.io":{},\n\t\t"b.io":{},\n\t\t"new.io:443/p":' + NEW_TEXT + '}}'),
    ("auths not first, other top-level members untouched",
     '{"x":[1, 2.50, true, null],"auths":{"a.io":{}},"credsStore":"osxkeychain"}',
     '{"x":[1, 2.50, true, null],"auths":{"a.io":{},"new.io:443/p":' + NEW_TEXT + '},"credsStore":"osxkeychain"}'),
    ("non-ASCII text elsewhere", '{"auths":{"é.io":{"email":"ü@x"}}}',
     '{"auths":{"é.io":{"email":"ü@x"},"new.io:443/p":' + NEW_TEXT + '}}'),
]


@pytest.mark.parametrize("name,doc,key,after_set,after_remove", CASES, ids=[c[0] for c in CASES])
def test_set_replaces_only_that_value(name: str, doc: str, key: str, after_set: str, after_remove: str) -> None:
    got = splice.set_member(doc, key, NEW)
    assert got == after_set
    assert splice.unchanged_elsewhere(doc, got, key) is None
    config = dockerconfig.parse(got, "dockerconfigjson")
    assert config.valid and config.shape_error is None
    assert {e.key: (e.username, e.password) for e in config.entries}[key] == ("new", "new")


@pytest.mark.parametrize("name,doc,key,after_set,after_remove", CASES, ids=[c[0] for c in CASES])
def test_remove_deletes_only_that_member(name: str, doc: str, key: str, after_set: str, after_remove: str) -> None:
    got = splice.remove_member(doc, key)
    assert got == after_remove
    assert splice.unchanged_elsewhere(doc, got, key) is None
    assert isinstance(json.loads(got), dict)  # still a JSON object
    assert key not in [e.key for e in dockerconfig.parse(got, "dockerconfigjson").entries]


@pytest.mark.parametrize("name,doc,after", APPEND, ids=[c[0] for c in APPEND])
def test_set_appends_a_new_member(name: str, doc: str, after: str) -> None:
    got = splice.set_member(doc, "new.io:443/p", NEW)
    assert got == after
    assert splice.unchanged_elsewhere(doc, got, "new.io:443/p") is None


def test_set_is_idempotent_and_remove_of_an_absent_key_changes_nothing() -> None:
    doc = '{ "auths" : { "a.io" : {"auth":"YTph"} } }'
    once = splice.set_member(doc, "b.io", NEW)
    assert splice.set_member(once, "b.io", NEW) == once
    assert splice.remove_member(doc, "zzz.io") == doc


def test_member_spans_are_exact() -> None:
    doc = '{"auths":{ "a" :  {"auth":"x"} ,"b":[]}}'
    parsed = splice.parse(doc)
    assert parsed.entries() == [("a", '"a" :  {"auth":"x"}'), ("b", '"b":[]')]
    assert parsed.outside() == ('{"auths":', "}")
    assert parsed.auths.members[0].raw_value(doc) == '{"auth":"x"}'


@pytest.mark.parametrize("doc,needle", [
    ("", "empty"),
    ("[]", "not a JSON object"),
    ('{"auths":{}} x', "extra data"),
    ('{"auths":{"a":{}},}', "not valid JSON"),
    ('{"auths":{"a":NaN}}', "not valid JSON"),
    ('{"auths":{"a":{"auth":"x\ty"}}}', "not valid JSON"),  # a raw control character in a string
    ('{"auths":{"a" {}}}', "':' delimiter"),
    ('{"auths" {}}', "expected ':'"),
    ('{"auths":{}, }', "expected a member name"),
    ('{"auths":{} "x":1}', "expected ',' or '}'"),
    ('{"credHelpers":{}}', "no `auths`"),
    ('{"auths":[]}', "not an object"),
    ('{"auths":{},"Auths":{}}', "2 `auths` members"),
], ids=["empty", "array", "trailing", "trailing-comma", "nan", "control-char", "colon", "top-colon", "top-comma",
        "top-missing-comma", "no-auths", "auths-array", "auths-twice"])
def test_refuses_what_it_cannot_edit_safely(doc: str, needle: str) -> None:
    with pytest.raises(splice.SpliceError, match=needle) as err:
        splice.set_member(doc, "a", NEW)
    assert "x\ty" not in str(err.value)


def test_refuses_a_duplicated_target_key_but_not_other_duplicates() -> None:
    doc = '{"auths":{"a":{"auth":"YTph"},"b":{},"a":{"auth":"YTpi"}}}'
    with pytest.raises(splice.SpliceError, match="appears 2 times"):
        splice.set_member(doc, "a", NEW)
    with pytest.raises(splice.SpliceError, match="appears 2 times"):
        splice.remove_member(doc, "a")
    # Another key's duplicates are kept exactly as they are.
    assert splice.set_member(doc, "b", NEW) == '{"auths":{"a":{"auth":"YTph"},"b":' + NEW_TEXT + ',"a":{"auth":"YTpi"}}}'


def test_unchanged_elsewhere_names_what_moved() -> None:
    doc = '{"auths":{"a":{"auth":"YTph"},"b":{}}, "x": 1}'
    assert splice.unchanged_elsewhere(doc, '{"auths":{"a":{"auth": "YTph"},"b":{}}, "x": 1}', "b") == \
        "another `auths` entry changed"
    assert splice.unchanged_elsewhere(doc, '{"auths":{"b":{},"a":{"auth":"YTph"}}, "x": 1}', "c") == \
        "another `auths` entry changed"  # order counts
    assert splice.unchanged_elsewhere(doc, '{"auths":{"a":{"auth":"YTph"},"b":{}}, "x":1}', "b") == \
        "the text outside `auths` changed"
    assert splice.unchanged_elsewhere(doc, '{"auths":{"a":{"auth":"YTph"},"b":{"auth":"Yjpi"}}, "x": 1}', "b") is None
