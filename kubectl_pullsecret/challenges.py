"""Parse ``WWW-Authenticate`` challenges (RFC 7235 §2.1, §4.1; RFC 9110 §11).

A registry that wants credentials answers ``401`` with one or more
``WWW-Authenticate`` field lines, each holding a comma-separated list of
challenges (RFC 7235 §2.1 and §4.1, restated in RFC 9110 §11.2 and §11.6.1)::

    WWW-Authenticate = 1#challenge
    challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
    auth-param  = token BWS "=" BWS ( token / quoted-string )
    token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="

The grammar is awkward because the same comma separates challenges *and* the
parameters of one challenge (the note under RFC 7235 §4.1 warns about this).
A list element is therefore classified by what follows its leading token:

* ``token BWS "="``              -> a parameter of the current challenge;
* ``token`` alone                -> a new challenge without parameters;
* ``token 1*SP token68``         -> a new challenge carrying a token68;
* ``token 1*SP auth-param``      -> a new challenge and its first parameter;
* anything else                  -> garbage, skipped up to the next comma.

The parser is deliberately lenient, like real registry clients, and never
raises: unquoted values may contain any character except comma and whitespace
(OpenShift sends ``realm=https://host/openshift/token``), an unterminated
quoted-string runs to the end of its line, a value may be empty, and malformed
elements are skipped while everything that parsed cleanly is kept.  Each
character is scanned a bounded number of times, so hostile header values cost
linear time, and at most :data:`MAX_CHALLENGES` challenges of
:data:`MAX_PARAMS` parameters each are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "MAX_CHALLENGES",
    "MAX_PARAMS",
    "Challenge",
    "parse_challenges",
    "preferred",
]

#: Challenges kept across all field lines; a hostile registry must not make us
#: build an unbounded list, and no real server sends more than a handful.
MAX_CHALLENGES: Final = 64
#: Parameters kept per challenge (distinct names); later ones are ignored.
MAX_PARAMS: Final = 64


@dataclass(frozen=True)
class Challenge:
    """One authentication challenge.

    ``scheme`` and parameter names are lower-cased because both are
    case-insensitive (RFC 9110 §11.1, §11.2); values keep their case, with
    quoted-strings unquoted and unescaped.  A challenge has either ``params``
    or a ``token68``, never both (RFC 9110 §11.6.1 grammar).
    """

    scheme: str
    # Excluded from the hash so that the frozen dataclass stays hashable even
    # though a dict is not; equal challenges still hash equally.
    params: dict[str, str] = field(hash=False)
    token68: str | None = None


# --- lexical classes (RFC 9110 §5.6.2, §5.6.3, §5.6.4, §11.2) ---------------
# All patterns are used anchored (.match(s, pos)).  Repetitions are possessive
# (``*+``, ``++``; Python >= 3.11) and every loop iteration consumes at least
# one character, so the regex engine never backtracks: hostile input costs
# linear time, and the scanning loops run in C rather than per character.

_TCHAR: Final = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"  # spelled out: no non-ASCII letters
_TOKEN: Final = re.compile(_TCHAR + "++")
# token68 (RFC 9110 §11.2) followed by OWS; the caller checks that a comma or
# the end follows, since a token68 fills its challenge's whole list element.
_TOKEN68: Final = re.compile(r"[A-Za-z0-9\-._~+/]++=*+[ \t]*+")
# OWS / BWS are SP and HTAB only (RFC 9110 §5.6.3).
_OWS: Final = re.compile(r"[ \t]*+")
# Empty list elements and their surrounding OWS (RFC 9110 §5.6.1.2: a recipient
# MUST parse and ignore a reasonable number of empty list elements).
_SEPARATORS: Final = re.compile(r"[ \t,]*+")
# auth-param up to its value: token BWS "=" BWS.
_PARAM_HEAD: Final = re.compile("(" + _TCHAR + r"++)[ \t]*+=[ \t]*+")
# quoted-string with quoted-pairs (RFC 9110 §5.6.4).  The closing DQUOTE is
# optional so that an unterminated string runs to the end of the line, and a
# lone trailing backslash is swallowed rather than left behind.
_QUOTED: Final = re.compile(r'"((?:[^"\\]++|\\.?)*+)"?', re.DOTALL)
_QUOTED_PAIR: Final = re.compile(r"\\(.?)", re.DOTALL)
# Lenient unquoted value: RFC 9110 allows only a token, but registries send
# URLs (``:``, ``/``), so take everything up to a comma or whitespace.
_BARE_VALUE: Final = re.compile(r"[^, \t]*+")
# Rest of a malformed element: up to the next comma outside a quoted-string,
# so that a comma inside one (``scope="repository:a:pull,push"``) cannot start
# a bogus element.
_GARBAGE: Final = re.compile(r'(?:[^,"]++|"(?:[^"\\]++|\\.?)*+"?)*+', re.DOTALL)
# Fast path for the overwhelmingly common element, a parameter with a token or
# terminated quoted value followed by a comma or the end: one regex call per
# element instead of several.  Anything it does not match takes the general path.
_SIMPLE_PARAM: Final = re.compile(
    r"[ \t,]*+(" + _TCHAR + r'++)[ \t]*+=[ \t]*+(?:"((?:[^"\\]++|\\.)*+)"|([^", \t][^, \t]*+)?)[ \t]*+(?=,|\Z)',
    re.DOTALL,
)
# A token68 that is also "token=", i.e. possibly an auth-param with an empty value.
_EMPTY_PARAM_LIKE: Final = re.compile(_TCHAR + "++=")


def _match(pattern: re.Pattern[str], s: str, i: int) -> re.Match[str]:
    """Match a pattern that can match the empty string, so never fails."""
    m = pattern.match(s, i)
    assert m is not None
    return m


def _unescape(raw: str) -> str:
    return _QUOTED_PAIR.sub(r"\1", raw) if "\\" in raw else raw


def _quoted(s: str, i: int) -> tuple[str, int]:
    """Read the quoted-string whose opening DQUOTE is at ``s[i]``.

    Returns the unescaped value and the index just past it.  A quoted-pair
    stands for the character after the backslash (RFC 9110 §5.6.4).  Without a
    closing DQUOTE the rest of the line is the value: a truncated header is
    more useful than none.
    """
    m = _match(_QUOTED, s, i)
    return _unescape(m.group(1)), m.end()


def _skip_element(s: str, i: int) -> int:
    """Return the index of the comma (or end) ending the list element at ``s[i]``.

    Used to resynchronise after garbage; see :data:`_GARBAGE`.
    """
    return _match(_GARBAGE, s, i).end()


def _end_element(s: str, i: int) -> int:
    """Return the index of the comma (or end) that should follow ``s[i]``.

    Anything other than OWS before that comma is trailing garbage and is
    skipped rather than allowed to start a new challenge.
    """
    i = _match(_OWS, s, i).end()
    if i >= len(s) or s[i] == ",":
        return i
    return _skip_element(s, i)


def _at_element_end(s: str, i: int) -> bool:
    return i >= len(s) or s[i] == ","


def _param(s: str, i: int) -> tuple[str, str, int] | None:
    """Read ``token BWS "=" BWS ( token / quoted-string )`` at ``s[i]``.

    Returns ``(lower-cased name, value, end index)``, or ``None`` if ``s[i]``
    does not start an auth-param.  An empty value (``realm=,``) is ``""``.
    """
    head = _PARAM_HEAD.match(s, i)
    if head is None:
        return None
    name = head.group(1).lower()
    j = head.end()
    if j < len(s) and s[j] == '"':
        value, j = _quoted(s, j)
        return name, value, j
    bare = _match(_BARE_VALUE, s, j)
    return name, bare.group(), bare.end()


class _Parser:
    """Accumulates challenges across field lines.

    State (the current challenge) deliberately survives the end of a line: a
    field sent as several lines means the same as those lines joined with
    commas (RFC 9110 §5.3), which is exactly what ``requests`` hands us.  Only
    an unterminated quoted-string behaves differently, as it stops at the end
    of its own line.
    """

    def __init__(self) -> None:
        self.challenges: list[Challenge] = []
        self.current: Challenge | None = None
        # Set when a challenge beyond MAX_CHALLENGES begins: nothing after it
        # can be kept, so the rest of the input need not even be scanned.
        self.stopped = False

    def _wants(self, name: str) -> bool:
        """Whether a parameter ``name`` would be kept by the current challenge."""
        cur = self.current
        if cur is None:
            # A parameter with no challenge to belong to is dropped.
            return False
        if cur.token68 is not None:
            if _EMPTY_PARAM_LIKE.fullmatch(cur.token68) is None:
                # The grammar allows a token68 or parameters, never both.
                return False
            # "Bearer realm=, service=x": read strictly, "realm=" is a token68
            # and "service=x" is then invalid.  A server that forgot a value is
            # far likelier than a token68 followed by parameters, so take the
            # reading under which the whole challenge parses.
            cur = Challenge(cur.scheme, {cur.token68[:-1].lower(): ""})
            self.current = self.challenges[-1] = cur
        # Keep the first of duplicate names; RFC 9110 §11.2 says each
        # parameter name MUST only occur once per challenge.
        return name not in cur.params and len(cur.params) < MAX_PARAMS

    def _add_param(self, name: str, value: str) -> None:
        if self._wants(name):
            assert self.current is not None
            self.current.params[name] = value

    def _start(self, scheme: str, token68: str | None = None) -> None:
        if len(self.challenges) >= MAX_CHALLENGES:
            self.stopped = True
            self.current = None
            return
        self.current = Challenge(scheme.lower(), {}, token68)
        self.challenges.append(self.current)

    def feed(self, s: str) -> None:
        n = len(s)
        i = 0
        while not self.stopped:
            simple = _SIMPLE_PARAM.match(s, i)
            if simple is not None:
                name = simple.group(1).lower()
                if self._wants(name):
                    assert self.current is not None
                    # Unescape only what is kept: duplicates cost no copy.
                    quoted, bare = simple.group(2, 3)
                    self.current.params[name] = _unescape(quoted) if quoted is not None else bare or ""
                i = simple.end()
                continue
            i = _match(_SEPARATORS, s, i).end()
            if i >= n:
                return
            i = self._element(s, i)

    def _element(self, s: str, i: int) -> int:
        """Classify and consume one list element; return the index after it."""
        tok = _TOKEN.match(s, i)
        if tok is None:
            return _skip_element(s, i)
        j = _match(_OWS, s, tok.end()).end()

        param = _param(s, i) if j < len(s) and s[j] == "=" else None
        if param is not None:
            self._add_param(param[0], param[1])
            return _end_element(s, param[2])

        if _at_element_end(s, j):
            # A lone token ("Negotiate", or "Basic" before ", realm=...").
            self._start(tok.group())
            return j

        if j == tok.end():
            # The token runs straight into a non-token character ("Basic/x",
            # 'Basic"x"', non-ASCII): neither a scheme nor a parameter.
            return _skip_element(s, i)

        # token 1*SP <something that is not "=">: a new challenge.  Anything
        # that fully matches token68 up to the end of the element is a token68
        # (so "Negotiate YWJj==" and, strictly by the grammar, "Basic realm=");
        # otherwise it must be the first auth-param.
        t68 = _TOKEN68.match(s, j)
        if t68 is not None and _at_element_end(s, t68.end()):
            self._start(tok.group(), t68.group().rstrip(" \t"))
            return t68.end()
        self._start(tok.group())
        param = _param(s, j)
        if param is None:
            return _skip_element(s, j)
        self._add_param(param[0], param[1])
        return _end_element(s, param[2])


def parse_challenges(values: Iterable[str]) -> list[Challenge]:
    """Parse every WWW-Authenticate header line (each may hold several challenges).

    ``values`` are the field lines in order, e.g.
    ``response.raw.headers.getlist("WWW-Authenticate")`` or just
    ``[response.headers["WWW-Authenticate"]]``; both give the same result.  A
    single ``str`` is accepted as one line, and non-string items are ignored.
    Never raises; returns at most :data:`MAX_CHALLENGES` challenges, in order.
    """
    if isinstance(values, str):
        values = (values,)
    parser = _Parser()
    for line in values:
        if parser.stopped:
            break
        if isinstance(line, str):
            parser.feed(line)
    return parser.challenges


def preferred(challenges: Sequence[Challenge]) -> Challenge | None:
    """Bearer if present, else Basic, else None (registries: prefer Bearer over Basic).

    A user agent picks the strongest scheme it understands (RFC 7235 §4.1,
    RFC 9110 §11.6.1); for a registry client that is the token flow, since a
    registry offering both expects Bearer.  Among challenges of the same scheme
    the first wins: the server's order is the only hint there is.
    """
    for wanted in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme.lower() == wanted:
                return challenge
    return None
