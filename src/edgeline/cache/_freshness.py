"""Freshness and age arithmetic (RFC 9111 §4.2): lifetimes, heuristics, current age.

All functions are pure: times are POSIX seconds passed in by the caller,
which reads its injectable clock at call time (never at import).
"""

from __future__ import annotations

import calendar
import re
from email.utils import parsedate_tz

from ._directives import MAX_DELTA, Directives

__all__ = [
    "HEURISTICALLY_CACHEABLE", "UNDERSTOOD_STATUSES", "age_value", "corrected_initial_age",
    "current_age", "format_http_date", "freshness_lifetime", "parse_http_date",
]

# RFC 9110 §15.1: status codes defined as heuristically cacheable.
HEURISTICALLY_CACHEABLE = frozenset({200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501})

# The statuses whose caching semantics this cache knows (RFC 9111 §5.2.2.3,
# must-understand): those of RFC 9110 §15.
UNDERSTOOD_STATUSES = frozenset({
    200, 201, 202, 203, 204, 205, 300, 301, 302, 303, 307, 308,
    400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417,
    421, 422, 426, 500, 501, 502, 503, 504, 505,
})

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
# RFC 9110 §5.6.7: IMF-fixdate, and the two obsolete forms a recipient MUST accept.
_IMF = re.compile(r"[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT\Z")
_RFC850 = re.compile(r"[A-Za-z]{6,9}, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT\Z")
_ASCTIME = re.compile(r"[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})\Z")


def _epoch(year: int, month: int, day: int, h: int, m: int, s: int) -> float | None:
    if not (1 <= month <= 12 and 1 <= day <= 31 and h < 24 and m < 60 and s < 61):
        return None
    return float(calendar.timegm((year, month, day, h, m, min(s, 59), 0, 0, 0)))


def parse_http_date(value: str | None) -> float | None:
    """Return an HTTP-date (RFC 9110 §5.6.7) as POSIX seconds, or None if invalid.

    An RFC 850 two-digit year is read as 1970-2069.
    """
    if not value:
        return None
    value = value.strip()
    m = _IMF.match(value)
    if m:
        month = _MONTHS.get(m.group(2).lower())
        if month is None:
            return None
        return _epoch(int(m.group(3)), month, int(m.group(1)), int(m.group(4)),
                      int(m.group(5)), int(m.group(6)))
    m = _RFC850.match(value)
    if m:
        month = _MONTHS.get(m.group(2).lower())
        if month is None:
            return None
        year = 1900 + int(m.group(3))
        if year < 1970:
            year += 100
        return _epoch(year, month, int(m.group(1)), int(m.group(4)), int(m.group(5)),
                      int(m.group(6)))
    m = _ASCTIME.match(value)
    if m:
        month = _MONTHS.get(m.group(1).lower())
        if month is None:
            return None
        return _epoch(int(m.group(6)), month, int(m.group(2).strip()), int(m.group(3)),
                      int(m.group(4)), int(m.group(5)))
    # NOTE: lenient fallback for near-misses servers send (other zone names,
    # single-digit days); anything it cannot read is invalid.
    parsed = parsedate_tz(value)
    if parsed is None or parsed[9] is None and "gmt" not in value.lower() and "utc" not in value.lower():
        return None
    try:
        return float(calendar.timegm(parsed[:9]) - (parsed[9] or 0))
    except (OverflowError, ValueError, TypeError):
        return None


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_http_date(when: float) -> str:
    """Return ``when`` as an IMF-fixdate (RFC 9110 §5.6.7)."""
    import time

    t = time.gmtime(when)
    return (f"{_WEEKDAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTH_NAMES[t.tm_mon - 1]} "
            f"{t.tm_year:04d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


def age_value(values: list[str]) -> int:
    """Return the Age field's value (RFC 9111 §5.1); 0 when absent or invalid.

    With several values (repeated lines or a list), the first is used; a value
    that is not a non-negative integer is ignored.
    """
    if not values:
        return 0
    first = values[0].split(",", 1)[0].strip()
    if not first.isdigit():
        return 0
    return min(int(first), MAX_DELTA)


def corrected_initial_age(
    *, age: int, date: float | None, request_time: float, response_time: float,
) -> float:
    """Return corrected_initial_age (RFC 9111 §4.2.3) at the moment of receipt."""
    apparent_age = max(0.0, response_time - date) if date is not None else 0.0
    response_delay = max(0.0, response_time - request_time)
    corrected_age_value = age + response_delay
    return max(apparent_age, corrected_age_value)


def current_age(initial_age: float, response_time: float, now: float) -> float:
    """Return current_age = corrected_initial_age + resident_time (RFC 9111 §4.2.3)."""
    return initial_age + max(0.0, now - response_time)


def freshness_lifetime(
    directives: Directives,
    *,
    status: int,
    date: float | None,
    expires: str | None,
    has_expires: bool,
    last_modified: float | None,
    shared: bool = True,
    targeted: bool = False,
    heuristic_fraction: float = 0.1,
    heuristic_max: float = 86400.0,
    default_ttl: float = 0.0,
) -> tuple[float, bool]:
    """Return (freshness_lifetime, heuristic?) for a response (RFC 9111 §4.2.1, §4.2.2).

    ``directives`` are the ones in force for this cache: a targeted field's
    (RFC 9213), which replace Cache-Control and Expires, or Cache-Control's.
    """
    if shared:
        s_maxage = directives.delta("s-maxage")
        if s_maxage is not None:
            return float(s_maxage), False
    max_age = directives.delta("max-age")
    if max_age is not None:
        return float(max_age), False
    if has_expires and not targeted:
        when = parse_http_date(expires)
        if when is None or date is None:
            # RFC 9111 §5.3: an invalid Expires ("0" above all) is in the past.
            return 0.0, False
        return max(0.0, when - date), False
    # RFC 9111 §4.2.2: heuristics only without explicit expiration, and only
    # for heuristically cacheable statuses or responses marked public.
    if status in HEURISTICALLY_CACHEABLE or directives.public:
        if last_modified is not None and date is not None and date > last_modified:
            # NOTE: 10% of the time since Last-Modified, the typical setting
            # the RFC mentions, capped so an old file is not kept for months.
            return min((date - last_modified) * heuristic_fraction, heuristic_max), True
        if default_ttl > 0:
            return default_ttl, True
    return 0.0, False
