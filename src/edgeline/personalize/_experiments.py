"""Deterministic, sticky experiment assignment.

A client's arm is a pure function of (experiment salt, stable client id):
``sha256(salt + "\\x00" + id)``; its first 32 bits decide enrolment
(``traffic``), the next 32 the arm (by cumulative weight). No state is
kept at the edge, so every isolate and location agrees, and the arm stays
the same across visits while the id cookie and the experiment's arms stay.

The id is random only when it is made: :func:`new_client_id` reads the
OS's randomness per call (never at import, which Workers snapshot).
"""

from __future__ import annotations

import hashlib
import re
import struct
from bisect import bisect_right
from collections.abc import Iterable, Sequence

__all__ = ["CompiledExperiment", "bucket", "new_client_id", "valid_client_id"]

_sha256 = hashlib.sha256
_ID = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")
_SCALE = 1 << 32
# The digest's first two big-endian 32-bit words: enrolment, then arm.
_words = struct.Struct(">II").unpack_from


def new_client_id() -> str:
    """Return a fresh random client id (128 bits, URL- and cookie-safe)."""
    import secrets  # PERF: imported with the first new client, not at start-up

    return secrets.token_urlsafe(16)


_id_match = _ID.match


def valid_client_id(value: str | None) -> bool:
    """Tell whether a cookie value can serve as a client id (bounded, cookie-safe)."""
    return value is not None and _id_match(value) is not None


def bucket(salt: bytes, client_id: str) -> tuple[int, int]:
    """Return two independent uniform 32-bit numbers for (salt, id)."""
    digest = hashlib.sha256(salt + client_id.encode()).digest()
    return int.from_bytes(digest[:4], "big"), int.from_bytes(digest[4:8], "big")


class CompiledExperiment:
    """An experiment ready to assign: thresholds and cumulative weights precomputed."""

    __slots__ = ("name", "arms", "_salt", "_cumulative", "_total", "_enrol_below", "countries",
                 "continents", "paths", "targeted", "labels", "_hasher")

    def __init__(
        self, name: str, arms: Sequence[tuple[str, int]], *, traffic: float = 1.0,
        countries: Iterable[str] = (), continents: Iterable[str] = (),
        paths: Iterable[str] = (), salt: str = "",
    ) -> None:
        if not arms:
            raise ValueError(f"experiment {name!r} has no arms")
        total = 0
        cumulative: list[int] = []
        for _, weight in arms:
            if weight < 0:
                raise ValueError(f"experiment {name!r}: a weight is negative")
            total += weight
            cumulative.append(total)
        if total <= 0:
            raise ValueError(f"experiment {name!r}: the weights add up to 0")
        if not 0.0 <= traffic <= 1.0:
            raise ValueError(f"experiment {name!r}: traffic must be within [0, 1]")
        self.name = name
        self.arms = tuple(arm for arm, _ in arms)
        self._salt = ((salt or name) + "\x00").encode()
        # PERF: the salt's state is hashed once; each client copies it and adds its id.
        self._hasher = _sha256(self._salt)
        self._cumulative = tuple(cumulative)
        self._total = total
        # enrolled when the first number < traffic * 2**32 (traffic 1.0 enrols everyone)
        self._enrol_below = round(traffic * _SCALE)
        self.countries = frozenset(countries)
        self.continents = frozenset(continents)
        self.paths = tuple(paths)
        # PERF: experiments for everyone skip the targeting check.
        self.targeted = bool(self.countries or self.continents or self.paths)
        self.labels = {arm: f"{name}:{arm}" for arm in self.arms}  # arm -> label()

    def targets(self, country: str | None, continent: str | None, path: str) -> bool:
        """Tell whether a client at this location asking for ``path`` is targeted."""
        if self.countries or self.continents:
            if country not in self.countries and continent not in self.continents:
                return False
        if self.paths and not path.startswith(self.paths):
            return False
        return True

    def assign(self, client_id: str) -> str | None:
        """Return the arm for ``client_id``, or None when it falls outside ``traffic``."""
        # PERF: one digest, read as two words: the first decides enrolment, the second the arm.
        hasher = self._hasher.copy()
        hasher.update(client_id.encode())
        enrol, spin = _words(hasher.digest())
        if enrol >= self._enrol_below:
            return None
        # Scale the second word onto the weights; bisect over cumulative sums.
        index = bisect_right(self._cumulative, spin * self._total >> 32)
        return self.arms[index]

    def label(self, arm: str) -> str:
        """Return ``name:arm``, the form kept in the exposure cookie and headers."""
        return self.labels[arm]
