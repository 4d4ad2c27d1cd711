"""Origin processes the fault tests start, and kill, on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

SCRIPT = Path(__file__).with_name("fault_origin.py")


class OriginProcess:
    """One ``fault_origin.py`` process; ``kill()`` ends it at once (SIGKILL)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, str(SCRIPT), str(self.port), name],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"origin {name} exited: {self.proc.stderr.read()!r}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"origin {name} did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@pytest.fixture
def spawn_origin() -> Iterator[Callable[[str], OriginProcess]]:
    """Start origin processes by name; every one still running is killed afterwards."""
    started: list[OriginProcess] = []

    def spawn(name: str = "origin") -> OriginProcess:
        started.append(OriginProcess(name))
        return started[-1]

    yield spawn
    for process in started:
        process.kill()


@pytest.fixture(scope="module")
def shared_origin() -> Iterator[OriginProcess]:
    """One origin process for the tests that do not kill it."""
    process = OriginProcess("shared")
    yield process
    process.kill()
