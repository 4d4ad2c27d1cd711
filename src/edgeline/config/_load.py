"""Decode and compile in one step, with lines for every problem."""

from __future__ import annotations

import gc
import hashlib
from typing import Any

from kv_schemas import EdgeConfig

from ..types import Transport
from ._compile import CompiledConfig, Compiler, compile_config
from ._decode import decode_config, load_file
from ._errors import ConfigInvalid
from ._locate import line_of

__all__ = ["load_config", "validate_file"]


def _with_lines(exc: ConfigInvalid, text: str | None, *, toml: bool, source: str | None) -> None:
    exc.source = exc.source or source
    if text is None:
        return
    for problem in exc.problems:
        if problem.line is None:
            problem.line = line_of(text, problem.path, toml=toml)


def load_config(
    data: bytes | str, *, env: Any = None, base: Transport | None = None,
    source: str | None = None, only: dict[str, Compiler] | None = None,
) -> CompiledConfig:
    """Decode the JSON document ``data`` and compile it; raise ConfigInvalid if either fails."""
    # PERF: loading allocates tens of thousands of objects (IP ranges, syntax
    # trees, routes) and frees few of them, so the cyclic collector would run
    # many passes that find nothing; it is paused for the load (bench/config.py).
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        config: EdgeConfig = decode_config(data, source=source)
        try:
            compiled = compile_config(config, env=env, base=base, only=only)
        except ConfigInvalid as exc:
            text = data if isinstance(data, str) else data.decode("utf-8", "replace")
            _with_lines(exc, text, toml=False, source=source)
            raise
    finally:
        if collecting:
            gc.enable()
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    compiled.digest = hashlib.sha256(raw).hexdigest()
    compiled.size = len(raw)
    return compiled


def validate_file(path: str, *, env: Any = None) -> CompiledConfig:
    """Decode and compile a JSON or TOML file for checking; transports are not built."""
    config: EdgeConfig = load_file(path)
    try:
        return compile_config(config, env=env)
    except ConfigInvalid as exc:
        try:
            with open(path, "rb") as handle:
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            text = None
        _with_lines(exc, text, toml=path.endswith(".toml"), source=path)
        raise
