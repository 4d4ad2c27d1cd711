"""edgeline config / kv / schema against a real emulator KV file in a scratch project."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

import kv_schemas
from edgeline.config import decode_config
from edgeline.config.cli import main, register
from edgeline.emulator.kv import KVStorage

from ..conftest import ROOT
from .helpers import dumps, sample

WRANGLER = """\
name = "scratch"
main = "worker/entry.py"
compatibility_date = "2025-10-01"
compatibility_flags = ["python_workers"]

[[kv_namespaces]]
binding = "EDGE_CONFIG"
id = "config-local"

[[kv_namespaces]]
binding = "EDGE_STATE"
id = "state-local"
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "entry.py").write_text("")
    (tmp_path / "wrangler.toml").write_text(WRANGLER)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def stored(project, namespace_id: str, key: str):
    storage = KVStorage(project / ".edgeline" / "state" / "kv.sqlite3")
    try:
        return storage.namespace(namespace_id).sync.get(key)
    finally:
        storage.close()


def test_register_adds_commands_with_funcs() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["config", "validate", "x.toml"])
    assert callable(args.func)
    assert callable(parser.parse_args(["kv", "list"]).func)
    assert callable(parser.parse_args(["schema", "--check"]).func)


def test_validate_ok_and_errors(project, capsys) -> None:
    good = project / "edge.json"
    good.write_bytes(dumps(sample()))
    assert main(["config", "validate", str(good)]) == 0
    assert "valid (version 1: 3 routes" in capsys.readouterr().out

    doc = sample()
    doc["routes"][0]["action"]["origin"] = "missing"
    doc["routes"][1]["action"]["status"] = 9000
    bad = project / "bad.json"
    bad.write_bytes(dumps(doc))
    assert main(["config", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "9000" in text)
    assert f"{bad}:{line}: $.routes[1].action.status: Expected `int` <= 599" in err
    assert "1 problem" in err


def test_validate_toml_names_line(project, capsys) -> None:
    path = project / "edge.toml"
    path.write_text('version = 1\n\n[[routes]]\npath = "/x"\nmethods = ["GET", "BREW"]\n'
                    'action = { type = "respond" }\n')
    assert main(["config", "validate", str(path)]) == 1
    assert f"{path}:5: $.routes[0].methods[1]: Invalid enum value 'BREW'" in capsys.readouterr().err


def test_validate_missing_file(project, capsys) -> None:
    assert main(["config", "validate", "nope.toml"]) == 1
    assert "cannot read the file" in capsys.readouterr().err


def test_validate_the_example_through_a_subprocess() -> None:
    shim = "import sys; from edgeline.config.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", shim, "config", "validate", "config/edge.toml"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "config/edge.toml: valid" in done.stdout


def test_push_pull_round_trip(project, capsys) -> None:
    source = ROOT / "config" / "edge.toml"
    assert main(["config", "push", str(source)]) == 0
    assert "pushed" in capsys.readouterr().out
    value = stored(project, "config-local", "edge-config")
    config = decode_config(value)
    assert config.schema_uri is None and len(config.routes) == 6
    assert stored(project, "state-local", "edge-config") is None

    out = project / "pulled.json"
    assert main(["config", "pull", "-o", str(out)]) == 0
    assert decode_config(out.read_bytes()) == config
    assert main(["config", "pull"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == kv_schemas.SCHEMA_VERSION


def test_push_refuses_invalid_and_keeps_the_stored_value(project, capsys) -> None:
    good = project / "edge.json"
    good.write_bytes(dumps(sample()))
    assert main(["config", "push", str(good)]) == 0
    before = stored(project, "config-local", "edge-config")
    doc = sample()
    doc["surprise"] = True
    bad = project / "bad.json"
    bad.write_bytes(dumps(doc))
    assert main(["config", "push", str(bad)]) == 1
    assert "unknown field `surprise`" in capsys.readouterr().err
    assert stored(project, "config-local", "edge-config") == before


def test_push_needs_the_config_binding(project, capsys) -> None:
    (project / "wrangler.toml").write_text(WRANGLER.split("[[kv_namespaces]]\nbinding = \"EDGE_C")[0]
                                           + '[[kv_namespaces]]\nbinding = "OTHER"\nid = "x"\n')
    good = project / "edge.json"
    good.write_bytes(dumps(sample()))
    assert main(["config", "push", str(good)]) == 2
    assert "binding = 'EDGE_CONFIG'" in capsys.readouterr().err


def test_pull_of_invalid_value_warns(project, capsys) -> None:
    assert main(["kv", "put", "edge-config", '{"version": "x"}', "-b", "EDGE_CONFIG"]) == 0
    capsys.readouterr()
    assert main(["config", "pull"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"version": "x"}
    assert "$.version: Expected `int`" in captured.err


def test_kv_commands(project, capsys) -> None:
    assert main(["kv", "put", "greeting", "hello", "-b", "EDGE_STATE"]) == 0
    data = project / "value.bin"
    data.write_text("from a file")
    assert main(["kv", "put", "file-key", "--file", str(data), "-b", "EDGE_STATE"]) == 0
    capsys.readouterr()
    assert main(["kv", "get", "greeting", "-b", "EDGE_STATE"]) == 0
    assert capsys.readouterr().out == "hello\n"
    assert main(["kv", "list", "-b", "EDGE_STATE"]) == 0
    assert capsys.readouterr().out.split() == ["file-key", "greeting"]
    assert main(["kv", "list", "--prefix", "gr", "-b", "EDGE_STATE"]) == 0
    assert capsys.readouterr().out.split() == ["greeting"]
    assert main(["kv", "delete", "greeting", "-b", "EDGE_STATE"]) == 0
    assert main(["kv", "get", "greeting", "-b", "EDGE_STATE"]) == 2
    # The default binding is EDGE_CONFIG when bound.
    assert main(["kv", "put", "k", "v"]) == 0
    assert stored(project, "config-local", "k") == "v"


def test_kv_errors(project, capsys) -> None:
    assert main(["kv", "put", "k" * 513, "v"]) == 1
    assert "exceeds key length limit of 512" in capsys.readouterr().err
    assert main(["kv", "put", "k", "v", "--ttl", "10"]) == 1
    assert "Expiration TTL must be at least 60" in capsys.readouterr().err
    assert main(["kv", "get", "k", "-b", "NOPE"]) == 2
    assert main(["kv", "put", "k"]) == 2
    assert main(["kv", "get", "k", "-c", "missing.toml"]) == 2


def test_kv_list_pages_through_more_than_1000_keys(project, capsys) -> None:
    storage = KVStorage(project / ".edgeline" / "state" / "kv.sqlite3")
    try:
        sync = storage.namespace("state-local").sync
        for i in range(1005):
            sync.put(f"k{i:05d}", "v")
    finally:
        storage.close()
    assert main(["kv", "list", "-b", "EDGE_STATE"]) == 0
    assert len(capsys.readouterr().out.split()) == 1005


def test_bulk_file_for_wrangler(project, capsys) -> None:
    out = project / "bulk.json"
    assert main(["config", "bulk", str(ROOT / "config" / "edge.toml"), "-o", str(out)]) == 0
    entries = json.loads(out.read_text())
    assert [sorted(e) for e in entries] == [["key", "value"]]
    assert entries[0]["key"] == "edge-config" and isinstance(entries[0]["value"], str)
    assert decode_config(entries[0]["value"]).version == kv_schemas.SCHEMA_VERSION
    assert "wrangler kv bulk put" in capsys.readouterr().err


def test_schema_writes_and_checks(project, capsys) -> None:
    out = project / "schemas"
    assert main(["schema", "--out", str(out), "--check"]) == 1
    assert main(["schema", "--out", str(out)]) == 0
    schema = json.loads((out / "edge-config.schema.json").read_text())
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert main(["schema", "--out", str(out), "--check"]) == 0
