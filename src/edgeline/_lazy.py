"""Names of a package imported from their submodules on first use (PEP 562).

A package lists which submodule defines each lazy name and gets back its
module-level ``__getattr__`` and ``__dir__``::

    __getattr__, __dir__ = lazy_names(__name__, globals(), {"._auth": ("JWTAuthenticator",)})

PERF: a worker pays at start-up only for the submodules its code touches;
a name, once imported, is stored in the package so the next access is a
plain attribute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, namespace: dict[str, Any], submodules: Mapping[str, Iterable[str]],
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for ``package`` whose globals are ``namespace``."""
    where = {name: module for module, names in submodules.items() for name in names}

    def lazy_attribute(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package), name)
        namespace[name] = value
        return value

    def package_dir() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())) | set(where))

    return lazy_attribute, package_dir
