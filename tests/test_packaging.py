"""``wrangler deploy --dry-run`` bundles the worker the way Python Workers expect.

The project is copied to a temporary folder, edgeline is vendored into
``python_modules/`` (what ``edgeline build`` does) and the repository's own
wrangler (pinned in package.json) writes the bundle. The bundle must hold
the worker and its pure-Python dependencies and nothing built for this
machine: no compiled extensions, no bytecode, no emulator or stand-in SDK
(the runtime provides the real ``workers`` module).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from edgeline.cli import vendor
from tests.conftest import ROOT

WRANGLER = ROOT / "node_modules" / ".bin" / "wrangler"

# Files of these kinds are specific to the machine or interpreter that made them.
PLATFORM_SUFFIXES = (".so", ".pyd", ".dylib", ".dll", ".pyc", ".pyo", ".whl", ".egg")


def _require_wrangler() -> None:
    if WRANGLER.exists():
        return
    reason = f"{WRANGLER.relative_to(ROOT)} is missing (run `npm ci`)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def build_bundle(project: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """Vendor edgeline into ``project`` and run ``wrangler deploy --dry-run --outdir out``."""
    vendor(project / "python_modules")
    env = {**os.environ, "WRANGLER_SEND_METRICS": "false", "CI": "1",
           # NOTE: keep wrangler's config and logs out of the user's home.
           "XDG_CONFIG_HOME": str(project / ".config"), "WRANGLER_LOG_PATH": str(project / ".logs")}
    return subprocess.run([str(WRANGLER), "deploy", "--dry-run", "--outdir", str(out)],
                          cwd=project, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_wrangler()
    project = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "worker", project / "worker",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "wrangler.toml", project / "wrangler.toml")
    # Bytecode left by a local run must not leak into the bundle either.
    (project / "worker" / "__pycache__").mkdir()
    (project / "worker" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00" * 16)
    out = project / "dist"
    done = build_bundle(project, out)
    assert done.returncode == 0, f"wrangler failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return out


def _files(bundle: Path) -> list[str]:
    return sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())


def test_bundle_holds_the_worker_and_vendored_edgeline(bundle: Path) -> None:
    files = _files(bundle)
    for expected in ("entry.py", "app.py", "python_modules/edgeline/__init__.py",
                     "python_modules/edgeline/app.py",
                     "python_modules/edgeline/adapters/cloudflare.py",
                     "python_modules/edgeline/origin/__init__.py",
                     "python_modules/kv_schemas/__init__.py"):
        assert expected in files, f"{expected} missing from the bundle: {files}"


def test_bundle_has_nothing_platform_specific(bundle: Path) -> None:
    files = _files(bundle)
    assert [f for f in files if f.endswith(PLATFORM_SUFFIXES)] == []
    assert [f for f in files if "__pycache__" in f] == []
    # The emulator (with its stand-in SDK), the dev CLI and the demo origin stay home.
    assert [f for f in files if f.startswith(("python_modules/edgeline/emulator/",
                                              "python_modules/workers/"))] == []
    assert "python_modules/edgeline/cli.py" not in files
    assert "python_modules/edgeline/demo.py" not in files


def test_bundle_python_is_source_only(bundle: Path) -> None:
    python = [p for p in bundle.rglob("*.py")]
    assert python, "no Python in the bundle"
    for path in python:
        with warnings.catch_warnings():
            # NOTE: only syntax is checked here; style warnings (such as an
            # invalid escape in a docstring) are not this test's business.
            warnings.simplefilter("ignore")
            compile(path.read_text(encoding="utf-8"), str(path), "exec")


def test_bundle_size_is_reported(bundle: Path, record_property: pytest.RecordProperty) -> None:
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    kib = size / 1024
    record_property("bundle_kib", round(kib, 1))
    print(f"\nbundle: {kib:.1f} KiB in {len(_files(bundle))} files")
    # The 3 MiB compressed limit of the free plan is far off; a jump means
    # something unintended got vendored.
    assert kib < 1024
