"""`edgeline dev` as a user runs it: a real process serving on loopback ports.

Starts the example worker with the demo origin, checks the three things the
README promises (edge answer, origin proxy, geo override), a streamed
response, a reload on save, and a clean stop on SIGTERM.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow


class DevServer:
    def __init__(self, project: Path) -> None:
        self.port, self.demo_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.project = project
        self.log = project / "dev.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edgeline.cli", "dev", "--demo", "--port", str(self.port),
                 "--demo-port", str(self.demo_port)],
                cwd=self.project, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                httpx.get(self.url + "/geo", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("edgeline dev did not answer in 20 s:\n" + self.log.read_text())

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevServer]:
    shutil.copytree(ROOT / "worker", tmp_path / "worker", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "wrangler.toml", tmp_path / "wrangler.toml")
    server = DevServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.proc and server.proc.poll() is None:
            server.stop()


def test_main_job_serves_edge_origin_and_geo(dev: DevServer) -> None:
    with httpx.Client(base_url=dev.url, timeout=5) as http:
        assert http.get("/hello/ada").text.startswith("Hello, ada!")
        assert http.get("/hello/ada", headers={"X-Edgeline-Geo": "FR"}).text.startswith("Bonjour")
        items = http.get("/api/items")
        assert items.status_code == 200 and items.headers["x-served-by"] == "demo-origin"
        # One Date each: the origin's passes through, an edge answer gets the edge's.
        assert len(items.headers.get_list("date")) == 1
        assert len(http.get("/geo").headers.get_list("date")) == 1
        with http.stream("GET", "/api/stream?n=4") as stream:
            assert stream.headers["content-type"] == "text/event-stream"
            arrivals = [time.monotonic() for _ in stream.iter_raw() if _]
        # Chunks arrive as the origin sends them (50 ms apart), not all at the end.
        assert len(arrivals) >= 3 and arrivals[-1] - arrivals[0] > 0.08
    assert dev.stop() == 0
    log = dev.log.read_text()
    assert "demo origin API at" in log and "curl" in log
    # One log line per request: method, path, status, milliseconds.
    assert any(line.startswith("[edgeline.dev] GET /hello/ada 200 ") and line.endswith("ms")
               for line in log.splitlines()), log


def test_reloads_when_the_worker_changes(dev: DevServer) -> None:
    app_py = dev.project / "worker" / "app.py"
    app_py.write_text(app_py.read_text().replace("(from the edge)", "(edited)"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if "(edited)" in httpx.get(dev.url + "/hello/ada", timeout=5).text:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("no reload:\n" + dev.log.read_text())
    assert "worker reloaded" in dev.log.read_text()
