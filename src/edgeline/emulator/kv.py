"""Emulate Workers KV namespaces locally, persisted in one SQLite file.

``KVStorage(path)`` owns a SQLite database (WAL mode) that holds every namespace;
``storage.namespace(ns_id)`` returns a ``KVNamespace``, the object a worker sees as
``env.MY_KV``. Its async methods take the call shapes the Python Workers SDK
accepts and return the shapes the SDK returns::

    await ns.get("k")                          # str | None
    await ns.get("k", "json")                  # positional type
    await ns.get("k", type="json", cacheTtl=60)
    await ns.get("k", {"type": "arrayBuffer"}) # options as one dict -> memoryview
    await ns.get(["a", "b"], type="json")      # bulk: dict key -> value | None
    r = await ns.getWithMetadata("k")          # JsDict(value, metadata, cacheStatus)
    await ns.put("k", "v", expirationTtl=120, metadata={"a": 1})
    await ns.delete("k")
    page = await ns.list(prefix="a", limit=10, cursor=c)

``ns.sync`` is a ``SyncKVNamespace`` with the same methods and signatures, run
synchronously, for CLI tools and tests that have no event loop.

Errors mirror the platform's. A failed call raises ``KVError`` whose ``message`` is
the text a worker sees in production (``"KV PUT failed: 400 Invalid expiration_ttl
of 59. Expiration TTL must be at least 60."``), ``name`` the JS error class and
``str(err)`` ``"name: message"`` as ``pyodide.ffi.JsException`` formats it. Errors
that workerd raises as JS ``TypeError`` are ``KVTypeError`` (also a ``TypeError``).
Sources: client-side checks and texts from workerd ``src/workerd/api/kv.c++``;
server-side texts from miniflare's KV validator, which reproduces the KV service's
messages (``packages/miniflare/src/workers/kv``); limits from the KV docs.

Known differences from production, by design:

- Strong consistency: a write is visible to every reader at once. Production KV is
  eventually consistent (60 s or more across locations) and caches reads for
  ``cacheTtl``; ``cacheTtl`` is validated and otherwise ignored here.
- No rate limit: production allows one write per second per key (429 beyond).
- ``cacheStatus`` is always ``None`` (there is no edge cache).
- Stricter than production where production silently misbehaves: unknown option
  names (``cache_ttl=``), a positional options dict combined with keyword options,
  or an unknown ``type`` raise ``TypeError`` here; production ignores the first two
  and reports a bad type only when the key exists.
- Streams: ``type="stream"`` returns a ``ReadableStream`` over the stored bytes and ``put``
  does not accept a stream value.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self

from edgeline.emulator.jsobject import JsDict, js_json_parse, js_string
from edgeline.emulator.standin.workers._web import ReadableStream

__all__ = [
    "KVError",
    "KVNamespace",
    "KVStorage",
    "KVTypeError",
    "SyncKVNamespace",
]

# Limits from developers.cloudflare.com/kv/platform/limits/ and the KV API pages.
MAX_KEY_BYTES = 512
MAX_VALUE_BYTES = 25 * 1024 * 1024
MAX_METADATA_BYTES = 1024
MIN_EXPIRATION_TTL = 60
# NOTE: lowered from 60 to 30 in January 2026 (KV changelog "reduced minimum
# cacheTtl"; miniflare KVLimits.MIN_CACHE_TTL = 30). The default stays 60.
MIN_CACHE_TTL = 30
MAX_LIST_LIMIT = 1000
# PERF: 64 KiB matches the chunk size workerd streams use for system streams; the
# exact size is not observable through the API, only that chunks arrive in order.
STREAM_CHUNK_SIZE = 64 * 1024
MAX_BULK_KEYS = 100
MAX_BULK_BYTES = 25 * 1024 * 1024

_VALUE_TYPES = ("text", "json", "arrayBuffer", "stream")
_BULK_TYPES = ("text", "json")
_GET_OPTIONS = frozenset({"type", "cacheTtl"})
_PUT_OPTIONS = frozenset({"expiration", "expirationTtl", "metadata"})
_LIST_OPTIONS = frozenset({"prefix", "limit", "cursor"})

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv_entries (
    namespace  TEXT    NOT NULL,
    key        BLOB    NOT NULL,  -- UTF-8 bytes: BLOB order is the byte order KV lists in
    value      BLOB    NOT NULL,
    metadata   TEXT,              -- JSON text as JSON.stringify produced it, or NULL
    expiration INTEGER,           -- seconds since the epoch, or NULL for never
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_entries_expiration
    ON kv_entries (expiration) WHERE expiration IS NOT NULL;
"""


class KVError(Exception):
    """Report a failed KV call with the platform's error text.

    ``message`` is the JS error message, ``name`` the JS error class ("Error",
    "TypeError", "SyntaxError"), ``status`` the HTTP status the KV service answered
    with, or ``None`` when workerd rejected the call before sending it.
    """

    def __init__(self, message: str, *, name: str = "Error", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.status = status

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


class KVTypeError(KVError, TypeError):
    """Report a call workerd rejects with a JS ``TypeError`` (bad key or value type)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, name="TypeError")


def _service_error(method: str, status: int, text: str) -> KVError:
    # workerd's checkForErrorStatus(): "KV <METHOD> failed: <status> <statusText>",
    # and the KV service puts its message in the status text.
    return KVError(f"KV {method} failed: {status} {text}", status=status)


def _rpc_type_check(value: Any) -> None:
    # The SDK's python_to_rpc refuses these before anything reaches JS.
    if isinstance(value, (tuple, bytearray)):
        raise TypeError(f"{type(value)} cannot be sent over RPC.")


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # JS strings may hold lone surrogates; workerd turns them into U+FFFD when it
        # makes a kj::String, so the stored key or value has U+FFFD in their place.
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


def _js_int(value: Any) -> int:
    """Convert an option the way workerd's ``jsg::Optional<int>`` does.

    JS ``null`` (``None``), NaN and non-numeric strings become 0 and fractions are
    truncated, so ``expirationTtl=None`` fails exactly like in production.
    """
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else 0
    if isinstance(value, str):
        try:
            number = float(value.strip() or "0")
        except ValueError:
            return 0
        return int(number) if math.isfinite(number) else 0
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _coerce_key(key: Any) -> str:
    _rpc_type_check(key)
    try:
        # workerd takes the key as a kj::String, so JS coerces primitives to text.
        return js_string(key)
    except TypeError:
        raise TypeError(f"KV key must be a str, not {type(key).__name__}") from None


def _check_key(method: str, key: Any) -> bytes:
    """Validate a key as workerd's validateKeyName() does; return its UTF-8 bytes."""
    name = _coerce_key(key)
    if name == "":
        raise KVTypeError("Key name cannot be empty.")
    if name in (".", ".."):
        raise KVTypeError(f'"{name}" is not allowed as a key name.')
    encoded = _utf8(name)
    if len(encoded) > MAX_KEY_BYTES:
        raise _service_error(
            method,
            414,
            f"UTF-8 encoded length of {len(encoded)} exceeds key length limit of {MAX_KEY_BYTES}.",
        )
    return encoded


def _check_bulk_key(key: Any) -> bytes:
    # Bulk keys go to the service unchecked by workerd; the service answers 400/414.
    name = _coerce_key(key)
    if name == "":
        raise _service_error("GET_BULK", 400, "Key names must not be empty")
    if name in (".", ".."):
        raise _service_error(
            "GET_BULK", 400, f'Illegal key name "{name}". Please use a different name.'
        )
    encoded = _utf8(name)
    if len(encoded) > MAX_KEY_BYTES:
        raise _service_error(
            "GET_BULK",
            414,
            f"UTF-8 encoded length of {len(encoded)} exceeds key length limit of {MAX_KEY_BYTES}.",
        )
    return encoded


def _options(
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    allowed: frozenset[str],
    *,
    type_shorthand: bool = False,
) -> dict[str, Any]:
    """Merge the SDK's ways of passing options into one dict.

    The SDK passes positional arguments through and turns keyword arguments into a
    trailing JS options object, so ``f(k, type="json")``, ``f(k, {"type": "json"})``
    and (for get) ``f(k, "json")`` all reach workerd as one options argument.
    """
    if len(args) > 1:
        raise TypeError(f"{method}() takes at most one options argument, got {len(args)}")
    if args and kwargs:
        # In production the keyword object would be a second, ignored argument.
        raise TypeError(
            f"{method}() got both an options argument and keyword options; pass one or the other"
        )
    if args:
        given = args[0]
        if given is None:
            return {}
        if isinstance(given, str) and type_shorthand:
            return {"type": given}
        if not isinstance(given, Mapping):
            raise TypeError(f"{method}() options must be a dict, not {type(given).__name__}")
        options = dict(given)
    else:
        options = kwargs
    unknown = sorted(set(options) - allowed)
    if unknown:
        # Production silently ignores unknown names (a typo such as cache_ttl
        # would be lost); failing here surfaces the bug before deploy.
        raise TypeError(
            f"{method}() got unknown option(s) {', '.join(unknown)}; "
            f"valid options: {', '.join(sorted(allowed))}"
        )
    return options


def _value_type(options: Mapping[str, Any], allowed: Sequence[str]) -> str:
    if "type" not in options:
        return "text"
    raw = options["type"]
    value_type = raw if isinstance(raw, str) else js_string(raw)
    if value_type not in allowed:
        raise KVTypeError(
            'Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".'
        )
    return value_type


def _check_cache_ttl(method: str, options: Mapping[str, Any]) -> None:
    if "cacheTtl" not in options:
        return
    cache_ttl = _js_int(options["cacheTtl"])
    if cache_ttl < MIN_CACHE_TTL:
        raise _service_error(
            method,
            400,
            f"Invalid cache_ttl of {cache_ttl}. Cache TTL must be at least {MIN_CACHE_TTL}.",
        )


def _put_body(value: Any) -> bytes:
    """Turn a put() value into bytes as the SDK plus workerd would."""
    if isinstance(value, str):
        return _utf8(value)
    if isinstance(value, bytes):
        return value
    _rpc_type_check(value)
    if isinstance(value, memoryview):
        return value.tobytes()
    if value is None or isinstance(value, (bool, int, float)):
        # workerd's PutBody takes primitives as strings: put(k, 5) stores "5".
        return js_string(value).encode("utf-8")
    try:
        # Other buffers (array.array...) become TypedArrays, which workerd accepts.
        with memoryview(value) as view:
            return view.tobytes()
    except TypeError:
        pass
    raise KVTypeError(
        "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and "
        "ReadableStreams as values."
    )


def _check_rpc_metadata(value: Any) -> None:
    _rpc_type_check(value)
    if isinstance(value, dict):
        for item in value.values():
            _check_rpc_metadata(item)
    elif isinstance(value, builtins.list):
        for item in value:
            _check_rpc_metadata(item)


def _metadata_json(metadata: Any) -> str:
    _check_rpc_metadata(metadata)
    try:
        # Compact separators and raw UTF-8 match JSON.stringify, so the 1024-byte
        # limit counts the same bytes production counts.
        return json.dumps(metadata, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"KV metadata must be JSON-serializable: {exc}") from None


def _encode_cursor(last_key: bytes) -> str:
    return base64.urlsafe_b64encode(last_key).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise _service_error("GET", 400, f"Invalid cursor {cursor!r}.") from None


def _prefix_upper_bound(prefix: bytes) -> bytes | None:
    """Return the smallest byte string greater than every string with ``prefix``."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def _text(data: bytes) -> str:
    # A JS string read from bytes replaces invalid UTF-8 with U+FFFD.
    return data.decode("utf-8", "replace")


def _parse_json_value(data: bytes) -> Any:
    try:
        return js_json_parse(_text(data))
    except ValueError as exc:
        # V8's wording cannot be reproduced; the class (SyntaxError) is what matters.
        raise KVError(f"Invalid JSON value: {exc}", name="SyntaxError") from None


def _shape_value(data: bytes, value_type: str) -> Any:
    if value_type == "text":
        return _text(data)
    if value_type == "json":
        return _parse_json_value(data)
    if value_type == "arrayBuffer":
        # Pyodide's to_py() of an ArrayBuffer is a writable memoryview.
        return memoryview(bytearray(data))
    return ReadableStream.of_bytes(data, STREAM_CHUNK_SIZE)


def _metadata_value(metadata: str | None) -> Any:
    return None if metadata is None else js_json_parse(metadata)


class KVStorage:
    """Own one SQLite file that stores every emulated KV namespace.

    Safe to share between threads (one connection behind a lock) and between
    processes (WAL mode, busy timeout). ``clock`` returns seconds since the epoch
    and decides expiration, so tests can move time without sleeping.
    """

    def __init__(
        self, path: str | os.PathLike[str], clock: Callable[[], float] = time.time
    ) -> None:
        self._path = os.fspath(path)
        self._clock = clock
        self._lock = threading.Lock()
        if self._path != ":memory:":
            parent = os.path.dirname(os.path.abspath(self._path))
            os.makedirs(parent, exist_ok=True)
        # isolation_level=None: autocommit; multi-statement writes open their own
        # transaction explicitly.
        conn = sqlite3.connect(
            self._path, timeout=5.0, check_same_thread=False, isolation_level=None
        )
        try:
            self._init_schema(conn)
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn

    @staticmethod
    def _init_schema(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across application crashes in WAL mode; only a power
        # loss can drop the last commits, which is acceptable for local emulation.
        conn.execute("PRAGMA synchronous=NORMAL")
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version > _SCHEMA_VERSION:
            raise RuntimeError(
                f"KV database schema version {version} is newer than this edgeline "
                f"supports ({_SCHEMA_VERSION})"
            )
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    @property
    def path(self) -> str:
        """Return the database path as given."""
        return self._path

    @property
    def closed(self) -> bool:
        """Return whether ``close()`` has been called."""
        return self._conn is None

    def namespace(self, namespace_id: str) -> KVNamespace:
        """Return the binding object for namespace ``namespace_id``."""
        if not isinstance(namespace_id, str) or not namespace_id:
            raise ValueError("namespace_id must be a non-empty str")
        return KVNamespace(self, namespace_id)

    def namespace_ids(self) -> builtins.list[str]:
        """Return the ids of namespaces that hold at least one live key, sorted."""
        with self._lock:
            conn = self._connection()
            rows = conn.execute(
                "SELECT DISTINCT namespace FROM kv_entries "
                "WHERE expiration IS NULL OR expiration > ? ORDER BY namespace",
                (self._clock(),),
            ).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        """Close the database; later calls on this storage raise ``RuntimeError``."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else "open"
        return f"KVStorage({self._path!r}, {state})"

    # -- storage primitives, called by SyncKVNamespace -----------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("KVStorage is closed")
        return self._conn

    def _now(self) -> float:
        return float(self._clock())

    def _purge_expired(self, conn: sqlite3.Connection, now: float) -> None:
        # Lazy purge: expired rows are filtered out of every read and deleted on
        # writes and listings; the partial index keeps this cheap.
        conn.execute(
            "DELETE FROM kv_entries WHERE expiration IS NOT NULL AND expiration <= ?", (now,)
        )

    def _read(self, namespace: str, key: bytes) -> tuple[bytes, str | None] | None:
        with self._lock:
            row = (
                self._connection()
                .execute(
                    "SELECT value, metadata FROM kv_entries WHERE namespace = ? AND key = ? "
                    "AND (expiration IS NULL OR expiration > ?)",
                    (namespace, key, self._now()),
                )
                .fetchone()
            )
        return None if row is None else (bytes(row[0]), row[1])

    def _read_many(
        self, namespace: str, keys: Sequence[bytes]
    ) -> dict[bytes, tuple[bytes, str | None]]:
        marks = ",".join("?" * len(keys))
        with self._lock:
            rows = (
                self._connection()
                .execute(
                    f"SELECT key, value, metadata FROM kv_entries WHERE namespace = ? "
                    f"AND key IN ({marks}) AND (expiration IS NULL OR expiration > ?)",
                    (namespace, *keys, self._now()),
                )
                .fetchall()
            )
        return {bytes(row[0]): (bytes(row[1]), row[2]) for row in rows}

    def _write(
        self,
        namespace: str,
        key: bytes,
        value: bytes,
        metadata: str | None,
        expiration: int | None,
    ) -> None:
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._purge_expired(conn, self._now())
                conn.execute(
                    "INSERT OR REPLACE INTO kv_entries "
                    "(namespace, key, value, metadata, expiration) VALUES (?, ?, ?, ?, ?)",
                    (namespace, key, value, metadata, expiration),
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _remove(self, namespace: str, key: bytes) -> None:
        with self._lock:
            self._connection().execute(
                "DELETE FROM kv_entries WHERE namespace = ? AND key = ?", (namespace, key)
            )

    def _scan(
        self, namespace: str, prefix: bytes, after: bytes | None, limit: int
    ) -> builtins.list[tuple[bytes, str | None, int | None]]:
        clauses = ["namespace = ?", "key >= ?", "(expiration IS NULL OR expiration > ?)"]
        with self._lock:
            conn = self._connection()
            now = self._now()
            params: builtins.list[Any] = [namespace, prefix, now]
            upper = _prefix_upper_bound(prefix)
            if upper is not None:
                clauses.append("key < ?")
                params.append(upper)
            if after is not None:
                clauses.append("key > ?")
                params.append(after)
            params.append(limit)
            self._purge_expired(conn, now)
            rows = conn.execute(
                "SELECT key, metadata, expiration FROM kv_entries WHERE "
                + " AND ".join(clauses)
                + " ORDER BY key LIMIT ?",
                params,
            ).fetchall()
        return [(bytes(row[0]), row[1], row[2]) for row in rows]


class SyncKVNamespace:
    """Run the KV binding API synchronously against a ``KVStorage``.

    Same method names, arguments, results and errors as ``KVNamespace``, without
    ``await``: meant for CLI commands (``edgeline kv ...``, config push/pull) and
    tests that have no event loop.
    """

    __slots__ = ("_id", "_storage")

    def __init__(self, storage: KVStorage, namespace_id: str) -> None:
        self._storage = storage
        self._id = namespace_id

    @property
    def id(self) -> str:
        """Return the namespace id."""
        return self._id

    def get(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        """Return a value (or ``None``), or a dict of values for a list of keys."""
        return self._get("get", key, args, kwargs, with_metadata=False)

    def getWithMetadata(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        """Return ``JsDict(value, metadata, cacheStatus)``, or a dict for a key list."""
        return self._get("getWithMetadata", key, args, kwargs, with_metadata=True)

    def _get(self, method: str, key: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *,
             with_metadata: bool) -> Any:
        options = _options(method, args, kwargs, _GET_OPTIONS, type_shorthand=True)
        if isinstance(key, builtins.list):
            return self._get_bulk(key, options, with_metadata=with_metadata)
        encoded = _check_key("GET", key)
        value_type = _value_type(options, _VALUE_TYPES)
        _check_cache_ttl("GET", options)
        found = self._storage._read(self._id, encoded)
        if not with_metadata:
            return None if found is None else _shape_value(found[0], value_type)
        if found is None:
            return JsDict(value=None, metadata=None, cacheStatus=None)
        data, metadata = found
        return JsDict(
            value=_shape_value(data, value_type),
            metadata=_metadata_value(metadata),
            cacheStatus=None,
        )

    def _get_bulk(
        self, keys: builtins.list[Any], options: Mapping[str, Any], *, with_metadata: bool
    ) -> JsDict:
        # workerd forwards bulk reads unchecked; the KV service checks the type, the
        # key count, then each key, in that order.
        raw_type = options.get("type", "text")
        value_type = raw_type if isinstance(raw_type, str) else js_string(raw_type)
        if value_type not in _BULK_TYPES:
            raise _service_error(
                "GET_BULK", 400, f'"{value_type}" is not a valid type. Use "json" or "text"'
            )
        if len(keys) > MAX_BULK_KEYS:
            raise _service_error(
                "GET_BULK", 400, f"You can request a maximum of {MAX_BULK_KEYS} keys"
            )
        if not keys:
            raise _service_error("GET_BULK", 400, "You must request a minimum of 1 key")
        names = [_coerce_key(key) for key in keys]
        encoded = [_check_bulk_key(name) for name in names]
        _check_cache_ttl("GET_BULK", options)
        found = self._storage._read_many(self._id, builtins.list(dict.fromkeys(encoded)))
        result = JsDict()
        total = 0
        for name, raw in zip(names, encoded, strict=True):
            entry = found.get(raw)
            if entry is None:
                result[name] = None
                continue
            data, metadata = entry
            total += len(data)
            if value_type == "json":
                try:
                    value = js_json_parse(_text(data))
                except ValueError:
                    raise _service_error(
                        "GET_BULK",
                        400,
                        "At least one of the requested keys corresponds to a non-json value",
                    ) from None
            else:
                value = _text(data)
            if with_metadata:
                value = JsDict(value=value, metadata=_metadata_value(metadata))
            result[name] = value
        if total > MAX_BULK_BYTES:
            raise _service_error(
                "GET_BULK",
                413,
                f"Total size of request exceeds the limit of {MAX_BULK_BYTES // 1024 // 1024}MB",
            )
        return result

    def put(self, key: Any, value: Any, *args: Any, **kwargs: Any) -> None:
        """Store ``value`` under ``key`` with optional expiration and metadata."""
        encoded = _check_key("PUT", key)
        body = _put_body(value)
        options = _options("put", args, kwargs, _PUT_OPTIONS)
        now = math.floor(self._storage._now())
        expiration: int | None = None
        # expirationTtl wins when both are given (KV REST API docs, bulk write).
        if "expirationTtl" in options:
            ttl = _js_int(options["expirationTtl"])
            if ttl <= 0:
                raise _service_error(
                    "PUT",
                    400,
                    f"Invalid expiration_ttl of {ttl}. Please specify integer greater than 0.",
                )
            if ttl < MIN_EXPIRATION_TTL:
                raise _service_error(
                    "PUT",
                    400,
                    f"Invalid expiration_ttl of {ttl}. Expiration TTL must be at least "
                    f"{MIN_EXPIRATION_TTL}.",
                )
            expiration = now + ttl
        elif "expiration" in options:
            expiration = _js_int(options["expiration"])
            if expiration <= now:
                raise _service_error(
                    "PUT",
                    400,
                    f"Invalid expiration of {expiration}. Please specify integer greater "
                    "than the current number of seconds since the UNIX epoch.",
                )
            if expiration < now + MIN_EXPIRATION_TTL:
                raise _service_error(
                    "PUT",
                    400,
                    f"Invalid expiration of {expiration}. Expiration times must be at least "
                    f"{MIN_EXPIRATION_TTL} seconds in the future.",
                )
        metadata: str | None = None
        if options.get("metadata") is not None:
            metadata = _metadata_json(options["metadata"])
            size = len(metadata.encode("utf-8"))
            if size > MAX_METADATA_BYTES:
                raise _service_error(
                    "PUT",
                    413,
                    f"Metadata length of {size} exceeds limit of {MAX_METADATA_BYTES}.",
                )
        if len(body) > MAX_VALUE_BYTES:
            raise _service_error(
                "PUT", 413, f"Value length of {len(body)} exceeds limit of {MAX_VALUE_BYTES}."
            )
        self._storage._write(self._id, encoded, body, metadata, expiration)

    def delete(self, key: Any) -> None:
        """Delete ``key``; deleting a missing key succeeds."""
        self._storage._remove(self._id, _check_key("DELETE", key))

    def list(self, *args: Any, **kwargs: Any) -> JsDict:
        """Return one page of keys: ``JsDict(keys, list_complete, [cursor], cacheStatus)``."""
        options = _options("list", args, kwargs, _LIST_OPTIONS)
        limit = _js_int(options.get("limit"))
        # workerd sends the limit only when it is positive; otherwise the service
        # uses its default, which is also the maximum.
        if limit <= 0:
            limit = MAX_LIST_LIMIT
        elif limit > MAX_LIST_LIMIT:
            raise _service_error(
                "GET",
                400,
                f"Invalid key_count_limit of {limit}. Please specify an integer less than "
                f"{MAX_LIST_LIMIT}.",
            )
        raw_prefix = options.get("prefix")
        prefix = b"" if raw_prefix is None else _utf8(_coerce_key(raw_prefix))
        if len(prefix) > MAX_KEY_BYTES:
            raise _service_error(
                "GET",
                414,
                f"UTF-8 encoded length of {len(prefix)} exceeds key length limit of "
                f"{MAX_KEY_BYTES}.",
            )
        raw_cursor = options.get("cursor")
        after = None if raw_cursor in (None, "") else _decode_cursor(js_string(raw_cursor))
        # One extra row tells whether another page exists without a COUNT query.
        rows = self._storage._scan(self._id, prefix, after, limit + 1)
        page = rows[:limit]
        keys: builtins.list[JsDict] = []
        for name, metadata, expiration in page:
            entry = JsDict(name=name.decode("utf-8"))
            if expiration is not None:
                entry["expiration"] = expiration
            if metadata is not None:
                entry["metadata"] = js_json_parse(metadata)
            keys.append(entry)
        result = JsDict(keys=keys, list_complete=len(rows) <= limit)
        if not result["list_complete"]:
            result["cursor"] = _encode_cursor(page[-1][0])
        result["cacheStatus"] = None
        return result

    def __repr__(self) -> str:
        return f"SyncKVNamespace({self._id!r})"


class KVNamespace:
    """Act as a Workers KV binding (``env.MY_KV``) backed by a ``KVStorage``.

    Methods keep the JS names and the SDK's call shapes; see the module docstring.
    The SQLite work runs inline: on a local disk it takes microseconds, far less
    than handing it to a thread would.
    """

    __slots__ = ("_sync",)

    def __init__(self, storage: KVStorage, namespace_id: str) -> None:
        self._sync = SyncKVNamespace(storage, namespace_id)

    @property
    def id(self) -> str:
        """Return the namespace id."""
        return self._sync.id

    @property
    def sync(self) -> SyncKVNamespace:
        """Return the synchronous view of this namespace."""
        return self._sync

    async def get(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        """Return a value (or ``None``), or a dict of values for a list of keys."""
        return self._sync.get(key, *args, **kwargs)

    async def getWithMetadata(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        """Return ``JsDict(value, metadata, cacheStatus)``, or a dict for a key list."""
        return self._sync.getWithMetadata(key, *args, **kwargs)

    async def put(self, key: Any, value: Any, *args: Any, **kwargs: Any) -> None:
        """Store ``value`` under ``key`` with optional expiration and metadata."""
        self._sync.put(key, value, *args, **kwargs)

    async def delete(self, key: Any) -> None:
        """Delete ``key``; deleting a missing key succeeds."""
        self._sync.delete(key)

    async def list(self, *args: Any, **kwargs: Any) -> JsDict:
        """Return one page of keys: ``JsDict(keys, list_complete, [cursor], cacheStatus)``."""
        return self._sync.list(*args, **kwargs)

    def __repr__(self) -> str:
        return f"KVNamespace({self.id!r})"
