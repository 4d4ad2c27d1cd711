"""``workers.Request``: the SDK's wrapper around a web ``Request``."""

from __future__ import annotations

import json
from http import HTTPMethod
from typing import Any

from ._web import JsBuffer, JsObject, ReadableStream, WebHeaders, WebRequest
from .blob import Blob
from .formdata import FormData
from .utils import _js_body, _js_headers_to_http_message, _to_js_headers


class Request:
    def __init__(self, input: Request | str | WebRequest, **other_options: Any) -> None:
        if isinstance(input, WebRequest):
            if other_options:
                raise ValueError("Expected no options when constructing Request from a js.Request")
            self._js_request = input
            return
        method = other_options.pop("method", None)
        if isinstance(method, HTTPMethod):
            method = method.value
        headers = other_options.pop("headers", None)
        body = other_options.pop("body", None)
        redirect = other_options.pop("redirect", None)
        cf = other_options.pop("cf", None)
        # NOTE: the rest of RequestInit (duplex, integrity, signal, ...) is passed
        # to the web Request, which ignores members it does not act on; so here.
        other_options.clear()
        base = input._js_request if isinstance(input, Request) else None
        js_headers = (_to_js_headers(headers) if headers is not None
                      else WebHeaders(base.headers) if base is not None else WebHeaders())
        if body is None and base is not None:
            body = base.body
        self._js_request = WebRequest(
            base.url if base is not None else str(input),
            method=method or (base.method if base is not None else "GET"),
            headers=js_headers,
            body=_js_body(body, js_headers),
            cf=JsObject(cf) if isinstance(cf, dict) else (base.cf if base is not None else None),
            redirect=redirect or (base.redirect if base is not None else "follow"),
        )

    def __repr__(self) -> str:
        return f"Request(method={self._js_request.method!r}, url={self._js_request.url!r})"

    @property
    def js_object(self) -> WebRequest:
        return self._js_request

    @property
    def body(self) -> ReadableStream | None:
        return self._js_request.body

    @property
    def body_used(self) -> bool:
        return self._js_request.bodyUsed

    @property
    def cf(self) -> JsObject | None:
        return self._js_request.cf

    @property
    def cache(self) -> str:
        return "default"

    @property
    def credentials(self) -> str:
        return "same-origin"

    @property
    def destination(self) -> str:
        return ""

    @property
    def headers(self) -> Any:
        return _js_headers_to_http_message(self._js_request.headers)

    @property
    def integrity(self) -> str:
        return ""

    @property
    def is_history_navigation(self) -> bool:
        return False

    @property
    def keepalive(self) -> bool:
        return False

    @property
    def method(self) -> HTTPMethod:
        return HTTPMethod[self._js_request.method]

    @property
    def mode(self) -> str:
        return "cors"

    @property
    def redirect(self) -> str:
        return self._js_request.redirect

    @property
    def referrer(self) -> str:
        return "about:client"

    @property
    def referrer_policy(self) -> str:
        return ""

    @property
    def url(self) -> str:
        return self._js_request.url

    def _raise_if_failed(self) -> None:
        if self.body_used:
            raise OSError("Body already used")

    async def buffer(self) -> JsBuffer:
        self._raise_if_failed()
        return await self._js_request.arrayBuffer()

    async def form_data(self) -> FormData:
        self._raise_if_failed()
        content_type = self._js_request.headers.get("content-type") or ""
        return FormData._decode(await self._js_request._consume(), content_type)

    async def blob(self) -> Blob:
        self._raise_if_failed()
        content_type = self._js_request.headers.get("content-type")
        return Blob([await self._js_request._consume()], content_type)

    async def bytes(self) -> bytes:
        self._raise_if_failed()
        return (await self.buffer()).to_bytes()

    def clone(self) -> Request:
        if self.body_used:
            raise OSError("Body already used")
        return Request(self._js_request.clone())

    async def json(self, **kwargs: Any) -> Any:
        self._raise_if_failed()
        return json.loads(await self.text(), **kwargs)

    async def text(self) -> str:
        self._raise_if_failed()
        return await self._js_request.text()
