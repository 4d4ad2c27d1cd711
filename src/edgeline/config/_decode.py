"""Decode a configuration document (JSON from KV, or JSON/TOML from a file) into its Struct.

Every way a document can be bad ends in :class:`ConfigInvalid` naming the
field path, what was expected and, when the text is at hand, the line:
malformed or truncated JSON, TOML syntax errors, wrong types, unknown
fields, values out of range, a ``version`` newer than this code reads, and
values over Workers KV's size limits. Nothing else escapes.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any, Final

import msgspec

import kv_schemas

from ._errors import ConfigInvalid, Problem
from ._limits import MAX_KEY_BYTES, MAX_VALUE_BYTES, check_key, check_value_size
from ._locate import line_of

__all__ = [
    "MAX_KEY_BYTES",
    "MAX_VALUE_BYTES",
    "check_key",
    "check_value_size",
    "convert_config",
    "decode_config",
    "load_file",
]

# developers.cloudflare.com/kv/platform/limits/: keys up to 512 bytes, values up to 25 MiB.
_AT = re.compile(r"^(?P<msg>.*) - at `(?P<path>[^`]*)`( in `(?P<parent>[^`]*)`)?$", re.S)
_BYTE = re.compile(r"\(byte (\d+)\)")


class _Header(msgspec.Struct):
    """Only the version of a document; unknown fields allowed (read on the error path)."""

    version: Any = None


_HEADER_DECODER: Final = msgspec.json.Decoder(_Header)



def _text(data: bytes | str) -> str:
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


def _validation_problem(exc: msgspec.ValidationError, text: str | None, *, toml: bool) -> Problem:
    message = str(exc)
    path = "$"
    match = _AT.match(message)
    if match is not None:
        message = match.group("msg")
        if match.group("parent"):
            # "- at `key` in `$.x`": a mapping key was invalid.
            path = match.group("parent")
            message = f"{message} (a key)"
        else:
            path = match.group("path")
    line = line_of(text, path, toml=toml) if text is not None else None
    return Problem(path, message, line)


def _newer_version(version: Any, newest: int) -> Problem | None:
    if type(version) is int and version > newest:
        return Problem(
            "$.version",
            f"version {version} is newer than this code reads (up to {newest}); deploy the "
            f"newer code first, or write the document for version {newest}",
        )
    return None


def _check_version(kind: str, obj: Any, text: str | None, problems: list[Problem],
                   *, toml: bool) -> None:
    newest = kv_schemas.VERSIONS[kind]
    problem = _newer_version(getattr(obj, "version", None), newest)
    if problem is not None:
        if text is not None:
            problem.line = line_of(text, "$.version", toml=toml)
        problems.insert(0, problem)


def decode_config(
    data: bytes | str, *, kind: str = "edge-config", source: str | None = None,
) -> Any:
    """Decode JSON ``data`` into the Struct of ``kind``; raise ConfigInvalid if it is bad."""
    check_value_size(data, source=source)
    try:
        value = kv_schemas.DECODERS[kind].decode(data)
    except msgspec.ValidationError as exc:
        text = _text(data)
        problems = [_validation_problem(exc, text, toml=False)]
        try:
            header = _HEADER_DECODER.decode(data)
        except (msgspec.MsgspecError, UnicodeDecodeError):
            header = None
        # Rule 6 of kv_schemas: unknown fields from a newer version are reported as such.
        _check_version(kind, header, text, problems, toml=False)
        raise ConfigInvalid(problems, source=source) from None
    except msgspec.DecodeError as exc:
        text = _text(data)
        message = str(exc)
        found = _BYTE.search(message)
        if found is not None:
            line = _line_at_byte(data, int(found.group(1)))
        elif "truncated" in message:
            line = text.count("\n") + 1
            message = "JSON ends early (truncated): " + message
        else:
            line = None
        raise ConfigInvalid([Problem("$", message, line)], source=source) from None
    except UnicodeDecodeError as exc:
        # msgspec checks UTF-8 lazily, field names included (RFC 8259 §8.1: JSON is UTF-8).
        raise ConfigInvalid([Problem(
            "$", f"not valid UTF-8 at byte {exc.start}: {exc.reason}",
            _line_at_byte(data, exc.start))], source=source) from None
    newer: list[Problem] = []
    _check_version(kind, value, None, newer, toml=False)
    if newer:
        newer[0].line = line_of(_text(data), "$.version")
        raise ConfigInvalid(newer, source=source)
    return value


def _line_at_byte(data: bytes | str, offset: int) -> int:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    return raw.count(b"\n", 0, offset) + 1


def convert_config(
    obj: Any, *, kind: str = "edge-config", text: str | None = None, toml: bool = False,
    source: str | None = None,
) -> Any:
    """Convert plain data (from TOML or JSON) into the Struct of ``kind``."""
    if not isinstance(obj, dict):
        raise ConfigInvalid([Problem("$", f"Expected `object`, got `{type(obj).__name__}`",
                                     1)], source=source)
    try:
        value = msgspec.convert(obj, kv_schemas.KINDS[kind])
    except msgspec.ValidationError as exc:
        problems = [_validation_problem(exc, text, toml=toml)]
        _check_version(kind, _Header(obj.get("version")), text, problems, toml=toml)
        raise ConfigInvalid(problems, source=source) from None
    found: list[Problem] = []
    _check_version(kind, value, text, found, toml=toml)
    if found:
        raise ConfigInvalid(found, source=source)
    return value


def load_file(path: str, *, kind: str = "edge-config") -> Any:
    """Read a JSON or TOML (by the ``.toml`` suffix) configuration file and decode it."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ConfigInvalid([Problem("$", f"cannot read the file: {exc.strerror}")],
                            source=path) from None
    if not path.endswith(".toml"):
        return decode_config(raw, kind=kind, source=path)
    check_value_size(raw, source=path)
    text = raw.decode("utf-8", "replace")
    try:
        obj = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = re.search(r"line (\d+)", message)
        raise ConfigInvalid([Problem("$", message, int(found.group(1)) if found else None)],
                            source=path) from None
    return convert_config(obj, kind=kind, text=text, toml=True, source=path)
