"""Fixtures shared by the routing tests."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import edgeline.routing  # noqa: F401
except ImportError:  # pragma: no cover - only when the package is not installed
    # NOTE: lets a plain checkout run `pytest tests/routing` before `pip install -e .`.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
