"""Give emulated bindings the Python shapes that the Workers SDK hands to worker code.

On Cloudflare, a binding call returns a JS value that the SDK (``workers`` package,
``rpc.python_from_rpc``) converts for Python: plain objects become ``JsDict`` (a dict
that also allows ``d.name``), arrays become lists, ``Map`` becomes a dict, ``null``
becomes ``None``, numbers follow Pyodide's rules, and some objects (``ReadableStream``,
typed arrays) stay JS proxies. The emulator builds those shapes directly with the
helpers here, so worker code sees the same types locally and in production.

Only what the emulated KV needs lives here; the byte streams it returns are the
stand-in SDK's model of ``ReadableStream`` (``workers._web``).
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = [
    "JsDict",
    "js_json_parse",
    "js_string",
    "to_py_shape",
]

# NOTE: Pyodide converts a JS number to int only when it is integral and within
# +-2**53 (docs/usage/type-conversions.md, "JavaScript to Python").
_MAX_SAFE = 2**53


class JsDict(dict[str, Any]):
    """Hold a converted plain JS object: a dict whose keys are also attributes.

    Mirrors ``workers.rpc.JsDict``: keys that collide with dict methods (``keys``,
    ``values``, ``items``...) are reachable only by subscript, exactly as in the SDK.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


def to_py_shape(value: Any) -> Any:
    """Convert parsed JSON data to the shapes ``python_from_rpc`` produces.

    Dicts (at any depth) become ``JsDict``; lists stay lists; scalars are unchanged.
    """
    if isinstance(value, dict):
        return JsDict({k: to_py_shape(v) for k, v in value.items()})
    if isinstance(value, list):
        return [to_py_shape(v) for v in value]
    return value


def _parse_int(text: str) -> int | float:
    number = int(text)
    # A JSON integer beyond 2**53 is a lossy double in JS, and Pyodide hands it
    # over as a float; keep that loss visible locally.
    return number if -_MAX_SAFE <= number <= _MAX_SAFE else float(number)


def _parse_float(text: str) -> int | float:
    number = float(text)
    if number.is_integer() and -_MAX_SAFE <= number <= _MAX_SAFE:
        # JSON.parse("1.0") is the JS number 1, which Pyodide converts to int.
        return int(number)
    return number


def _reject_constant(text: str) -> Any:
    # Python's json accepts NaN/Infinity; JSON.parse does not.
    raise ValueError(f"Unexpected token '{text[0]}', \"{text}\" is not valid JSON")


def js_json_parse(text: str) -> Any:
    """Parse JSON as ``JSON.parse`` would, then convert like the SDK does.

    Raises ``ValueError`` (``json.JSONDecodeError``) on invalid JSON.
    """
    return to_py_shape(
        json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_reject_constant,
        )
    )


def js_string(value: Any) -> str:
    """Coerce a Python primitive the way ``String(x)`` coerces its JS conversion.

    Raises ``TypeError`` for anything that is not ``None``, bool, int, float or str.
    """
    if isinstance(value, str):
        return value
    if value is None:
        # The SDK sends None as JS null, and String(null) is "null".
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    raise TypeError(f"cannot coerce {type(value).__name__} to a JS string")
