"""The forwarding-header parsers against a reference written another way, on hostile input.

The reference reads RFC 7239 one character at a time, as a state machine, where the module
under test matches regular expressions; both follow the same rules (see the module
docstring of `remotedbg.sansio.client_address`). Headers are generated valid, then mutated with
the characters that confuse parsers (quotes, semicolons, commas, backslashes), and each is
fed whole, with trailing data, and with the element an appending proxy adds.
"""

from __future__ import annotations

import ipaddress
import string

from hypothesis import example, given, settings
from hypothesis import strategies as st

from remotedbg.sansio.addresses import AddressSet, IPAddress
from remotedbg.sansio.client_address import (
    forwarded_hops,
    resolve_client,
    resolve_client_from,
    x_forwarded_for_hops,
)

TCHAR = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)
OWS = " \t"
DIGITS = frozenset(string.digits)
HEXDIGITS = frozenset(string.hexdigits)
#: The proxies that append: 10.0.0.1 in front of the app, 10.0.0.2 in front of that.
PROXIES = AddressSet.parse(["10.0.0.1", "10.0.0.2"])


# -- the reference ------------------------------------------------------------------------


def _is_port(text: str) -> bool:
    return 1 <= len(text) <= 5 and all(c in DIGITS for c in text)


def _ref_v4(text: str) -> IPAddress | None:
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not 1 <= len(part) <= 3 or any(c not in DIGITS for c in part):
            return None
        if (len(part) > 1 and part[0] == "0") or int(part) > 255:
            return None
        value = value * 256 + int(part)
    return ipaddress.IPv4Address(value)


def _ref_v6(text: str) -> IPAddress | None:
    if not text or any(c not in HEXDIGITS and c not in ":." for c in text):
        return None
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return address.ipv4_mapped or address


def ref_node(text: str, *, bare_v6: bool) -> IPAddress | None:
    """``v4``, ``v4:port``, ``[v6]``, ``[v6]:port``, and a bare ``v6`` if `bare_v6`."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and (rest[0] != ":" or not _is_port(rest[1:]))):
            return None
        return _ref_v6(host)
    if text.count(":") > 1:
        return _ref_v6(text) if bare_v6 else None
    host, colon, port = text.partition(":")
    if colon and not _is_port(port):
        return None
    return _ref_v4(host)


def ref_forwarded(value: str) -> list[IPAddress] | None:
    """RFC 7239 read one character at a time; None for anything the rules refuse."""
    hops: list[IPAddress] = []
    pairs: dict[str, str] = {}
    name = text = ""
    state = "element"  # before an element, skipping whitespace

    def end_pair() -> bool:
        key = name.lower()
        if key in pairs:
            return False
        pairs[key] = text
        return True

    def end_element() -> bool:
        node = ref_node(pairs.get("for", ""), bare_v6=False)
        pairs.clear()
        if node is None:
            return False
        hops.append(node)
        return True

    for char in value:
        if state == "token":
            if char in TCHAR:
                text += char
                continue
            if not end_pair():
                return None
            state = "after value"  # and this character is read in that state below
        if state == "element":
            if char in OWS:
                continue
            if char not in TCHAR:
                return None
            name, state = char, "name"
        elif state == "pair":
            if char not in TCHAR:
                return None
            name, state = char, "name"
        elif state == "name":
            if char == "=":
                text, state = "", "value"
            elif char in TCHAR:
                name += char
            else:
                return None
        elif state == "value":
            if char == '"':
                state = "quoted"
            elif char in TCHAR:
                text, state = char, "token"
            else:
                return None
        elif state in ("quoted", "escaped"):
            if not (char == "\t" or " " <= char <= "~"):
                return None
            if state == "escaped":
                text, state = text + char, "quoted"
            elif char == "\\":
                state = "escaped"
            elif char == '"':
                if not end_pair():
                    return None
                state = "after value"
            else:
                text += char
        elif state in ("after value", "whitespace"):
            if char == ";" and state == "after value":
                state = "pair"
            elif char in OWS:
                state = "whitespace"
            elif char == ",":
                if not end_element():
                    return None
                state = "element"
            else:
                return None
    if state == "token" and not end_pair():
        return None
    if state not in ("token", "after value", "whitespace") or not end_element():
        return None
    return hops


def ref_x_forwarded_for(value: str) -> list[IPAddress] | None:
    hops = [ref_node(item.strip(OWS), bare_v6=True) for item in value.split(",")]
    return None if None in hops else [hop for hop in hops if hop is not None]


# -- generated headers --------------------------------------------------------------------

v4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
v6 = st.one_of(
    st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),
    v4.map(lambda a: f"::ffff:{a}"),
)
ports = st.integers(0, 99999).map(str)
#: Untrusted hops: what a proxy saw as its TCP peer.
visitors = st.one_of(v4, v6).filter(lambda a: a not in PROXIES)


valid_nodes = st.one_of(
    v4,
    st.builds("{}:{}".format, v4, ports),
    v6.map("[{}]".format),
    st.builds("[{}]:{}".format, v6, ports),
)
#: Forwarded nodes, valid or one of the forms that must be refused.
nodes = st.one_of(
    valid_nodes,
    st.sampled_from(["unknown", "_hidden", "_x:_y", "[::1", "::1", "1.2.3.4:", "01.2.3.4"]),
)


def quote(text: str, escapes: list[bool]) -> str:
    r"""`text` as a quoted-string: ``"`` and ``\`` escaped, and others where `escapes` says."""
    out = []
    for char, escape in zip(text, escapes, strict=True):
        if char in '"\\' or escape:
            out.append("\\")
        out.append(char)
    return '"' + "".join(out) + '"'


@st.composite
def values(draw: st.DrawFn, text: str) -> str:
    """`text` as a token when it can be one and it is drawn so, else as a quoted-string."""
    if text and all(c in TCHAR for c in text) and draw(st.booleans()):
        return text
    return quote(text, draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text))))


param_names = st.sampled_from(["by", "proto", "host", "x-ext", "For", "BY"])
PARAM_CHARS = 'ab1.:;,"\\= \t[]_-'
#: Parameter values: mostly printable, now and then a control or non-ASCII character.
param_text = st.text(st.sampled_from(PARAM_CHARS * 8 + "\x00\x7f\xe9\n"), max_size=8)
#: List separators as proxies write them (Werkzeug's server joins repeated lines with ",").
joiners = st.sampled_from([",", ", ", " ,", "\t,\t", ",  "])
#: The same, and sometimes around an empty element.
sloppy_joiners = st.sampled_from([",", ", ", " ,", "\t,\t", ",  "] * 4 + [",,", ", ,"])


@st.composite
def elements(draw: st.DrawFn, node: st.SearchStrategy[str], sloppy: bool) -> str:
    """One element: ``for=`` plus other parameters, in any order; if `sloppy`, odd ones too."""
    pairs = [f"{draw(st.sampled_from(['for', 'For', 'FOR']))}={draw(values(draw(node)))}"]
    for other in draw(st.lists(param_names, max_size=3, unique_by=str.lower)):
        if other.lower() != "for":
            text = draw(param_text if sloppy else st.text(st.sampled_from(PARAM_CHARS)))
            pairs.append(f"{other}={draw(values(text))}")
    if not sloppy:
        return ";".join(draw(st.permutations(pairs)))
    if draw(st.integers(0, 9)) == 0:
        again = draw(st.sampled_from(pairs)).partition("=")[0]
        pairs.append(f"{again.upper()}={draw(values(draw(valid_nodes)))}")
    if draw(st.integers(0, 19)) == 0:
        pairs.append("")  # an empty pair
    return ";".join(draw(st.permutations(pairs)))


@st.composite
def headers(draw: st.DrawFn, node: st.SearchStrategy[str] = nodes, *, sloppy: bool = True) -> str:
    """A Forwarded header of elements, each naming a node drawn from `node`.

    Mostly well formed. If `sloppy`, the rare empty element, empty pair, repeated parameter
    or control character keeps the parser honest about what it refuses.
    """
    parts = draw(st.lists(elements(node, sloppy), min_size=1, max_size=4))
    out = draw(st.sampled_from(["", "", "", " ", "\t "])) + parts[0]
    for part in parts[1:]:
        out += draw(sloppy_joiners if sloppy else joiners) + part
    return out + draw(st.sampled_from(["", "", "", "", " ", "\t", ","] if sloppy else ["", " "]))


NASTY = '";,\\= \t[]:_\x00\x7f\xe9a0'


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """`base` with a few characters inserted, deleted or replaced, favouring nasty ones."""
    text = draw(base)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        char = draw(st.sampled_from(NASTY))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        if edit == "insert":
            text = text[:at] + char + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + char + text[at + 1 :]
    return text


any_forwarded = st.one_of(
    headers(valid_nodes, sloppy=False),
    headers(valid_nodes),
    headers(),
    mutated(headers(valid_nodes, sloppy=False)),
    st.text(st.sampled_from(NASTY + "for=1.2.3.4"), max_size=30),
)
xff_items = st.one_of(
    v4,
    v6,
    st.builds("{}:{}".format, v4, ports),
    st.builds("[{}]:{}".format, v6, ports),
    v6.map("[{}]".format),
    st.sampled_from(["unknown", '"1.2.3.4"', "[1.2.3.4]", "", "fe80::1%eth0"]),
)
xff_headers = st.lists(xff_items, min_size=1, max_size=4).map(", ".join)
any_xff = st.one_of(xff_headers, mutated(xff_headers), st.text(st.sampled_from(NASTY), max_size=20))
trailing = st.text(st.sampled_from(NASTY + "fo=1.2"), min_size=1, max_size=10)


# -- properties ---------------------------------------------------------------------------


def check_forwarded(header: str) -> None:
    reference = ref_forwarded(header)
    result = forwarded_hops(header)
    if reference is None:
        assert result is None, f"{header!r} is invalid, yet parsed as {result}"
    assert result in (None, reference)
    assert result == reference  # and no stricter than the rules either


@settings(max_examples=500)
@given(any_forwarded, trailing)
@example('for=127.0.0.1;by="', ", for=203.0.113.9")
@example('for="\\[::1\\]"', ";by=x")
@example('for=1.2.3.4;by="a\x00"', ", for=5.6.7.8")
@example('for="1.2.3.4\x7f"', "")
@example("for=1.2.3.4 ;proto=https", "")
def test_forwarded_matches_the_reference(header: str, more: str) -> None:
    """Whole and with trailing data, the parser gives the reference's hops or refuses both."""
    check_forwarded(header)
    check_forwarded(header + more)


@settings(max_examples=300)
@given(headers(valid_nodes, sloppy=False))
def test_well_formed_headers_with_valid_nodes_parse(header: str) -> None:
    """Well-formed headers naming IP nodes parse, so agreement is not by refusing everything."""
    hops = forwarded_hops(header)
    assert hops is not None
    assert hops == ref_forwarded(header)


@settings(max_examples=300)
@given(
    headers(valid_nodes, sloppy=False),
    st.sampled_from([c for c in map(chr, range(256)) if c != "\t" and not " " <= c <= "~"]),
    st.data(),
)
def test_a_control_or_non_ascii_character_anywhere_refuses(
    header: str, char: str, data: st.DataObject
) -> None:
    """One control or non-ASCII character, inside a quoted string or not, refuses the header."""
    quotes = [at for at, c in enumerate(header, 1) if c == '"']
    anywhere = st.integers(0, len(header))
    at = data.draw(st.one_of(st.sampled_from(quotes), anywhere) if quotes else anywhere)
    spoiled = header[:at] + char + header[at:]
    assert ref_forwarded(spoiled) is None
    assert forwarded_hops(spoiled) is None


@settings(max_examples=500)
@given(any_xff, trailing)
def test_x_forwarded_for_matches_the_reference(header: str, more: str) -> None:
    """X-Forwarded-For, whole and with trailing data, agrees with the reference."""
    for value in (header, header + more):
        assert x_forwarded_for_hops(value) == ref_x_forwarded_for(value)


def render(hop: str) -> str:
    return f'"[{hop}]"' if ":" in hop else hop


@settings(max_examples=500)
@given(any_forwarded, visitors, joiners, st.sampled_from(["", ";proto=https", ';by="x"']))
@example('for=127.0.0.1;by="', "203.0.113.9", ", ", "")
@example('for=127.0.0.1;by="\\', "203.0.113.9", ",", "")
def test_appended_hop_is_the_client_or_nobody(
    header: str, hop: str, joiner: str, extra: str
) -> None:
    """Whatever a visitor sent, after a trusted proxy appends its hop the client is that hop.

    Or nobody, when the visitor's part was not well formed. Never anyone the proxy did not
    name, whether one or two trusted proxies appended.
    """
    expected = ipaddress.ip_address(hop)
    expected = getattr(expected, "ipv4_mapped", None) or expected
    appended = f"{header}{joiner}for={render(hop)}{extra}"
    result = resolve_client_from("10.0.0.1", {"forwarded": appended}, PROXIES)
    assert result in (None, expected)
    if ref_forwarded(header) is not None:
        assert result == expected
    twice = f"{appended}, for=10.0.0.1"
    assert resolve_client({"REMOTE_ADDR": "10.0.0.2", "HTTP_FORWARDED": twice}, PROXIES) in (
        None,
        expected,
    )


@settings(max_examples=500)
@given(any_xff, visitors, joiners)
def test_appended_x_forwarded_for_hop_is_the_client_or_nobody(
    header: str, hop: str, joiner: str
) -> None:
    """An appending proxy's X-Forwarded-For hop is the client, or nobody resolves."""
    expected = ipaddress.ip_address(hop)
    expected = getattr(expected, "ipv4_mapped", None) or expected
    result = resolve_client_from("10.0.0.1", {"x-forwarded-for": header + joiner + hop}, PROXIES)
    assert result in (None, expected)
    if ref_x_forwarded_for(header) is not None:
        assert result == expected
