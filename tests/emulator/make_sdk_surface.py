"""Write the public surface of the real Workers SDK to data/workers_sdk_surface.json.

Usage: pip download --no-deps workers-runtime-sdk==VERSION -d DIR, unzip the
wheel, then ``python tests/emulator/make_sdk_surface.py DIR/workers VERSION``.
The stand-in's conformance test compares itself with this snapshot; the
snapshot is regenerated only when the SDK version we follow changes.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

MODULES = ("__init__", "request", "response", "fetch", "types", "entrypoints", "blob", "formdata",
           "utils", "rpc")


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = fn.args
    names = [a.arg for a in args.posonlyargs + args.args]
    if args.vararg:
        names.append("*" + args.vararg.arg)
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg:
        names.append("**" + args.kwarg.arg)
    return names


def _kind(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    decorators = {d.id if isinstance(d, ast.Name) else getattr(d, "attr", "") for d in fn.decorator_list}
    if "property" in decorators:
        return "property"
    if "staticmethod" in decorators:
        return "staticmethod"
    return "async" if isinstance(fn, ast.AsyncFunctionDef) else "def"


def surface(package: Path) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for name in MODULES:
        tree = ast.parse((package / f"{name}.py").read_text())
        entries: dict[str, object] = {}
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
                entries[node.name] = {"kind": _kind(node), "params": _params(node)}
            elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                members = {}
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                        not item.name.startswith("_") or item.name == "__init__"
                    ):
                        members[item.name] = {"kind": _kind(item), "params": _params(item)}
                entries[node.name] = {"kind": "class", "bases": [ast.unparse(b) for b in node.bases],
                                      "members": members}
            elif isinstance(node, ast.Assign) and name == "__init__":
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id == "__all__":
                        entries["__all__"] = ast.literal_eval(node.value)
        out[name] = entries
    return out


if __name__ == "__main__":
    package, version = Path(sys.argv[1]), sys.argv[2]
    data = {"version": version, "modules": surface(package)}
    target = Path(__file__).with_name("data") / "workers_sdk_surface.json"
    target.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {target}")
