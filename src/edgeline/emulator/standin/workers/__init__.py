"""edgeline's stand-in for Cloudflare's Python Workers SDK (``workers-runtime-sdk``).

Installed as the ``workers`` module by the local emulator and the tests, so a
worker written against the real SDK runs unmodified under CPython. The
public names, signatures and behaviour follow the real package; where the
emulator cannot match workerd, the README's "Known differences" says so.
"""

from typing import Any

from .blob import Blob, BlobEnding, BlobValue, File
from .entrypoints import DurableObject, WorkerEntrypoint, WorkflowEntrypoint, handler
from .fetch import fetch
from .formdata import FormData, FormDataValue
from .request import Request
from .response import FetchResponse, Response
from .rpc import _EnvWrapper, python_from_rpc, python_to_rpc
from .types import Body, Context, FetchKwargs, Headers, JSBody, RequestInitCfProperties
from .utils import import_from_javascript, patch_env

__all__ = [
    "Blob",
    "BlobEnding",
    "BlobValue",
    "Body",
    "Context",
    "DurableObject",
    "FetchKwargs",
    "FetchResponse",
    "File",
    "FormData",
    "FormDataValue",
    "Headers",
    "JSBody",
    "Request",
    "RequestInitCfProperties",
    "Response",
    "WorkerEntrypoint",
    "WorkflowEntrypoint",
    "env",
    "fetch",
    "handler",
    "import_from_javascript",
    "patch_env",
    "python_from_rpc",
    "python_to_rpc",
    "waitUntil",
    "wait_until",
]

EDGELINE_STANDIN = True


def __getattr__(key: str) -> Any:
    if key == "env":
        return _EnvWrapper(import_from_javascript("cloudflare:workers").env)
    if key in ("wait_until", "waitUntil"):
        return import_from_javascript("cloudflare:workers").waitUntil
    raise AttributeError(f"module {__name__!r} has no attribute {key!r}")
