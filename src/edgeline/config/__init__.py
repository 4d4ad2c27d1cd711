"""The configuration plane: typed KV data, loaded, compiled, refreshed, kept known-good.

::

    from edgeline.config import ConfigPlane

    plane = ConfigPlane("EDGE_CONFIG", "edge-config", refresh_seconds=30)
    app.use(plane.middleware)     # KV routes are matched before the app's own

The document under the key is a ``kv_schemas.EdgeConfig`` in JSON (see
:mod:`kv_schemas` for the schema and its evolution rules). Loading decodes
it with a decoder built once, compiles it (:func:`compile_config`: origins
into transports, IP lists into sorted ranges, routes into a router, plus
every compiler registered with :func:`compiler`) and swaps the result in
whole; anything wrong rejects it whole with :class:`ConfigInvalid`, whose
problems name the field path, the expected type and the line. See
:mod:`edgeline.config._plane` for refresh and the admin route, and
``edgeline config --help`` for the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names
from ._errors import ConfigInvalid, Problem
from ._limits import MAX_KEY_BYTES, MAX_VALUE_BYTES, check_key, check_value_size
from ._plane import STATE_KEY, ConfigPlane

if TYPE_CHECKING:
    from ._compile import (
        Build,
        CompiledConfig,
        Compiler,
        GeoPolicies,
        compile_config,
        compiler,
        compilers,
    )
    from ._decode import convert_config, decode_config, load_file
    from ._ipset import IPListError, IPSet, sort_entries
    from ._load import load_config, validate_file

# PERF: these need msgspec and the schemas (and the IP sets are only built by a
# configuration that has IP lists); they are imported on first use so that a
# worker's start-up (and Pyodide without msgspec) does not pay for them.
_SUBMODULES = {
    "._ipset": ("IPListError", "IPSet", "sort_entries"),
    "._compile": ("Build", "CompiledConfig", "Compiler", "GeoPolicies", "compile_config",
                  "compiler", "compilers"),
    "._decode": ("convert_config", "decode_config", "load_file"),
    "._load": ("load_config", "validate_file"),
}


__all__ = [
    "MAX_KEY_BYTES",
    "MAX_VALUE_BYTES",
    "STATE_KEY",
    "Build",
    "CompiledConfig",
    "Compiler",
    "ConfigInvalid",
    "ConfigPlane",
    "GeoPolicies",
    "IPListError",
    "IPSet",
    "Problem",
    "check_key",
    "check_value_size",
    "compile_config",
    "compiler",
    "compilers",
    "convert_config",
    "decode_config",
    "load_config",
    "load_file",
    "sort_entries",
    "validate_file",
]

__getattr__, __dir__ = lazy_names(__name__, globals(), _SUBMODULES)
