"""``workers.Response`` and ``FetchResponse``, over the web ``Response`` model.

``FetchResponse`` follows ``pyodide.http.FetchResponse`` (which the SDK
subclasses): ``status``, ``ok``, ``buffer()``, ``bytes()``, ``text()``,
``json()``, ``raise_for_status()`` and the rest.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, Never

from ._web import JsBuffer, ReadableStream, WebHeaders, WebResponse
from .blob import Blob
from .formdata import FormData
from .utils import (
    RESPONSE_ACCEPTED_TYPES,
    _get_js_constructor_name,
    _js_body,
    _js_headers_to_http_message,
    _to_js_headers,
)


class HttpStatusError(OSError):
    """Raised by ``raise_for_status`` for a 4xx or 5xx response (as in Pyodide)."""

    def __init__(self, status: int, status_text: str, url: str) -> None:
        self.status = status
        self.status_text = status_text
        self.url = url
        kind = "Client" if 400 <= status < 500 else "Server"
        super().__init__(f"{status} {kind} Error: {status_text} for url: {url}")


class BodyUsedError(OSError):
    def __init__(self, *args: Any) -> None:
        super().__init__("Response body is already used")


class FetchResponse:
    def __init__(self, url: str, js_response: WebResponse) -> None:
        self._url = url
        self.js_response = js_response

    @property
    def body(self) -> ReadableStream | None:
        return self.js_response.body

    @property
    def js_object(self) -> WebResponse:
        return self.js_response

    @property
    def headers(self) -> Any:
        return _js_headers_to_http_message(self.js_response.headers)

    @property
    def body_used(self) -> bool:
        return self.js_response.bodyUsed

    @property
    def ok(self) -> bool:
        return self.js_response.ok

    @property
    def redirected(self) -> bool:
        return self.js_response.redirected

    @property
    def status(self) -> int:
        return self.js_response.status

    @property
    def status_text(self) -> str:
        return self.js_response.statusText

    @property
    def type(self) -> str:
        return self.js_response.type

    @property
    def url(self) -> str:
        return self.js_response.url

    def _raise_if_failed(self) -> None:
        if self.js_response.bodyUsed:
            raise BodyUsedError

    def raise_for_status(self) -> None:
        if 400 <= self.status < 600:
            raise HttpStatusError(self.status, self.status_text, self.url)

    def clone(self) -> FetchResponse:
        if self.js_response.bodyUsed:
            raise BodyUsedError
        return Response(self.js_response.clone())

    async def buffer(self) -> JsBuffer:
        self._raise_if_failed()
        return await self.js_response.arrayBuffer()

    async def text(self) -> str:
        self._raise_if_failed()
        return await self.js_response.text()

    async def string(self) -> str:
        return await self.text()

    async def _read_json(self, **kwargs: Any) -> Any:
        self._raise_if_failed()
        return json.loads(await self.text(), **kwargs)

    async def memoryview(self) -> memoryview:
        self._raise_if_failed()
        return (await self.buffer()).to_memoryview()

    async def bytes(self) -> bytes:
        self._raise_if_failed()
        return (await self.buffer()).to_bytes()

    async def formData(self) -> FormData:
        return await self.form_data()

    async def form_data(self) -> FormData:
        self._raise_if_failed()
        content_type = self.js_response.headers.get("content-type") or ""
        return FormData._decode(await self.js_response._consume(), content_type)

    async def blob(self) -> Blob:
        self._raise_if_failed()
        return Blob([await self.js_response._consume()], self.js_response.headers.get("content-type"))

    def replace_body(self, body: Any) -> Response:
        """Return a Response with this one's status and headers and a new body."""
        old = self.js_response
        headers = WebHeaders(old.headers)
        js_body = _js_body(body, headers)
        if isinstance(js_body, bytes):
            js_body = JsBuffer(js_body)
        return Response(WebResponse(js_body, status=old.status, statusText=old.statusText,
                                    headers=headers))

    @staticmethod
    def redirect(url: str, status: HTTPStatus | int = HTTPStatus.FOUND) -> WebResponse:
        code = status.value if isinstance(status, HTTPStatus) else status
        return WebResponse.redirect(url, code)

    @staticmethod
    def from_json(
        data: Any,
        status: HTTPStatus | int = HTTPStatus.OK,
        status_text: str = "",
        headers: Any = None,
    ) -> Response:
        options = Response._create_options(status, status_text, headers)
        js_headers = options.setdefault("headers", WebHeaders())
        if not js_headers.has("content-type"):
            js_headers.set("content-type", "application/json")
        return Response(WebResponse(json.dumps(data), **options))

    def json(self, *args: Never, **kwargs: Never) -> Any:
        """Read the body as JSON; called on the class, ``Response.json(data)`` builds one."""
        if isinstance(self, FetchResponse):
            return self._read_json()
        # Static use, Response.json(data), means Response.from_json(data), as in the SDK.
        return Response.from_json(self, *args, **kwargs)


class Response(FetchResponse):
    """The response to a request, like the web ``Response``."""

    def __init__(
        self,
        body: Any = None,
        status: HTTPStatus | int | None = None,
        status_text: str = "",
        headers: Any = None,
        web_socket: Any = None,
    ) -> None:
        js_type = _get_js_constructor_name(body)
        if js_type:
            if js_type not in RESPONSE_ACCEPTED_TYPES:
                raise TypeError(f"Unsupported type in Response: {js_type}")
        elif not isinstance(body, str | FormData | bytes) and body is not None:
            raise TypeError(f"Unsupported type in Response: {type(body).__name__}")
        if isinstance(body, WebResponse):
            if status is not None or status_text or headers is not None:
                raise ValueError("Expected no options when constructing Response from a js.Response")
            super().__init__(body.url, body)
            return
        options = self._create_options(status, status_text, headers, web_socket)
        js_headers = options.get("headers")
        if isinstance(body, FormData):
            js_headers = options.setdefault("headers", WebHeaders())
        js_resp = WebResponse(_js_body(body, js_headers), **options)
        super().__init__(js_resp.url, js_resp)

    def __repr__(self) -> str:
        parts = [f"status={self.status}"]
        if self.js_response.statusText:
            parts.append(f"status_text={self.status_text!r}")
        content_type = self.js_response.headers.get("content-type")
        if content_type:
            parts.append(f"content_type={content_type!r}")
        return f"Response({', '.join(parts)})"

    @staticmethod
    def _create_options(
        status: HTTPStatus | int | None = HTTPStatus.OK,
        status_text: str = "",
        headers: Any = None,
        web_socket: Any = None,
    ) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if status:
            options["status"] = status.value if isinstance(status, HTTPStatus) else status
        if status_text:
            options["statusText"] = status_text
        if headers:
            options["headers"] = _to_js_headers(headers)
        if web_socket:
            options["webSocket"] = web_socket
        return options
