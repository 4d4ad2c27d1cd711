"""Fixtures: the scripted origin on a real loopback server and ``edgeline proxy`` in front of it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, ServerThread, free_port

from .origin_server import ScriptedOrigin


class Proxy:
    """A running ``edgeline proxy`` subprocess and a client for it."""

    def __init__(self, origin_url: str | None, config: Path | None = None) -> None:
        self.port = free_port()
        # None: the proxy's origin is the proxy itself (a forwarding loop).
        origin_url = origin_url or f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "edgeline.proxy", "proxy", "--origin", origin_url,
                "--listen", f"127.0.0.1:{self.port}"]
        if config is not None:
            args += ["--config", str(config)]
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=10.0, trust_env=False)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("edgeline proxy exited: " + self.process.stderr.read().decode())
            try:
                httpx.get(self.url + "/__ready__", timeout=0.5, trust_env=False)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        self.close()  # never leave a started process behind
        raise RuntimeError("edgeline proxy did not start")

    def close(self) -> None:
        self.client.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        if self.process.stderr:
            self.process.stderr.close()


class OriginThread(ServerThread):
    """A loopback server that sends only the headers the app gives (no Date, no Server)."""

    def __init__(self, app: object) -> None:
        super().__init__(app)
        self.server.config.date_header = False
        self.server.config.server_header = False


@pytest.fixture(scope="module")
def origin() -> Iterator[tuple[ScriptedOrigin, str]]:
    app = ScriptedOrigin()
    with OriginThread(app) as server:
        yield app, server.url


@pytest.fixture(scope="module")
def proxy(origin: tuple[ScriptedOrigin, str]) -> Iterator[Proxy]:
    running = Proxy(origin[1])
    try:
        yield running
    finally:
        running.close()
