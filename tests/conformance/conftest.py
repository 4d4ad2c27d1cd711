"""Runtimes for the conformance suite: the same worker, served by the emulator and by Pyodide.

Each runtime answers ``request(method, path, ...)`` with a
:class:`~tests.pyodide.runner.Reply` and ``settle()`` (wait for waitUntil
work). The worker is the example app (worker/app.py) plus the routes in
tests/conformance/worker/routes.py; its origin is a real server on 127.0.0.1.

- ``emulator``: ``edgeline.emulator.Emulator`` behind a real uvicorn server
  on 127.0.0.1, called over HTTP (so streamed bodies really stream).
- ``pyodide``: tests/pyodide/harness.mjs: real Pyodide under Node with the
  real ``workers-runtime-sdk``, Node's Request/Response/Headers/fetch.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

from edgeline.demo import DemoOrigin
from edgeline.emulator.cf import build_cf
from tests.conftest import ROOT, ServerThread, free_port
from tests.pyodide.runner import Reply, require_harness

HERE = Path(__file__).parent
RUNTIMES = ["emulator", "pyodide"]
KV_BINDING = "EDGE_STATE"


class Runtime(Protocol):
    name: str

    def request(self, method: str, path: str, *, headers: list[tuple[str, str]] | None = None,
                body: bytes | None = None, country: str | None = None) -> Reply: ...

    def settle(self) -> None: ...


class Origin:
    """The demo origin API, plus a redirect and a response with two cookies."""

    def __init__(self) -> None:
        self.demo = DemoOrigin()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/api/redirect":
            await send({"type": "http.response.start", "status": 302, "headers": [
                (b"location", b"/api/items"), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        if scope["type"] == "http" and scope["path"] == "/api/cookies":
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"set-cookie", b"session=abc; Path=/"), (b"set-cookie", b"theme=dark; Path=/"),
                (b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        await self.demo(scope, receive, send)


def make_worker(target: Path) -> Path:
    """Assemble the conformance worker: the example app plus the test routes."""
    target.mkdir(parents=True)
    shutil.copy(ROOT / "worker" / "app.py", target / "app.py")
    shutil.copy(HERE / "worker" / "entry.py", target / "entry.py")
    shutil.copy(HERE / "worker" / "routes.py", target / "routes.py")
    return target


class EmulatorRuntime:
    """The emulator on a real server, in a thread with its own event loop."""

    name = "emulator"

    def __init__(self, project: Path, origin_url: str) -> None:
        self.project = project
        (project / "wrangler.toml").write_text(
            'name = "conformance"\nmain = "worker/entry.py"\ncompatibility_date = "2025-10-01"\n'
            'compatibility_flags = ["python_workers"]\n'
            f'[vars]\nORIGIN_URL = "{origin_url}"\n'
            f'[[kv_namespaces]]\nbinding = "{KV_BINDING}"\nid = "conformance"\n')
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(30) or self.failure is not None:
            raise RuntimeError(f"emulator did not start: {self.failure!r}")
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        import uvicorn

        from edgeline.emulator.config import load_wrangler
        from edgeline.emulator.server import Emulator

        try:
            # NOTE: built on the loop's thread: its SQLite connection lives here.
            self.emulator = Emulator(load_wrangler(self.project / "wrangler.toml"),
                                     state_dir=self.project / "state", location="US")
            config = uvicorn.Config(self.emulator, host="127.0.0.1", port=self.port,
                                    lifespan="off", log_config=None, log_level="warning")
            self.server = uvicorn.Server(config)
            self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
            serving = asyncio.ensure_future(self.server.serve())
            while not self.server.started and not serving.done():
                await asyncio.sleep(0.01)
        except BaseException as exc:  # reported to the starting thread
            self.failure = exc
            self.ready.set()
            return
        self.ready.set()
        await serving
        await self.emulator.aclose()

    def request(self, method: str, path: str, *, headers: list[tuple[str, str]] | None = None,
                body: bytes | None = None, country: str | None = None) -> Reply:
        sent = list(headers or [])
        if country is not None:
            sent.append(("x-edgeline-geo", country))
        with self.client.stream(method, path, headers=sent, content=body) as response:
            chunks = [bytes(c) for c in response.iter_raw()]
        return Reply(response.status_code, [(k.decode().lower(), v.decode()) for k, v in
                                            response.headers.raw], b"".join(chunks),
                     [len(c) for c in chunks if c])

    def settle(self) -> None:
        asyncio.run_coroutine_threadsafe(self.emulator.drain(), self.loop).result(30)

    def close(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=15)
        if not self.thread.is_alive():
            self.loop.close()


class PyodideRuntime:
    """The worker inside real Pyodide under Node (the session's harness)."""

    name = "pyodide"

    def __init__(self, worker: Path, origin_url: str) -> None:
        self.harness = require_harness()
        self.harness.load(worker, vars={"ORIGIN_URL": origin_url}, kv=[KV_BINDING])

    def request(self, method: str, path: str, *, headers: list[tuple[str, str]] | None = None,
                body: bytes | None = None, country: str | None = None) -> Reply:
        # The same request.cf the emulator builds for this client location.
        cf = build_cf(country or "US", None)
        sent = list(headers or [])
        if body is not None and not any(k.lower() == "content-length" for k, _ in sent):
            sent.append(("content-length", str(len(body))))
        return self.harness.fetch(method, f"http://127.0.0.1:8787{path}", headers=sent,
                                  body=body, cf=cf)

    def settle(self) -> None:
        errors = self.harness.drain()["errors"]
        if errors:
            raise AssertionError(f"waitUntil work failed: {errors}")

    def close(self) -> None:
        """The harness is shared by the session; nothing to stop here."""


@pytest.fixture(scope="module")
def origin() -> Iterator[ServerThread]:
    with ServerThread(Origin()) as server:
        yield server


@pytest.fixture(scope="module", params=RUNTIMES)
def runtime(request: pytest.FixtureRequest, origin: ServerThread,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    project = tmp_path_factory.mktemp(f"conformance-{request.param}")
    worker = make_worker(project / "worker")
    if request.param == "pyodide":
        rt: EmulatorRuntime | PyodideRuntime = PyodideRuntime(worker, origin.url)
    else:
        rt = EmulatorRuntime(project, origin.url)
    try:
        yield rt
    finally:
        rt.close()
