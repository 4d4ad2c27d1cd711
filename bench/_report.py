"""Write the benchmark report: ``bench/results/REPORT.md`` with PNG plots beside it.

Called by ``bench/e2e.py`` at the end of its run, and on its own to rebuild
the report from stored results (``python bench/_report.py``; also the hook
for ``edgeline bench --report``): :func:`rebuild` reads
``e2e_samples.json`` (the distributions behind the plots, with the run's
figures and machine facts) and every ``bench/results/NAME.json``.

Plots (matplotlib, a bench-only dependency; without it the report is
written with tables only): latency CDFs per scenario and for the open-loop
run, throughput bars with the spread over rounds, and RSS over time.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SERVERS = ("floor", "edgeline", "starlette", "hono", "nginx", "origin")
SCENARIOS = ("edge", "hit", "blocked", "geo", "miss")
COLORS = {"floor": "#7f7f7f", "edgeline": "#1f77b4", "starlette": "#ff7f0e", "hono": "#2ca02c",
          "nginx": "#d62728", "origin": "#9467bd"}
TARGETS = (  # figure, comparison, bound, what it says
    ("hit_throughput_ratio_to_floor", ">=", 0.7, "cache hit req/s vs a bare ASGI handler"),
    ("hit_p99_ratio_to_floor", "<=", 1.5, "cache hit p99 vs a bare ASGI handler"),
    ("starlette_throughput_ratio", ">=", 2.0, "hit req/s vs the same logic in Starlette"),
    ("hit_cpu_ratio_to_floor", None, None,
     "floor CPU / edgeline CPU per hit: the throughput ratio with a core to spare (reported)"),
    ("hono_throughput_ratio", None, None, "hit req/s vs Hono on workerd (reported)"),
    ("nginx_throughput_ratio", None, None, "hit req/s vs nginx proxy_cache (reported)"),
)


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    return (done.stdout + done.stderr).strip().splitlines()[0] if (done.stdout + done.stderr).strip() else "unavailable"


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _npm_version(package: str) -> str:
    try:
        return json.loads((ROOT / "node_modules" / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "not installed"


def machine_facts() -> dict[str, str]:
    """Return the machine, software versions and commit this run measured."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = _run(["git", "rev-parse", "--short", "HEAD"])
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"])
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    nginx = _run(["nginx", "-v"]) if _which("nginx") else "not installed"
    from e2e import workerd_binary  # type: ignore[import-not-found]

    workerd = workerd_binary()
    return {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu {platform.system()} "
                   f"{platform.release()}",
        "cpu": cpu,
        "load_average_at_end": " ".join(f"{v:.2f}" for v in load),
        "commit": commit + (" (with uncommitted changes)" if dirty not in ("", "unavailable")
                            else ""),
        "python": platform.python_version(),
        "uvicorn": _version("uvicorn"), "httptools": _version("httptools"),
        "httpx": _version("httpx"), "starlette": _version("starlette"),
        "nginx": nginx.replace("nginx version: ", ""),
        "workerd": _run([workerd, "--version"]) if workerd else "not installed",
        "hono": _npm_version("hono"),
        "wrk": _run(["wrk", "-v"]).split(" [")[0],
        "node": _run(["node", "--version"]),
    }


def _which(name: str) -> bool:
    import shutil

    return shutil.which(name) is not None or Path(f"/usr/sbin/{name}").exists()


def _fmt(figures: dict[str, Any], name: str, digits: int = 0) -> str:
    if name not in figures:
        return "–"
    value = figures[name]
    text = f"{value:,.{digits}f}"
    if f"{name}_min" in figures:
        text += f" ({figures[name + '_min']:,.{digits}f}–{figures[name + '_max']:,.{digits}f})"
    return text


def _plots(out: Path, samples: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    closed = samples.get("closed", {})
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    panels = [(f"{s}: closed loop (wrk, 32 connections)", s) for s in SCENARIOS]
    panels.append((f"hit: open loop at {figures.get('open_loop_rate', 0):.0f} req/s", "open"))
    for ax, (title, scenario) in zip(axes.flat, panels, strict=True):
        for server in SERVERS:
            if scenario == "open":
                run = samples.get("open", {}).get(server)
            else:
                key = {"floor": "floor_hit", "origin": "origin_miss"}.get(server,
                                                                          f"{server}_{scenario}")
                if server == "floor" and scenario != "hit" or server == "origin" and scenario != "miss":
                    continue
                run = closed.get(key)
            if not run:
                continue
            points = sorted((float(p), float(v)) for p, v in run["cdf_ms"].items() if float(v) > 0)
            ax.plot([v for _, v in points], [p for p, _ in points], marker=".",
                    label=server, color=COLORS[server])
        ax.set_xscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("latency (ms, log)")
        ax.set_ylabel("percentile")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Latency CDFs (edgeline, its floor and peers)")
    fig.tight_layout()
    fig.savefig(out / "e2e_latency_cdf.png", dpi=90)
    plt.close(fig)
    written.append("e2e_latency_cdf.png")

    fig, ax = plt.subplots(figsize=(12, 5))
    width = 0.16
    for i, server in enumerate(SERVERS):
        xs, ys, lo, hi = [], [], [], []
        for j, scenario in enumerate(SCENARIOS):
            name = {"floor": "floor", "origin": "origin_direct"}.get(server, f"{server}_{scenario}")
            if server == "floor" and scenario != "hit" or server == "origin" and scenario != "miss":
                continue
            if f"{name}_rps" not in figures:
                continue
            value = figures[f"{name}_rps"]
            xs.append(j + (i - 2.5) * width)
            ys.append(value)
            lo.append(value - figures.get(f"{name}_rps_min", value))
            hi.append(figures.get(f"{name}_rps_max", value) - value)
        if xs:
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=server, color=COLORS[server])
    ax.set_xticks(range(len(SCENARIOS)), SCENARIOS)
    ax.set_yscale("log")
    ax.set_ylabel("requests/s (median, min–max; log)")
    ax.set_title("Throughput by scenario (wrk, closed loop)")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=6)
    fig.tight_layout()
    fig.savefig(out / "e2e_throughput.png", dpi=90)
    plt.close(fig)
    written.append("e2e_throughput.png")

    rss = samples.get("rss") or []
    if rss:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.plot([t for t, _ in rss], [mb for _, mb in rss], color=COLORS["edgeline"])
        ax.set_xlabel("seconds under mixed load")
        ax.set_ylabel("RSS (MiB)")
        ax.set_ylim(bottom=0)
        ax.set_title(f"edgeline server RSS (cache capacity "
                     f"{figures.get('memory_cache_capacity_mb', 0):.0f} MiB)")
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / "e2e_memory.png", dpi=90)
        plt.close(fig)
        written.append("e2e_memory.png")
    return written


def _markdown(figures: dict[str, Any], meta: dict[str, str], plots: list[str],
              others: dict[str, dict[str, Any]]) -> str:
    lines = ["# edgeline benchmark report", ""]
    lines += [f"Written by `edgeline bench` ({'quick' if figures.get('quick') else 'full'} run). "
              "Figures are medians over rounds with (min–max); every baseline ran in the same "
              "run, on the same machine, interleaved round by round.", ""]
    lines += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in meta.items()] + [""]
    lines += ["## Targets", "", "| figure | measured | target | met | meaning |",
              "|---|---|---|---|---|"]
    for name, op, bound, meaning in TARGETS:
        value = figures.get(name)
        met = "–"
        if value is not None and op is not None:
            met = "yes" if (value >= bound if op == ">=" else value <= bound) else "**no**"
        target = f"{op} {bound}" if op else "reported"
        lines.append(f"| `{name}` | {_fmt(figures, name, 3)} | {target} | {met} | {meaning} |")
    lines += ["", "## Throughput (requests/s)", "",
              "| scenario | " + " | ".join(SERVERS) + " |", "|---" * (len(SERVERS) + 1) + "|"]
    for scenario in ("edge", "hit", "blocked", "geo", "miss"):
        row = []
        for server in SERVERS:
            name = {"floor": "floor", "origin": "origin_direct"}.get(server, f"{server}_{scenario}")
            if server == "floor" and scenario != "hit" or server == "origin" and scenario != "miss":
                row.append("")
            else:
                row.append(_fmt(figures, f"{name}_rps"))
        lines.append(f"| {scenario} | " + " | ".join(row) + " |")
    lines += ["", "## Latency, closed loop (p50 / p99 ms at 32 connections)", "",
              "| scenario | " + " | ".join(SERVERS) + " |", "|---" * (len(SERVERS) + 1) + "|"]
    for scenario in SCENARIOS:
        row = []
        for server in SERVERS:
            name = {"floor": "floor", "origin": "origin_direct"}.get(server, f"{server}_{scenario}")
            if f"{name}_p50_ms" not in figures or (
                    server == "floor" and scenario != "hit" or server == "origin" and scenario != "miss"):
                row.append("")
            else:
                row.append(f"{figures[name + '_p50_ms']:.2f} / {figures[name + '_p99_ms']:.2f}")
        lines.append(f"| {scenario} | " + " | ".join(row) + " |")
    if "edgeline_hit_cpu_us" in figures:
        lines += ["", "## Server CPU time per request (µs, user + system)", "",
                  "Steadier than requests/s when other work shares the machine "
                  f"(load {figures.get('load_1min_start', '?')} at the start of the run, "
                  f"{figures.get('load_1min_end', '?')} at the end).", "",
                  "| scenario | " + " | ".join(SERVERS) + " |", "|---" * (len(SERVERS) + 1) + "|"]
        for scenario in SCENARIOS:
            row = []
            for server in SERVERS:
                name = {"floor": "floor", "origin": "origin_direct"}.get(server,
                                                                         f"{server}_{scenario}")
                skip = server == "floor" and scenario != "hit" or (
                    server == "origin" and scenario != "miss")
                row.append("" if skip else _fmt(figures, f"{name}_cpu_us", 1))
            lines.append(f"| {scenario} | " + " | ".join(row) + " |")
    lines += ["", "## Ratios (edgeline / other; throughput > 1 means edgeline serves more)", "",
              "| scenario | / floor | / starlette | / hono | / nginx |", "|---|---|---|---|---|"]
    for scenario in SCENARIOS:
        cells = [_fmt(figures, f"{scenario}_throughput_ratio_to_floor", 2)]
        cells += [_fmt(figures, f"{peer}_throughput_ratio_{scenario}", 2)
                  for peer in ("starlette", "hono", "nginx")]
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    if "miss_throughput_ratio_to_origin" in figures:
        lines += ["", f"Miss forwarded vs the origin asked directly: "
                      f"{_fmt(figures, 'miss_throughput_ratio_to_origin', 2)}."]
    lines += ["", f"## Open loop: a cache hit at {figures.get('open_loop_rate', 0):.0f} req/s "
                  f"for {figures.get('open_loop_seconds', 0):.0f} s",
              "", "Latency from each request's scheduled send time (no coordinated omission).",
              "", "| server | p50 ms | p99 ms | p99.9 ms |", "|---|---|---|---|"]
    for server in SERVERS:
        if f"openloop_{server}_p50_ms" in figures:
            lines.append(f"| {server} | {figures[f'openloop_{server}_p50_ms']:.3f} | "
                         f"{figures[f'openloop_{server}_p99_ms']:.3f} | "
                         f"{figures[f'openloop_{server}_p999_ms']:.3f} |")
    if "rss_peak_mb" in figures:
        lines += ["", "## Memory of the edgeline server under sustained load", "",
                  f"{figures['memory_load_seconds']:.0f} s of mixed load "
                  f"({figures['memory_load_rps']:,.0f} req/s, 70% over a million cache keys) "
                  f"with a {figures['memory_cache_capacity_mb']:.0f} MiB cache: RSS "
                  f"{figures['rss_start_mb']} MiB at the start, {figures['rss_peak_mb']} MiB at "
                  f"the peak, {figures['rss_end_mb']} MiB at the end; it grew by "
                  f"{figures.get('rss_growth_last_quarter_mb', '?')} MiB over the last quarter "
                  "of the run (flat once the store is full and evicting)."]
    lines += ["", "## What served each scenario", "",
              f"* blocked: {figures.get('blocked_impl', '?')}",
              f"* geo redirect: {figures.get('geo_impl', '?')}"]
    for name in ("nginx", "hono"):
        if f"{name}_skipped" in figures:
            lines.append(f"* {name} skipped: {figures[name + '_skipped']}")
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    if others:
        lines += ["", "## Other benchmarks (bench/results/NAME.json)", ""]
        for name, data in sorted(others.items()):
            ratios = {k: v for k, v in data.items() if "ratio" in k and not k.endswith(("_min", "_max"))
                      and isinstance(v, (int, float))}
            stamp = f"commit {data.get('commit', '?')}, {'quick' if data.get('quick') else 'full'}"
            lines.append(f"* **{name}** ({stamp}): " + (", ".join(
                f"`{k}` {_fmt(data, k, 3)}" for k, v in sorted(ratios.items())) or "no ratios"))
    return "\n".join(lines) + "\n"


def write(results: Path, figures: dict[str, Any], samples: dict[str, Any], *,
          quick: bool = False, meta: dict[str, str] | None = None) -> Path:
    """Write ``REPORT.md``, the plots and ``e2e_samples.json`` into ``results``; return the report."""
    results.mkdir(parents=True, exist_ok=True)
    figures = dict(figures, quick=quick)
    meta = meta or machine_facts()
    stored = {"figures": figures, "meta": meta, "samples": samples}
    (results / "e2e_samples.json").write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
    others = {}
    for path in results.glob("*.json"):
        if path.stem in ("e2e", "e2e_samples") or not re.fullmatch(r"[a-z0-9_]+", path.stem):
            continue
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(data, dict):
            others[path.stem] = data
    plots = _plots(results, samples, figures)
    report = results / "REPORT.md"
    report.write_text(_markdown(figures, meta, plots, others))
    return report


def rebuild(results: Path = BENCH / "results") -> Path:
    """Rewrite the report from ``e2e_samples.json`` and the stored NAME.json files."""
    stored = json.loads((results / "e2e_samples.json").read_text())
    return write(results, stored["figures"], stored["samples"],
                 quick=bool(stored["figures"].get("quick")), meta=stored["meta"])


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    print(rebuild())
