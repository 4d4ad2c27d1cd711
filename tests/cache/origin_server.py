"""A scripted test origin: answers each path with the responses a test gave it, counting requests.

``origin.script("/p", [{"status": 200, "headers": [...], "body": "..."}, ...])``
sets the answers for successive requests to ``/p`` (the last repeats);
``origin.requests("/p")`` lists what arrived (method, headers). Like the
cache-tests server, it answers a conditional request with 304 when the
response it would send carries a matching ETag or an older Last-Modified.
An answer may also give ``"delay"`` (seconds before answering) and
``"chunks"`` (``[[text, pause_after], ...]``: the body, sent in pieces).
"""

from __future__ import annotations

import asyncio
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any


def _not_modified(request_headers: dict[str, str], headers: list[tuple[str, str]]) -> bool:
    lowered = {k.lower(): v for k, v in headers}
    inm = request_headers.get("if-none-match")
    if inm is not None and "etag" in lowered:
        want = lowered["etag"].strip()
        return any(t.strip() in (want, want.removeprefix("W/")) for t in inm.split(","))
    ims = request_headers.get("if-modified-since")
    if ims is not None and "last-modified" in lowered:
        try:
            return parsedate_to_datetime(lowered["last-modified"]) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


class ScriptedOrigin:
    """An ASGI app whose answers the test scripts per path."""

    def __init__(self) -> None:
        self._scripts: dict[str, list[dict[str, Any]]] = {}
        self._log: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def script(self, path: str, responses: list[dict[str, Any]]) -> None:
        with self._lock:
            self._scripts[path] = list(responses)
            self._log[path] = []

    def requests(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._log.get(path, []))

    def count(self, path: str) -> int:
        return len(self.requests(path))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        path = scope["path"]
        with self._lock:
            log = self._log.setdefault(path, [])
            index = len(log)
            log.append({"method": scope["method"], "headers": headers, "body": body,
                        "query": scope["query_string"].decode(), "at": time.monotonic()})
            script = self._scripts.get(path) or [{"status": 404, "headers": [], "body": "none"}]
        answer = script[min(index, len(script) - 1)]
        if answer.get("delay"):
            await asyncio.sleep(answer["delay"])
        status = answer.get("status", 200)
        out = [(k, v) for k, v in answer.get("headers", [])]
        if "chunks" in answer:
            payload = "".join(t for t, _ in answer["chunks"]).encode()
        else:
            payload = answer.get("body", f"body {index} of {path}").encode()
        if scope["method"] in ("GET", "HEAD") and answer.get("conditional", True) \
                and _not_modified(headers, out):
            status, payload = 304, b""
        if status not in (204, 304) and "chunks" not in answer:  # chunks: no length, it streams
            out.append(("content-length", str(len(payload))))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in out]})
        if "chunks" in answer and scope["method"] != "HEAD" and status not in (204, 304):
            for text, pause in answer["chunks"]:
                await send({"type": "http.response.body", "body": text.encode(), "more_body": True})
                await asyncio.sleep(pause)
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.body",
                    "body": b"" if scope["method"] == "HEAD" or status in (204, 304) else payload})
