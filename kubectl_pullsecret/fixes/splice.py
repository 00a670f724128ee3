"""Edit one member of a docker config's `auths` object in the JSON *text*, keeping every
other byte as it was (`fix global set|remove`).

A json.loads + json.dumps round trip would rewrite the whole document: key order,
whitespace, `\\u` escapes, number spellings, duplicate keys. The global pull secret holds
credentials the cluster's owner pasted from console.redhat.com and others added since; a
change to one registry must leave the others untouched, byte for byte, so that a diff of
the backup against the new content shows exactly one member changed.

So the document is scanned, not rebuilt: a small scanner walks the top-level object and
the `auths` object, using json.JSONDecoder.raw_decode for each key and value (so strings,
escapes and nested values are decoded by the standard library, strictly), and records the
character span of every member. An edit replaces, inserts or deletes exactly one span.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

WS = " \t\n\r"  # JSON insignificant whitespace (RFC 8259), nothing else


class SpliceError(ValueError):
    """The document cannot be edited safely. The message never quotes a value."""


def _no_constants(name: str) -> Any:
    raise ValueError(f"invalid JSON value {name}")


# strict=True (control characters in strings refused) and no NaN/Infinity: what Go accepts.
_DECODER = json.JSONDecoder(parse_constant=_no_constants, strict=True)


@dataclass(frozen=True)
class Member:
    """One `"key": value` of an object: character offsets into the document text."""

    key: str  # decoded
    start: int  # the key's opening quote
    value_start: int
    end: int  # just past the value

    def raw(self, text: str) -> str:
        return text[self.start:self.end]

    def raw_value(self, text: str) -> str:
        return text[self.value_start:self.end]


@dataclass(frozen=True)
class ObjectSpan:
    open: int  # the '{'
    close: int  # the '}'
    members: tuple[Member, ...]

    def find(self, key: str) -> list[Member]:
        return [m for m in self.members if m.key == key]


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in WS:
        pos += 1
    return pos


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {col}"


def _value(text: str, pos: int) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise SpliceError(f"not valid JSON: {exc.msg} ({_where(text, exc.pos)})") from None
    except (ValueError, RecursionError) as exc:
        raise SpliceError(f"not valid JSON: {str(exc).split(':')[0]} ({_where(text, pos)})") from None


def scan_object(text: str, pos: int) -> ObjectSpan:
    """The members of the JSON object whose '{' is at `pos` (values validated, not kept)."""
    if pos >= len(text) or text[pos] != "{":
        raise SpliceError(f"expected an object ({_where(text, pos)})")
    members: list[Member] = []
    i = _skip(text, pos + 1)
    if i < len(text) and text[i] == "}":
        return ObjectSpan(pos, i, ())
    while True:
        if i >= len(text) or text[i] != '"':
            raise SpliceError(f"not valid JSON: expected a member name ({_where(text, i)})")
        key, after_key = _value(text, i)
        j = _skip(text, after_key)
        if j >= len(text) or text[j] != ":":
            raise SpliceError(f"not valid JSON: expected ':' ({_where(text, j)})")
        value_start = _skip(text, j + 1)
        _, end = _value(text, value_start)
        members.append(Member(key, i, value_start, end))
        k = _skip(text, end)
        if k < len(text) and text[k] == ",":
            i = _skip(text, k + 1)
            continue
        if k < len(text) and text[k] == "}":
            return ObjectSpan(pos, k, tuple(members))
        raise SpliceError(f"not valid JSON: expected ',' or '}}' ({_where(text, k)})")


@dataclass(frozen=True)
class Document:
    """A docker config's text with the spans of its top level and of its `auths`."""

    text: str
    top: ObjectSpan
    auths_member: Member
    auths: ObjectSpan

    def entries(self) -> list[tuple[str, str]]:
        """(key, raw member text) of every `auths` member, in document order."""
        return [(m.key, m.raw(self.text)) for m in self.auths.members]

    def outside(self) -> tuple[str, str]:
        """The text before and after the `auths` object (its braces included in neither)."""
        return self.text[:self.auths.open], self.text[self.auths.close + 1:]


def parse(text: str) -> Document:
    """Scan a .dockerconfigjson text. Refuses (SpliceError) what cannot be edited in
    place unambiguously: not one JSON object, no `auths` object, or several top-level
    keys that Go's decoder would all read as `auths` (it folds case and merges them)."""
    start = _skip(text, 0)
    if start >= len(text):
        raise SpliceError("empty document")
    if text[start] != "{":
        raise SpliceError("not a JSON object")
    top = scan_object(text, start)
    rest = _skip(text, top.close + 1)
    if rest != len(text):
        raise SpliceError(f"not valid JSON: extra data after the object ({_where(text, rest)})")
    candidates = [m for m in top.members if m.key.casefold() == "auths"]
    if not candidates:
        raise SpliceError("has no `auths` object")
    if len(candidates) > 1:
        raise SpliceError(f"has {len(candidates)} `auths` members (Go merges them): edit it by hand")
    member = candidates[0]
    if text[member.value_start] != "{":
        raise SpliceError("`auths` is not an object")
    return Document(text, top, member, scan_object(text, member.value_start))


def _one(doc: Document, key: str) -> Member | None:
    found = doc.auths.find(key)
    if len(found) > 1:
        raise SpliceError(f"the key {json.dumps(key)} appears {len(found)} times in `auths` "
                          "(the last one wins): edit it by hand")
    return found[0] if found else None


def member_text(key: str, value: Any) -> str:
    """`"key":value`, compact, as written for a new or replaced entry."""
    return json.dumps(key) + ":" + json.dumps(value, separators=(",", ":"))


def set_member(text: str, key: str, value: Any) -> str:
    """`text` with auths[key] = value: the existing member's value replaced in place (its
    key as written kept), else a member appended after the last one, separated the way
    the document separates its members. Everything else is kept as it was."""
    doc = parse(text)
    new_value = json.dumps(value, separators=(",", ":"))
    current = _one(doc, key)
    if current is not None:
        return text[:current.value_start] + new_value + text[current.end:]
    new = member_text(key, value)
    members = doc.auths.members
    if not members:
        at = doc.auths.open + 1
        return text[:at] + new + text[at:]
    last = members[-1]
    if len(members) >= 2:
        # The whitespace between the comma after the previous member and the last one.
        between = text[members[-2].end:last.start]
        gap = between[between.index(",") + 1:]
    else:
        gap = text[doc.auths.open + 1:last.start]
    return text[:last.end] + "," + gap + new + text[last.end:]


def remove_member(text: str, key: str) -> str:
    """`text` without auths[key] (and its separating comma); unchanged when absent."""
    doc = parse(text)
    current = _one(doc, key)
    if current is None:
        return text
    members = doc.auths.members
    index = members.index(current)
    if len(members) == 1:
        # The only member: from after '{' to its end; the whitespace before '}' stays.
        return text[:doc.auths.open + 1] + text[current.end:]
    if index == 0:
        # The first: it, its comma and the whitespace up to the next member, which then
        # starts where the first one did.
        return text[:current.start] + text[members[1].start:]
    # Any other: from the end of the previous member (its comma, the whitespace) to its end.
    return text[:members[index - 1].end] + text[current.end:]


def unchanged_elsewhere(before: str, after: str, key: str) -> str | None:
    """Why `after` is not `before` with only auths[key] changed, or None: every other
    `auths` member byte for byte, in the same order, and the text outside `auths`
    identical."""
    try:
        old, new = parse(before), parse(after)
    except SpliceError as exc:
        return str(exc)
    if old.outside()[0] != new.outside()[0] or old.outside()[1] != new.outside()[1]:
        return "the text outside `auths` changed"
    others_old = [e for e in old.entries() if e[0] != key]
    others_new = [e for e in new.entries() if e[0] != key]
    if others_old != others_new:
        return "another `auths` entry changed"
    return None
