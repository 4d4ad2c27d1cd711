"""Read ``wrangler.toml`` and ``.dev.vars`` for the emulator.

Every key of the file is accounted for: used by the emulator, known to
matter only at deploy time (reported once, at info level), or not supported
locally (a warning naming the key and its line). Errors name the file, the
key and the line.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["KVBinding", "WorkerConfig", "load_dev_vars", "load_wrangler"]

log = logging.getLogger("edgeline.dev")

# Keys the emulator acts on.
_USED = {"name", "main", "compatibility_date", "compatibility_flags", "vars", "kv_namespaces",
         "ratelimits", "dev", "env"}
# Keys that only shape a deployment; they have no local meaning.
_DEPLOY_ONLY = {"account_id", "workers_dev", "route", "routes", "preview_urls", "observability",
                "logpush", "upload_source_maps", "keep_vars", "send_metrics", "minify",
                "tail_consumers", "placement", "limits", "usage_model", "no_bundle", "find_additional_modules",
                "base_dir", "rules", "build", "triggers", "$schema"}
_DEV_KEYS = {"ip", "port", "local_protocol"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BINDING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class KVBinding:
    """A KV namespace bound to the worker under ``binding``."""

    binding: str
    id: str


@dataclass
class WorkerConfig:
    """What the emulator needs from wrangler.toml (and .dev.vars)."""

    path: Path
    name: str
    main: Path
    compatibility_date: str | None = None
    compatibility_flags: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    kv_namespaces: list[KVBinding] = field(default_factory=list)
    # The Rate Limiting bindings ([[ratelimits]]), as written; checked when built.
    ratelimits: list[dict[str, Any]] = field(default_factory=list)
    dev_ip: str = "127.0.0.1"
    dev_port: int = 8787
    warnings: list[str] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.path.parent


def _line_of(text: str, key: str, after: int = 0) -> int | None:
    """Return the 1-based line where ``key`` is assigned or opens a table."""
    pattern = re.compile(
        rf"^[ \t]*(\[\[?[ \t]*([\w.-]+\.)?{re.escape(key)}\s*\]\]?|{re.escape(key)}\s*=|\"{re.escape(key)}\"\s*=)",
        re.M,
    )
    match = pattern.search(text, after)
    if match is None:
        return None
    return text.count("\n", 0, match.start()) + 1


class _Reader:
    """Checks one table of wrangler.toml, with errors that name file, key and line."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, file=str(self.path), key=key, line=self.line(key))

    def line(self, key: str) -> int | None:
        """Find ``key`` (``a.b``, ``tables[2].b``) in the text: the entry, else its table."""
        head, _, leaf = key.rpartition(".")
        table, _, index = head.partition("[")
        start = 0
        if table:
            # Skip to the right [[table]] (or [table]) header first.
            pattern = re.compile(rf"^[ \t]*\[\[?[ \t]*{re.escape(table)}[ \t]*\]\]?", re.M)
            headers = list(pattern.finditer(self.text))
            nth = int(index.rstrip("]")) if index else 0
            if nth < len(headers):
                start = headers[nth].start()
                following = headers[nth + 1].start() if nth + 1 < len(headers) else len(self.text)
                found = _line_of(self.text[:following], leaf, start)
                return found if found is not None else self.text.count("\n", 0, start) + 1
        return _line_of(self.text, leaf or key, start)

    def string(self, table: dict[str, Any], key: str, where: str = "") -> str | None:
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise self.error(where + key, f"must be a string, not {type(value).__name__}")
        return value


def load_wrangler(path: str | Path, env: str | None = None) -> WorkerConfig:
    """Parse and check ``wrangler.toml``; raise ConfigError naming file, key and line."""
    path = Path(path).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        if line is None:
            found = re.search(r"line (\d+)", str(exc))
            if found:
                line = int(found.group(1))
            elif "end of document" in str(exc):
                line = len(text.rstrip("\n").splitlines()) or 1
        raise ConfigError(f"not valid TOML: {exc}", file=str(path), line=line) from None
    reader = _Reader(path, text)

    if env is not None:
        envs = data.get("env") or {}
        if env not in envs:
            raise ConfigError(f"no [env.{env}] section", file=str(path), key=f"env.{env}")
        # Wrangler: top-level keys are inherited, vars and bindings are not.
        data = {k: v for k, v in data.items() if k not in ("vars", "kv_namespaces", "env")}
        data.update(envs[env])

    warnings: list[str] = []
    deploy_only = []
    for key in data:
        if key in _USED:
            continue
        if key in _DEPLOY_ONLY:
            deploy_only.append(key)
            continue
        line = _line_of(text, key)
        warnings.append(f"{path.name}:{line}: [{key}] is not supported by the edgeline emulator; "
                        "it is ignored locally")
    if deploy_only:
        log.info("%s: deploy-only keys, no effect locally: %s", path.name, ", ".join(sorted(deploy_only)))

    name = reader.string(data, "name") or path.parent.name
    main_value = reader.string(data, "main")
    if not main_value:
        raise ConfigError("is required: the worker's entry module, e.g. main = \"worker/entry.py\"",
                          file=str(path), key="main", line=_line_of(text, "main"))
    main = (path.parent / main_value).resolve()
    if main.suffix != ".py":
        raise reader.error("main", f"{main_value!r} is not a Python module (.py)")
    if not main.is_file():
        raise reader.error("main", f"{main_value!r} does not exist (looked for {main})")

    date = reader.string(data, "compatibility_date")
    if date is not None and not _DATE.match(date):
        raise reader.error("compatibility_date", f"{date!r} is not a date of the form YYYY-MM-DD")
    flags = data.get("compatibility_flags", [])
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise reader.error("compatibility_flags", "must be a list of strings")
    if "python_workers" not in flags:
        warnings.append(f"{path.name}: compatibility_flags lacks \"python_workers\"; "
                        "Cloudflare will not run this worker as Python")

    variables = data.get("vars", {})
    if not isinstance(variables, dict):
        raise reader.error("vars", "must be a table")

    namespaces: list[KVBinding] = []
    raw_kv = data.get("kv_namespaces", [])
    if not isinstance(raw_kv, list):
        raise reader.error("kv_namespaces", "must be an array of tables ([[kv_namespaces]])")
    for i, entry in enumerate(raw_kv):
        where = f"kv_namespaces[{i}]."
        if not isinstance(entry, dict):
            raise reader.error("kv_namespaces", f"entry {i} must be a table")
        binding = reader.string(entry, "binding", where)
        if not binding or not _BINDING_NAME.match(binding):
            raise reader.error(where + "binding", f"entry {i} needs a binding name that is a valid identifier")
        ns_id = reader.string(entry, "id", where) or binding
        for key in entry:
            if key not in ("binding", "id", "preview_id", "remote", "experimental_remote"):
                warnings.append(f"{path.name}:{_line_of(text, key)}: kv_namespaces[{i}].{key} "
                                "is not supported by the edgeline emulator")
        namespaces.append(KVBinding(binding, ns_id))

    ratelimits = data.get("ratelimits", [])
    if not isinstance(ratelimits, list) or not all(isinstance(e, dict) for e in ratelimits):
        raise reader.error("ratelimits", "must be an array of tables ([[ratelimits]])")
    from .ratelimit import bindings_from_config

    try:
        bindings_from_config(ratelimits)
    except ValueError as exc:
        raise reader.error("ratelimits", str(exc)) from None

    config = WorkerConfig(path=path, name=name, main=main, compatibility_date=date,
                          compatibility_flags=list(flags), vars=dict(variables),
                          kv_namespaces=namespaces, ratelimits=ratelimits, warnings=warnings)
    dev = data.get("dev", {})
    if not isinstance(dev, dict):
        raise reader.error("dev", "must be a table")
    for key in dev:
        if key not in _DEV_KEYS:
            warnings.append(f"{path.name}:{_line_of(text, key)}: dev.{key} is not supported by the "
                            "edgeline emulator")
    if "ip" in dev:
        config.dev_ip = str(dev["ip"])
    if "port" in dev:
        if not isinstance(dev["port"], int) or not 0 <= dev["port"] <= 65535:
            raise reader.error("dev.port", "must be a port number")
        config.dev_port = dev["port"]
    return config


_DOTENV = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def load_dev_vars(root: Path, env: str | None = None) -> dict[str, str]:
    """Read ``.dev.vars`` (or ``.dev.vars.<env>``): local secrets, in dotenv syntax."""
    path = root / (f".dev.vars.{env}" if env else ".dev.vars")
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV.match(line)
        if match is None:
            raise ConfigError("expected NAME=value", file=str(path), line=number)
        name, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = value.encode().decode("unicode_escape")
        else:
            value = value.split(" #", 1)[0].rstrip()
        values[name] = value
    return values
