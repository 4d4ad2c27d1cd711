"""The stand-in `workers` module matches the real SDK's public surface.

The reference is a snapshot of workers-runtime-sdk taken from its wheel
(data/workers_sdk_surface.json, made by make_sdk_surface.py): names,
classes, members, member kinds and parameter names.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

import pytest

from edgeline.emulator import install_workers_module

SNAPSHOT = json.loads((Path(__file__).with_name("data") / "workers_sdk_surface.json").read_text())

# Parts of the SDK the emulator does not provide, each with its reason.
KNOWN_GAPS = {
    ("entrypoints", "DurableObjectAbort"): "Durable Objects are not emulated",
    ("entrypoints", "DurableObjectContext"): "Durable Objects are not emulated",
    ("utils", "import_sdk_javascript_module_async"): "there are no JavaScript modules locally",
}

install_workers_module()


def _cases() -> list[tuple[str, str, dict]]:
    return [(module, name, entry) for module, entries in SNAPSHOT["modules"].items()
            for name, entry in entries.items() if name != "__all__"]


def _kind(owner: object, name: str) -> str:
    raw = inspect.getattr_static(owner, name)
    if isinstance(raw, property):
        return "property"
    if isinstance(raw, staticmethod):
        return "staticmethod"
    function = raw.__func__ if isinstance(raw, (classmethod, staticmethod)) else raw
    return "async" if inspect.iscoroutinefunction(function) else "def"


def _params(function: object) -> list[str]:
    names = []
    for p in inspect.signature(function).parameters.values():  # type: ignore[arg-type]
        prefix = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}.get(p.kind, "")
        names.append(prefix + p.name)
    return names


def test_all_names_are_exported() -> None:
    workers = importlib.import_module("workers")
    assert sorted(workers.__all__) == sorted(SNAPSHOT["modules"]["__init__"]["__all__"])
    for name in workers.__all__:
        if name in ("env", "waitUntil", "wait_until"):
            continue  # module __getattr__, checked in test_standin_behaviour
        assert hasattr(workers, name), name


@pytest.mark.parametrize(("module", "name", "entry"), _cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_member_matches_sdk(module: str, name: str, entry: dict) -> None:
    if (module, name) in KNOWN_GAPS:
        pytest.skip(KNOWN_GAPS[(module, name)])
    mod = importlib.import_module(f"workers.{module}" if module != "__init__" else "workers")
    assert hasattr(mod, name), f"workers.{module} lacks {name}"
    obj = getattr(mod, name)
    if entry["kind"] != "class":
        assert _kind(mod, name) == entry["kind"]
        assert _params(obj) == entry["params"]
        return
    assert inspect.isclass(obj)
    for member, spec in entry["members"].items():
        assert hasattr(obj, member), f"{name}.{member} is missing"
        assert _kind(obj, member) == spec["kind"], f"{name}.{member}"
        if spec["kind"] != "property":
            assert _params(getattr(obj, member)) == spec["params"], f"{name}.{member}"
