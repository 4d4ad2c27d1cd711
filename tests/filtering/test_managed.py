"""Managed rules against a labelled corpus: detection and false-positive rates per paranoia level."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edgeline.filtering import ManagedRules, RequestView
from edgeline.messages import Request

from .corpus import Entry, attacks, benign


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
# of a request; measured with them: detection 0.997, 1.0, 1.0, 1.0 and false positives 0.003,
# 0.047, 0.109, 0.216 at levels 1-4.
@pytest.mark.parametrize(("paranoia", "min_detection", "max_false_positives"), [
    (1, 0.99, 0.01), (2, 0.99, 0.06), (3, 0.99, 0.14), (4, 0.99, 0.26),
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
