"""Absolute URLs, split lazily on first access."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["URL", "QueryParams"]


class QueryParams:
    """Read the query string as ordered, multi-valued parameters."""

    __slots__ = ("_pairs",)

    def __init__(self, query: str) -> None:
        self._pairs = parse_qsl(query, keep_blank_values=True)

    def get(self, name: str, default: str | None = None) -> str | None:
        """Return the first value of ``name``, or ``default``."""
        for k, v in self._pairs:
            if k == name:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        """Return every value of ``name`` in order."""
        return [v for k, v in self._pairs if k == name]

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return any(k == name for k, _ in self._pairs)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(k for k, _ in self._pairs))

    def __len__(self) -> int:
        return len(self._pairs)

    def items(self) -> list[tuple[str, str]]:
        """Return every (name, value) pair in order."""
        return list(self._pairs)

    def __repr__(self) -> str:
        return f"QueryParams({urlencode(self._pairs)!r})"


class URL:
    """An absolute URL; its parts are computed on first use and cached."""

    __slots__ = ("_raw", "_split", "_params", "_given")

    def __init__(self, raw: str, parts: tuple[str, str, str, str] | None = None) -> None:
        """Wrap ``raw``; ``parts``, if given, are the (scheme, netloc, path, query) of ``raw``.

        PERF: adapters that get the parts from the server pass them (as
        ``urlsplit(raw)`` would find them, with no fragment), as parsing
        costs microseconds once a URL has left urlsplit's small cache.
        """
        self._raw = raw
        self._split: SplitResult | None = None
        self._params: QueryParams | None = None
        self._given = parts

    @property
    def _parts(self) -> SplitResult:
        split = self._split
        if split is None:
            given = self._given
            split = self._split = (urlsplit(self._raw) if given is None
                                   else SplitResult(*given, ""))
        return split

    @property
    def scheme(self) -> str:
        return self._parts.scheme

    @property
    def netloc(self) -> str:
        return self._parts.netloc

    @property
    def host(self) -> str:
        """The host as sent, lower-cased, without the port."""
        return (self._parts.hostname or "").lower()

    @property
    def port(self) -> int | None:
        return self._parts.port

    # PERF: path and query are read several times a request (router,
    # middleware): from the given parts when there are some.
    @property
    def path(self) -> str:
        given = self._given
        if given is not None:
            return given[2] or "/"
        return (self._split or self._parts).path or "/"

    @property
    def query(self) -> str:
        given = self._given
        if given is not None:
            return given[3]
        return (self._split or self._parts).query

    @property
    def fragment(self) -> str:
        return self._parts.fragment

    @property
    def params(self) -> QueryParams:
        """The query string parsed into parameters."""
        params = self._params
        if params is None:
            params = self._params = QueryParams(self._parts.query)
        return params

    @property
    def origin(self) -> str:
        """``scheme://netloc``, as used for the web origin of the URL."""
        return f"{self.scheme}://{self.netloc}"

    def replace(self, **parts: str) -> URL:
        """Return a copy with some of scheme, netloc, path, query, fragment replaced."""
        return URL(urlunsplit(self._parts._replace(**parts)))

    def join(self, path_and_query: str) -> URL:
        """Return this URL's origin followed by ``path_and_query``."""
        return URL(self.origin + path_and_query)

    def __str__(self) -> str:
        return self._raw

    def __repr__(self) -> str:
        return f"URL({self._raw!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, URL):
            return self._raw == other._raw
        if isinstance(other, str):
            return self._raw == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._raw)
