"""Type aliases and typed dicts of the SDK's ``workers.types``."""

from collections.abc import Awaitable
from http import HTTPMethod
from typing import Any, Protocol, TypeAlias, TypedDict

from ._web import JsBuffer, ReadableStream, WebHeaders
from .blob import Blob
from .formdata import FormData


class Context(Protocol):
    def waitUntil(self, other: Awaitable[Any]) -> None: ...


# The SDK names JavaScript types here; locally they are the emulator's models.
JSBody: TypeAlias = "Blob | JsBuffer | ReadableStream"
Body: TypeAlias = "str | FormData | JSBody"
Headers: TypeAlias = "dict[str, str] | list[tuple[str, str]] | WebHeaders"


class RequestInitCfProperties(TypedDict, total=False):
    """Cloudflare's request-init ``cf`` options; accepted and ignored by the emulator."""

    apps: bool | None
    cacheEverything: bool | None
    cacheKey: str | None
    cacheTags: list[str] | None
    cacheTtl: int
    cacheTtlByStatus: dict[str, int]
    image: Any | None
    mirage: bool | None
    polish: str | None
    resolveOverride: str | None
    scrapeShield: bool | None
    webp: bool | None


class FetchKwargs(TypedDict, total=False):
    headers: "Headers | None"
    body: "Body | None"
    method: HTTPMethod | None
    redirect: str | None
    cf: RequestInitCfProperties | None
    fetcher: Any | None

__all__ = ["Body", "Context", "FetchKwargs", "Headers", "JSBody", "RequestInitCfProperties"]
