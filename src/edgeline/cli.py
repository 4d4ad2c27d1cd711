"""The ``edgeline`` command: ``dev``, ``build``, ``bench``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import ConfigError

log = logging.getLogger("edgeline.dev")


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(name)s] %(message)s"))
    root = logging.getLogger("edgeline")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


# -- dev -----------------------------------------------------------------------


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # PERF: accepted sockets inherit this. Without it a response written as
    # headers then body waits for the client's delayed ACK: ~40 ms a request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"edgeline dev: cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _server(app: Any) -> Any:
    """Return the uvicorn server edgeline runs ``app`` on (built: its heap is settled)."""
    import uvicorn

    from ._heap import settle

    class EmbeddedServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # NOTE: edgeline owns SIGINT/SIGTERM; uvicorn would re-raise them later.
            yield

    config = uvicorn.Config(app, http="httptools", lifespan="off", log_config=None,
                            log_level="warning", access_log=False, proxy_headers=False, server_header=False,
                            # NOTE: the apps add Date themselves when a response has none;
                            # uvicorn's would duplicate an origin's (RFC 9110 §6.6.1).
                            date_header=False,
                            timeout_graceful_shutdown=2)
    server = EmbeddedServer(config)
    # PERF: the app and uvicorn are loaded: no full collection walks them again.
    settle()
    return server


async def _dev(args: argparse.Namespace) -> int:
    from .emulator.config import load_wrangler
    from .emulator.server import Emulator

    try:
        config = load_wrangler(args.config, args.env)
    except ConfigError as exc:
        print(f"edgeline dev: {exc}", file=sys.stderr)
        return 2
    host = args.ip or config.dev_ip
    port = args.port if args.port is not None else config.dev_port
    servers = []
    demo_url = None
    if args.demo:
        from .demo import DemoOrigin

        demo_sock = _bind("127.0.0.1", args.demo_port)
        demo_url = f"http://127.0.0.1:{demo_sock.getsockname()[1]}"
        config.vars["ORIGIN_URL"] = demo_url
        servers.append((_server(DemoOrigin()), demo_sock))
    ip_geo = None
    if args.ip_geo:
        from .emulator.ipgeo import IPGeo, IPGeoUnavailable

        try:
            ip_geo = IPGeo()
        except IPGeoUnavailable as exc:
            print(f"edgeline dev: --ip-geo: {exc}", file=sys.stderr)
            return 2
        log.info("%s", IPGeo.ATTRIBUTION)
    state_dir = Path(args.state) if args.state else config.root / ".edgeline" / "state"
    emulator = Emulator(config, state_dir=state_dir, location=args.location,
                        extra_watch=[Path(p) for p in args.watch], env_name=args.env,
                        ip_geo=ip_geo, trust_forwarded=args.trust_forwarded)
    if args.demo:
        _seed_demo_config(config, emulator)
    sock = _bind(host, port)
    servers.append((_server(emulator), sock))
    url = f"http://{host}:{sock.getsockname()[1]}"

    print(f"edgeline dev: serving {config.main.relative_to(config.root)} "
          f"({config.name}) at {url}", file=sys.stderr)
    if demo_url:
        print(f"  demo origin API at {demo_url}", file=sys.stderr)
    print("  try:", file=sys.stderr)
    for line in (f"curl {url}/                          # answered at the edge",
                 f"curl {url}/hello/ada                 # geo-personalized at the edge",
                 f"curl -H 'X-Edgeline-Geo: DE' {url}/hello/ada   # act as a client in Germany",
                 f"curl {url}/geo                       # request.cf as the worker sees it",
                 f"curl {url}/api/items                 # proxied to the origin",
                 f"curl {url}/v1/items/1                # a route from the KV configuration"):
        print(f"    {line}", file=sys.stderr)
    print("  edit worker/*.py and save: the worker reloads. Ctrl-C stops.", file=sys.stderr)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(server.serve(sockets=[s])) for server, s in servers]
    watcher = asyncio.create_task(emulator.loader.watch()) if not args.no_reload else None
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
    for server, _ in servers:
        server.should_exit = True
    if watcher is not None:
        watcher.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    stopped.cancel()
    await emulator.aclose()
    print("edgeline dev: stopped", file=sys.stderr)
    return 0


def _seed_demo_config(config: Any, emulator: Any) -> None:
    """Give the demo its edge configuration: config/edge.toml, if KV has none yet."""
    from .config.cli import DEFAULT_BINDING, DEFAULT_KEY, encode_for_kv

    source = config.root / "config" / "edge.toml"
    binding = next((b for b in config.kv_namespaces if b.binding == DEFAULT_BINDING), None)
    if binding is None or not source.is_file():
        return
    namespace = emulator.kv.namespace(binding.id).sync
    if namespace.get(DEFAULT_KEY) is not None:
        return
    try:
        data, _ = encode_for_kv(str(source))
    except ConfigError as exc:
        log.error("demo configuration %s not loaded:\n%s", source, exc)
        return
    namespace.put(DEFAULT_KEY, data.decode())
    log.info("demo: pushed %s to KV %s/%s", source.relative_to(config.root), binding.binding,
             DEFAULT_KEY)


# -- build -----------------------------------------------------------------------

# Modules of edgeline the deployed worker never imports (and must not ship:
# the emulator carries a stand-in `workers` package). The ASGI and httpx
# transports and the test client run only under CPython.
_NOT_SHIPPED = ("emulator", "demo.py", "cli.py", "proxy.py", "testing.py", "asgi.py",
                "httpx_transport.py", "__pycache__")


def vendor(out: Path) -> list[Path]:
    """Copy the pure-Python packages the worker imports into ``out`` (python_modules)."""
    import edgeline

    package = Path(edgeline.__file__).parent
    out.mkdir(parents=True, exist_ok=True)
    written = []
    target = out / "edgeline"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(package, target, ignore=shutil.ignore_patterns(*_NOT_SHIPPED, "*.pyc"))
    written.append(target)
    spec = importlib.util.find_spec("kv_schemas")
    if spec is not None and spec.origin:
        schemas = Path(spec.origin).parent
        dest = out / "kv_schemas"
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(schemas, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        written.append(dest)
    return written


def _build(args: argparse.Namespace) -> int:
    out = Path(args.out)
    for path in vendor(out):
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        print(f"vendored {path} ({size / 1024:.1f} KiB)")
    return 0


# -- bench -----------------------------------------------------------------------


def _project_root() -> Path:
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "bench").is_dir() and (candidate / "pyproject.toml").is_file():
            return candidate
    raise SystemExit("edgeline bench: run it inside the edgeline repository (no bench/ found)")


def _commit(root: Path) -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                              capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _load_bench_module(bench_dir: Path, name: str) -> Any:
    """Import ``bench/NAME.py`` with bench/ on the path (for its private helpers)."""
    spec = importlib.util.spec_from_file_location(f"edgeline_bench_{name}", bench_dir / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # NOTE: registered while it runs, as an import would: dataclasses and
    # pickling look their module up in sys.modules.
    sys.modules[spec.name] = module
    sys.path.insert(0, str(bench_dir))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(bench_dir))
    return module


def _bench(args: argparse.Namespace) -> int:
    root = _project_root()
    bench_dir = root / "bench"
    names = [args.name] if args.name else sorted(
        p.stem for p in bench_dir.glob("*.py") if not p.stem.startswith("_"))
    results_dir = bench_dir / "results"
    results_dir.mkdir(exist_ok=True)
    status = 0
    if args.report and args.name is None:
        names = []
    for name in names:
        path = bench_dir / f"{name}.py"
        if not path.is_file():
            print(f"edgeline bench: no benchmark {name!r} (no {path})", file=sys.stderr)
            return 2
        module = _load_bench_module(bench_dir, name)
        if not hasattr(module, "run"):
            continue
        print(f"edgeline bench {name}{' --quick' if args.quick else ''} ...", file=sys.stderr)
        figures: dict[str, Any] = dict(module.run(quick=args.quick))
        figures.update(machine=f"{platform.machine()} {os.cpu_count()} cpu {platform.system()}",
                       python=platform.python_version(), commit=_commit(root),
                       quick=bool(args.quick))
        out = results_dir / f"{name}.json"
        out.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
        print(json.dumps(figures, indent=2, sort_keys=True))
        print(f"wrote {out.relative_to(root)}", file=sys.stderr)
    if (args.report or args.name is None) and (results_dir / "e2e_samples.json").is_file():
        # The report gathers every NAME.json, so it is rebuilt after all have run.
        report = _load_bench_module(bench_dir, "_report")
        print(f"wrote {report.rebuild(results_dir).relative_to(root)}", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="edgeline", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="run the worker locally in the emulator")
    dev.add_argument("--config", "-c", default="wrangler.toml", help="path to wrangler.toml")
    dev.add_argument("--env", "-e", default=None, help="a [env.NAME] section of wrangler.toml")
    dev.add_argument("--ip", default=None, help="address to listen on (default 127.0.0.1)")
    dev.add_argument("--port", type=int, default=None, help="port (default 8787)")
    dev.add_argument("--state", default=None, help="state folder (default .edgeline/state)")
    dev.add_argument("--location", default="US",
                     help="default client location for request.cf (a country code)")
    dev.add_argument("--ip-geo", action="store_true",
                     help="derive request.cf from the client IP (DB-IP City Lite, CC BY 4.0)")
    dev.add_argument("--trust-forwarded", action="store_true",
                     help="with --ip-geo: loopback clients may name their IP in "
                          "X-Edgeline-Client-IP or X-Forwarded-For")
    dev.add_argument("--demo", action="store_true", help="also run the demo origin API")
    dev.add_argument("--demo-port", type=int, default=8788)
    dev.add_argument("--watch", action="append", default=[],
                     help="another folder whose .py files trigger a reload")
    dev.add_argument("--no-reload", action="store_true")

    build = sub.add_parser("build", help="vendor edgeline into python_modules/ for wrangler")
    build.add_argument("--out", default="python_modules")

    bench = sub.add_parser("bench", help="run benchmarks, write bench/results/NAME.json")
    bench.add_argument("name", nargs="?", default=None)
    bench.add_argument("--quick", action="store_true")
    bench.add_argument("--report", action="store_true",
                       help="only rewrite bench/results/REPORT.md from stored results")

    from .config.cli import register as register_config
    from .proxy import register as register_proxy

    register_config(sub)
    register_proxy(sub)

    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    if args.command == "dev":
        from .emulator.cf import LOCATIONS

        if args.location.upper() not in LOCATIONS:
            parser.error(f"--location: unknown {args.location!r}; known: {', '.join(sorted(LOCATIONS))}")
        args.location = args.location.upper()
        return asyncio.run(_dev(args))
    if args.command == "build":
        return _build(args)
    if args.command == "bench":
        return _bench(args)
    if hasattr(args, "func"):
        return int(args.func(args))
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
