"""``edgeline config``, ``edgeline kv`` and ``edgeline schema``: configuration from the shell.

::

    edgeline config validate config/edge.toml     # exit 1 and file:line: path: problem
    edgeline config push config/edge.toml         # validate, then write to the emulator's KV
    edgeline config pull [-o FILE]                # read it back (pretty JSON)
    edgeline config bulk config/edge.toml -o kv-bulk.json
    npx wrangler kv bulk put kv-bulk.json --binding EDGE_CONFIG   # production
    edgeline kv list|get|put|delete ...           # any key of the emulator's KV
    edgeline schema [--out config/schema] [--check]

``push``, ``pull`` and ``kv`` work on the emulator's state: the SQLite file
``<project>/.edgeline/state/kv.sqlite3`` that ``edgeline dev`` serves, with
the namespace id from ``wrangler.toml``'s ``[[kv_namespaces]]``. Exit status:
0 success, 1 invalid configuration or failed KV call, 2 a usage problem
(no such file, binding or key).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

import kv_schemas

from ..errors import ConfigError
from ._compile import CompiledConfig
from ._decode import check_key, check_value_size
from ._errors import ConfigInvalid
from ._ipset import sort_entries
from ._load import load_config, validate_file

__all__ = ["DEFAULT_BINDING", "DEFAULT_KEY", "DEFAULT_SCHEMA_DIR", "encode_for_kv", "register"]

DEFAULT_BINDING = "EDGE_CONFIG"
DEFAULT_KEY = "edge-config"
DEFAULT_SCHEMA_DIR = "config/schema"


def register(subparsers: Any) -> None:
    """Add the ``config``, ``kv`` and ``schema`` commands to an argparse subparsers object."""
    config = subparsers.add_parser("config", help="validate, push and pull edge configuration")
    commands = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check a JSON or TOML configuration file")
    validate.add_argument("file", help="the configuration (.json or .toml)")
    validate.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    validate.set_defaults(func=_validate)

    push = commands.add_parser("push", help="validate a file and write it to the emulator's KV")
    push.add_argument("file")
    _kv_options(push, key=True)
    push.set_defaults(func=_push)

    pull = commands.add_parser("pull", help="read the configuration from the emulator's KV")
    _kv_options(pull, key=True)
    pull.add_argument("-o", "--output", default=None, help="write to this file, not stdout")
    pull.set_defaults(func=_pull)

    bulk = commands.add_parser(
        "bulk", help="write the JSON file `wrangler kv bulk put` takes (for production)")
    bulk.add_argument("file")
    bulk.add_argument("--key", default=DEFAULT_KEY, help=f"KV key (default {DEFAULT_KEY})")
    bulk.add_argument("-o", "--output", default=None, help="write to this file, not stdout")
    bulk.set_defaults(func=_bulk)

    kv = subparsers.add_parser("kv", help="read and write keys of the emulator's KV")
    kv_commands = kv.add_subparsers(dest="kv_command", required=True, metavar="COMMAND")
    get = kv_commands.add_parser("get", help="print a key's value")
    get.add_argument("key")
    _kv_options(get)
    get.set_defaults(func=_kv_get)
    put = kv_commands.add_parser("put", help="set a key's value (an argument or --file)")
    put.add_argument("key")
    put.add_argument("value", nargs="?", default=None)
    put.add_argument("--file", default=None, help="read the value from this file")
    put.add_argument("--ttl", type=int, default=None, help="expiration TTL in seconds (>= 60)")
    _kv_options(put)
    put.set_defaults(func=_kv_put)
    listing = kv_commands.add_parser("list", help="list keys")
    listing.add_argument("--prefix", default=None)
    _kv_options(listing)
    listing.set_defaults(func=_kv_list)
    delete = kv_commands.add_parser("delete", help="delete a key")
    delete.add_argument("key")
    _kv_options(delete)
    delete.set_defaults(func=_kv_delete)

    schema = subparsers.add_parser("schema", help="write JSON Schema files for editors")
    schema.add_argument("--out", default=DEFAULT_SCHEMA_DIR,
                        help=f"folder to write to (default {DEFAULT_SCHEMA_DIR})")
    schema.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the files are missing or out of date")
    schema.set_defaults(func=_schema)


def _kv_options(parser: argparse.ArgumentParser, *, key: bool = False) -> None:
    if key:
        # Configuration goes only where workers read it: never a guessed binding.
        parser.add_argument("--binding", "-b", default=DEFAULT_BINDING,
                            help=f"KV binding in wrangler.toml (default {DEFAULT_BINDING})")
    else:
        parser.add_argument("--binding", "-b", default=None,
                            help=f"KV binding in wrangler.toml (default {DEFAULT_BINDING} if "
                                 "bound, else the only one)")
    parser.add_argument("--config", "-c", default="wrangler.toml", help="path to wrangler.toml")
    parser.add_argument("--env", "-e", default=None, help="a [env.NAME] section of wrangler.toml")
    parser.add_argument("--state", default=None, help="state folder (default .edgeline/state)")
    if key:
        parser.add_argument("--key", default=DEFAULT_KEY, help=f"KV key (default {DEFAULT_KEY})")


class _Usage(Exception):
    """A problem with the command line or the project; exit status 2."""


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _describe(compiled: CompiledConfig) -> str:
    config = compiled.config
    entries = sum(len(item.entries) for item in config.ip_lists)

    def n(count: int, one: str, many: str) -> str:
        return f"{count} {one if count == 1 else many}"

    return (f"version {config.version}: {n(len(config.routes), 'route', 'routes')}, "
            f"{n(len(config.origins), 'origin', 'origins')}, "
            f"{n(len(config.ip_lists), 'IP list', 'IP lists')} "
            f"({n(entries, 'entry', 'entries')}), {n(len(config.rules), 'rule', 'rules')}, "
            f"{n(len(config.geo_policies), 'geo policy', 'geo policies')}")


def encode_for_kv(path: str) -> tuple[bytes, CompiledConfig]:
    """Validate the file at ``path`` and return the JSON bytes to store, and the compiled form."""
    compiled = validate_file(path)
    # The $schema hint is for editors; the stored document omits it. IP lists
    # are stored in address order, which spares the sort when a worker loads them.
    config = compiled.config
    lists = [msgspec.structs.replace(item, entries=sort_entries(item.entries))
             for item in config.ip_lists]
    config = msgspec.structs.replace(config, schema_uri=None, ip_lists=lists)
    data = kv_schemas.ENCODER.encode(config)
    check_value_size(data, source=path)
    # NOTE: the stored form must load exactly as the file did.
    load_config(data, source=path)
    return data, compiled


def _validate(args: argparse.Namespace) -> int:
    try:
        compiled = validate_file(args.file)
    except ConfigInvalid as exc:
        _err(exc.report())
        _err(f"{args.file}: invalid ({len(exc.problems)} problem"
             f"{'' if len(exc.problems) == 1 else 's'})")
        return 1
    if not args.quiet:
        print(f"{args.file}: valid ({_describe(compiled)})")
    return 0


@contextmanager
def _namespace(args: argparse.Namespace) -> Iterator[Any]:
    from ..emulator.config import load_wrangler
    from ..emulator.kv import KVStorage

    try:
        worker = load_wrangler(args.config, args.env)
    except ConfigError as exc:
        raise _Usage(str(exc)) from None
    bindings = {kv.binding: kv.id for kv in worker.kv_namespaces}
    name = args.binding
    if name is None:
        if DEFAULT_BINDING in bindings:
            name = DEFAULT_BINDING
        elif len(bindings) == 1:
            name = next(iter(bindings))
        else:
            raise _Usage(f"{args.config}: choose a KV binding with --binding "
                         f"(bound: {', '.join(sorted(bindings)) or 'none'})")
    if name not in bindings:
        raise _Usage(f"{args.config}: no [[kv_namespaces]] entry with binding = {name!r} "
                     f"(bound: {', '.join(sorted(bindings)) or 'none'})")
    state = Path(args.state) if args.state else worker.root / ".edgeline" / "state"
    storage = KVStorage(state / "kv.sqlite3")
    try:
        yield storage.namespace(bindings[name]).sync
    finally:
        storage.close()


def _run_kv(args: argparse.Namespace, action: Any) -> int:
    from ..emulator.kv import KVError

    try:
        with _namespace(args) as namespace:
            return int(action(namespace))
    except _Usage as exc:
        _err(f"edgeline: {exc}")
        return 2
    except (KVError, TypeError) as exc:
        _err(f"edgeline: {exc}")
        return 1


def _push(args: argparse.Namespace) -> int:
    try:
        check_key(args.key)
        data, compiled = encode_for_kv(args.file)
    except ConfigInvalid as exc:
        _err(exc.report())
        _err(f"{args.file}: not pushed")
        return 1

    def put(namespace: Any) -> int:
        namespace.put(args.key, data.decode())
        print(f"pushed {args.file} to {args.key!r} ({len(data)} bytes, {_describe(compiled)})")
        return 0

    return _run_kv(args, put)


def _pull(args: argparse.Namespace) -> int:
    def pull(namespace: Any) -> int:
        value = namespace.get(args.key)
        if value is None:
            _err(f"edgeline: no value under key {args.key!r}")
            return 2
        try:
            text = json.dumps(json.loads(value), indent=2, ensure_ascii=False) + "\n"
        except ValueError:
            text = value
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        try:
            load_config(value, source=f"kv:{args.key}")
        except ConfigInvalid as exc:
            _err("warning: the stored configuration is invalid; workers keep their last good one")
            _err(exc.report())
        return 0

    return _run_kv(args, pull)


def _bulk(args: argparse.Namespace) -> int:
    try:
        check_key(args.key)
        data, _ = encode_for_kv(args.file)
    except ConfigInvalid as exc:
        _err(exc.report())
        return 1
    # The body of `wrangler kv bulk put FILE`: an array of {key, value} with string values.
    text = json.dumps([{"key": args.key, "value": data.decode()}], ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        _err(f"wrote {args.output}; deploy with: npx wrangler kv bulk put {args.output} "
             f"--binding {DEFAULT_BINDING} --remote")
    else:
        sys.stdout.write(text)
    return 0


def _kv_get(args: argparse.Namespace) -> int:
    def get(namespace: Any) -> int:
        value = namespace.get(args.key)
        if value is None:
            _err(f"edgeline: no value under key {args.key!r}")
            return 2
        sys.stdout.write(value if value.endswith("\n") else value + "\n")
        return 0

    return _run_kv(args, get)


def _kv_put(args: argparse.Namespace) -> int:
    if (args.value is None) == (args.file is None):
        _err("edgeline kv put: give the value as an argument or with --file, not both")
        return 2
    if args.file is not None:
        try:
            value: str | bytes = Path(args.file).read_bytes()
        except OSError as exc:
            _err(f"edgeline kv put: cannot read {args.file}: {exc.strerror}")
            return 2
    else:
        value = args.value

    def put(namespace: Any) -> int:
        options = {} if args.ttl is None else {"expirationTtl": args.ttl}
        namespace.put(args.key, value, **options)
        print(f"put {args.key!r}")
        return 0

    return _run_kv(args, put)


def _kv_list(args: argparse.Namespace) -> int:
    def listing(namespace: Any) -> int:
        cursor = None
        while True:
            options: dict[str, Any] = {}
            if args.prefix:
                options["prefix"] = args.prefix
            if cursor:
                options["cursor"] = cursor
            page = namespace.list(**options)
            for entry in page["keys"]:
                print(entry["name"])
            if page["list_complete"]:
                return 0
            cursor = page["cursor"]

    return _run_kv(args, listing)


def _kv_delete(args: argparse.Namespace) -> int:
    def delete(namespace: Any) -> int:
        namespace.delete(args.key)
        print(f"deleted {args.key!r}")
        return 0

    return _run_kv(args, delete)


def schema_files() -> dict[str, str]:
    """Return ``{file name: JSON Schema text}`` for every kind of KV value."""
    files = {}
    for kind, struct in kv_schemas.KINDS.items():
        schema = msgspec.json.schema(struct)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = f"edgeline {kind} (version {kv_schemas.VERSIONS[kind]})"
        files[f"{kind}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def _schema(args: argparse.Namespace) -> int:
    out = Path(args.out)
    stale = []
    for name, text in schema_files().items():
        path = out / name
        if args.check:
            try:
                current = path.read_text(encoding="utf-8")
            except OSError:
                current = None
            if current != text:
                stale.append(str(path))
            continue
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    if stale:
        _err(f"out of date (run `edgeline schema --out {args.out}`): {', '.join(stale)}")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run these commands without the rest of the edgeline CLI (tests, scripts)."""
    parser = argparse.ArgumentParser(prog="edgeline")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
