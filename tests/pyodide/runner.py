"""Drive tests/pyodide/harness.mjs: real Pyodide under Node, one long-lived process.

The harness boots Pyodide (the npm package pinned in package.json), installs
the real Workers SDK and micropip from local wheels, and serves requests to a
worker as JSON lines. Wheels are downloaded from PyPI into a cache the first
time (``.edgeline/cache/wheels``, or ``$EDGELINE_WHEEL_CACHE``); nothing is
fetched while Pyodide runs.

Used by the conformance and Pyodide tests and by ``bench/startup.py``.
"""

from __future__ import annotations

import atexit
import base64
import collections
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HARNESS = Path(__file__).with_name("harness.mjs")
PYODIDE_PACKAGE = ROOT / "node_modules" / "pyodide" / "package.json"

# Pinned exactly: the SDK production workers get, and the micropip that
# Pyodide 0.28's own lock file names.
SDK = "workers-runtime-sdk==1.9.5"
MICROPIP = "micropip==0.10.1"
# Pyodide 0.28 is CPython 3.13: wheels are chosen for that interpreter.
PYODIDE_PYTHON = "3.13"

# The compatibility flags the example worker's date turns on that the SDK reads.
COMPAT_FLAGS: dict[str, bool] = {
    "python_workflows_implicit_dependencies": False,
    "python_request_headers_preserve_commas": False,
}


class HarnessUnavailable(RuntimeError):
    """Node, the pyodide npm package or a wheel cannot be had on this machine."""


class HarnessError(RuntimeError):
    """The harness answered an operation with an error."""


def wheel_cache() -> Path:
    return Path(os.environ.get("EDGELINE_WHEEL_CACHE", ROOT / ".edgeline" / "cache" / "wheels"))


def _cached(requirement: str, cache: Path) -> Path | None:
    name, _, version = requirement.partition("==")
    stem = name.replace("-", "_").lower()
    for wheel in cache.glob("*.whl"):
        parts = wheel.name.split("-")
        if parts[0].lower() == stem and parts[1] == version:
            return wheel
    return None


def fetch_wheels(requirements: list[str]) -> list[Path]:
    """Return local pure-Python wheels for exact ``name==version`` pins, downloading missing ones."""
    cache = wheel_cache()
    cache.mkdir(parents=True, exist_ok=True)
    missing = [r for r in requirements if _cached(r, cache) is None]
    if missing:
        # NOTE: --only-binary with --python-version picks wheels for Pyodide's
        # Python; no sdist is built, so a compiled-only package fails here
        # instead of installing something built for this machine.
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                   "--only-binary=:all:", "--python-version", PYODIDE_PYTHON,
                   "--dest", str(cache), *missing]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise HarnessUnavailable(f"pip download {' '.join(missing)} failed: "
                                     f"{done.stderr.strip()[-500:]}")
    wheels = []
    for requirement in requirements:
        wheel = _cached(requirement, cache)
        if wheel is None:
            raise HarnessUnavailable(f"no wheel for {requirement} in {cache}")
        if not wheel.name.endswith("-none-any.whl"):
            raise HarnessUnavailable(f"{wheel.name} is not a pure-Python wheel")
        wheels.append(wheel)
    return wheels


def unpack_wheels(wheels: list[Path], out: Path) -> Path:
    """Unpack pure-Python wheels into ``out`` (a folder to put on ``sys.path``), as installed."""
    out.mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(out)
    return out


def unavailable_reason() -> str | None:
    """Say why the harness cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not PYODIDE_PACKAGE.is_file():
        return "node_modules/pyodide is missing (run `npm ci` in the repository)"
    return None


def _skip_or_fail(reason: str) -> None:
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"Pyodide harness unavailable on CI: {reason}")
    pytest.skip(f"Pyodide harness unavailable: {reason}")


def require_harness() -> PyodideHarness:
    """Return the session's harness; skip the caller when it cannot run (fail when $CI is set)."""
    reason = unavailable_reason()
    if reason is not None:
        _skip_or_fail(reason)
    try:
        return shared_harness()
    except HarnessUnavailable as exc:  # e.g. PyPI unreachable for the first wheel download
        _skip_or_fail(str(exc))
        raise


def vendor_modules(out: Path) -> Path:
    """Vendor edgeline into ``out`` the way ``edgeline build`` does for wrangler."""
    from edgeline.cli import vendor

    vendor(out)
    return out


@dataclass
class Reply:
    """A worker's response as the harness read it from the JS Response."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    chunks: list[int] = field(default_factory=list)
    error: str | None = None
    total_ms: float = 0.0  # request in to the whole body read, inside Node
    total_cpu_ms: float = 0.0  # the Node process's CPU time over the same span

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return ", ".join(values) if values else None

    def header_list(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]

    def json(self) -> Any:
        return json.loads(self.body)


class PyodideHarness:
    """One Node process running Pyodide; call operations on it in order."""

    def __init__(self) -> None:
        reason = unavailable_reason()
        if reason is not None:
            raise HarnessUnavailable(reason)
        env = {**os.environ, "NODE_NO_WARNINGS": "1"}
        self._process = subprocess.Popen(
            ["node", str(HARNESS)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", bufsize=1, env=env,
        )
        self._replies: queue.Queue[str | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=200)
        self._next_id = 0
        self._lock = threading.Lock()
        self._readers = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._replies.put(line)
        self._replies.put(None)

    def _read_stderr(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            # NOTE: Node prints the offending source line of an error; in
            # Pyodide's minified bundle that line is a megabyte long.
            self._stderr.append(line.rstrip("\n")[:2000])

    @property
    def log(self) -> str:
        """The harness's recent stderr: Python's prints and tracebacks."""
        return "\n".join(self._stderr)

    def call(self, op: str, timeout: float = 60.0, **params: Any) -> Any:
        """Send one operation and return its result; raise HarnessError on failure."""
        with self._lock:
            self._next_id += 1
            message = json.dumps({"id": self._next_id, "op": op, **params})
            assert self._process.stdin is not None
            try:
                self._process.stdin.write(message + "\n")
                self._process.stdin.flush()
            except BrokenPipeError:
                raise HarnessError(f"the harness has exited:\n{self.log}") from None
            try:
                line = self._replies.get(timeout=timeout)
            except queue.Empty:
                # The late reply would answer the next call: this process is done.
                self._process.kill()
                raise HarnessError(f"{op} timed out after {timeout}s:\n{self.log}") from None
            if line is None:
                raise HarnessError(f"the harness exited during {op}:\n{self.log}")
            reply = json.loads(line)
            if reply.get("id") != self._next_id:
                raise HarnessError(f"out-of-order reply {reply!r}")
            if not reply["ok"]:
                raise HarnessError(f"{op}: {reply['error']}\n{self.log}")
            return reply["result"]

    def boot(self, *, wheels: list[Path], micropip: Path, python_modules: Path | None,
             compat_flags: dict[str, bool] | None = None) -> dict[str, Any]:
        """Start a fresh interpreter with ``wheels`` installed and ``python_modules`` on sys.path."""
        return self.call("boot", timeout=120, micropip=str(micropip),
                         wheels=[str(w) for w in wheels],
                         python_modules=str(python_modules) if python_modules else None,
                         compat_flags=compat_flags if compat_flags is not None else COMPAT_FLAGS)

    def load(self, worker: Path, *, main: str = "entry.py", vars: dict[str, str] | None = None,
             kv: list[str] | None = None) -> dict[str, Any]:
        """Import a worker folder; bindings are ``vars`` (strings) and empty KV namespaces."""
        return self.call("load", worker=str(worker), main=main, vars=vars or {}, kv=kv or [])

    def snapshot(self, worker: Path, *, site: Path, python_modules: Path | None,
                 main: str = "entry.py", vars: dict[str, str] | None = None,
                 kv: list[str] | None = None,
                 compat_flags: dict[str, bool] | None = None) -> dict[str, Any]:
        """Import a worker in a fresh interpreter, snapshot its memory, restore it, serve from it.

        ``site`` holds the unpacked wheels (:func:`unpack_wheels`). Returns the
        milliseconds of making the snapshot (``make_ms``, the worker's import
        ``import_ms`` inside it) and of restoring it (``restore_ms``, and the Node
        process's CPU time ``restore_cpu_ms``), and its size.
        """
        return self.call("snapshot", timeout=180, worker=str(worker), site=str(site),
                         python_modules=str(python_modules) if python_modules else None,
                         main=main, vars=vars or {}, kv=kv or [],
                         compat_flags=compat_flags if compat_flags is not None else COMPAT_FLAGS)

    def fetch(self, method: str, url: str, *, headers: list[tuple[str, str]] | None = None,
              body: bytes | None = None, cf: dict[str, Any] | None = None,
              chunk_size: int = 16384, timeout: float = 30.0) -> Reply:
        """Serve one request; a request body is sent as a stream of ``chunk_size`` pieces."""
        result = self.call(
            "fetch", timeout=timeout, method=method, url=url,
            headers=[list(h) for h in headers or []],
            body=base64.b64encode(body).decode() if body is not None else None,
            cf=cf, chunk_size=chunk_size,
        )
        return Reply(result["status"], [tuple(h) for h in result["headers"]],
                     base64.b64decode(result["body"]), result["chunks"], result.get("error"),
                     result.get("total_ms", 0.0), result.get("total_cpu_ms", 0.0))

    def drain(self) -> dict[str, Any]:
        """Wait for the waitUntil work of the requests served so far."""
        return self.call("drain")

    def run(self, code: str, timeout: float = 20.0) -> Any:
        """Run Python in the interpreter; return its last expression (JSON round-tripped)."""
        return self.call("run", timeout=timeout, code=code)

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self.call("exit", timeout=5)
            except HarnessError:
                pass
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        # The readers end at the pipes' end of file; then the pipes can be closed.
        for reader in self._readers:
            reader.join(timeout=5)
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            if stream is not None and not stream.closed:
                try:
                    stream.close()
                except OSError:
                    pass


_shared: PyodideHarness | None = None
_shared_dir: Path | None = None


def _close_shared() -> None:
    global _shared
    if _shared is not None:
        _shared.close()
        _shared = None
    if _shared_dir is not None:
        shutil.rmtree(_shared_dir, ignore_errors=True)


def shared_harness() -> PyodideHarness:
    """Return the session's harness, booted once with the SDK and vendored edgeline."""
    global _shared, _shared_dir
    if _shared is not None and not _shared.alive:
        _close_shared()  # a timed-out harness was stopped; start over
    if _shared is None:
        micropip, sdk = fetch_wheels([MICROPIP, SDK])
        _shared_dir = Path(tempfile.mkdtemp(prefix="edgeline-pyodide-"))
        modules = vendor_modules(_shared_dir / "python_modules")
        harness = PyodideHarness()
        atexit.register(_close_shared)
        try:
            harness.boot(wheels=[sdk], micropip=micropip, python_modules=modules)
        except BaseException:
            harness.close()
            raise
        _shared = harness
    return _shared
