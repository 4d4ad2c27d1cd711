"""Conversions shared by the stand-in's classes, named as in the SDK's ``workers.utils``."""

from __future__ import annotations

import http.client
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from . import _runtime
from ._web import ReadableStream, WebHeaders, WebResponse

# The SDK accepts these JavaScript types as a Response body; here, their models.
RESPONSE_ACCEPTED_TYPES = {"Blob", "ArrayBuffer", "Uint8Array", "FormData", "ReadableStream",
                           "URLSearchParams", "Response"}


class HTTPMessageMapping(http.client.HTTPMessage, Mapping):  # type: ignore[misc]
    """Headers as the SDK returns them: an ``http.client.HTTPMessage``."""


def _is_js_instance(val: Any, js_cls_names: str | set[str]) -> bool:
    ctor = getattr(val, "constructor", None)
    if ctor is None:
        return False
    name = getattr(ctor, "name", None)
    if isinstance(js_cls_names, set):
        return name in js_cls_names
    return name == js_cls_names


def _get_js_constructor_name(obj: Any) -> str | None:
    ctor = getattr(obj, "constructor", None)
    return getattr(ctor, "name", None) if ctor is not None else None


def _to_js_headers(headers: Any) -> WebHeaders:
    if isinstance(headers, list):
        return WebHeaders(headers)
    if isinstance(headers, dict):
        return WebHeaders(headers.items())
    if isinstance(headers, WebHeaders):
        return headers
    raise TypeError("Received unexpected type for headers argument")


def _js_headers_to_http_message(js_headers: WebHeaders) -> HTTPMessageMapping:
    result = HTTPMessageMapping()
    if not get_compat_flag("python_request_headers_preserve_commas"):
        for key, val in js_headers:
            result[key] = val.strip()
        return result
    for value in js_headers.getSetCookie():
        result.add_header("Set-Cookie", value.strip())
    for key, val in js_headers:
        if key != "set-cookie":
            result.add_header(key, val.strip())
    return result


def _js_body(body: Any, headers: WebHeaders | None) -> Any:
    """Convert a Python body to what the web model accepts, as ``_get_js_body`` does.

    A FormData body is encoded as multipart and sets Content-Type, as fetch does.
    """
    from .formdata import FormData

    if isinstance(body, FormData):
        data, content_type = body._encode()
        if headers is not None and not headers.has("content-type"):
            headers.set("content-type", content_type)
        return data
    return body


def _jsnull_to_none(x: Any) -> Any:
    return x


def get_compat_flag(flag: str) -> bool:
    return flag in _runtime.compat_flags()


def import_from_javascript(module_name: str) -> Any:
    """Import a JavaScript module; the emulator provides ``cloudflare:workers`` only."""
    if module_name == "cloudflare:workers":
        return _runtime.cloudflare_workers_module()
    raise ImportError(
        f"Failed to import '{module_name}': the edgeline emulator provides only 'cloudflare:workers'"
    )


@contextmanager
def patch_env(d: dict[str, Any] | Sequence[tuple[str, Any]] | None = None, **kwds: Any) -> Iterator[None]:
    """Override entries of the module-level ``workers.env`` for the duration of the block."""
    if d:
        kwds = dict(d) | kwds
    with _runtime.patched_env(kwds):
        yield


__all__ = ["HTTPMessageMapping", "get_compat_flag", "import_from_javascript", "patch_env",
           "RESPONSE_ACCEPTED_TYPES", "ReadableStream", "WebResponse"]
