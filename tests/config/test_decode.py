"""Decoding configuration documents: every kind of bad input is one clear error."""

from __future__ import annotations

import json

import msgspec
import pytest

import kv_schemas
from edgeline.config import (
    MAX_VALUE_BYTES,
    ConfigInvalid,
    check_key,
    decode_config,
    load_config,
    load_file,
)
from edgeline.errors import ConfigError

from .helpers import dumps, sample


def problem(data: bytes | str) -> tuple[str, str, int | None]:
    with pytest.raises(ConfigInvalid) as info:
        load_config(data)
    first = info.value.problems[0]
    return first.path, first.message, first.line


def test_sample_decodes_and_round_trips() -> None:
    config = decode_config(dumps(sample()))
    assert isinstance(config, kv_schemas.EdgeConfig)
    assert config.routes[0].action == kv_schemas.Forward(origin="api", strip_prefix="/api")
    assert config.routes[2].action.status == 308
    again = decode_config(kv_schemas.ENCODER.encode(config))
    assert again == config


def test_wrong_type_names_path_expected_type_and_line() -> None:
    doc = sample()
    doc["routes"][1]["action"]["status"] = "200"
    data = dumps(doc)
    path, message, line = problem(data)
    assert path == "$.routes[1].action.status"
    assert "Expected `int`, got `str`" in message
    assert data.decode().splitlines()[line - 1].strip() == '"status": "200"'


def test_unknown_field_is_an_error_naming_it() -> None:
    doc = sample()
    doc["routes"][0]["action"]["strip_prefx"] = "/api"
    data = dumps(doc)
    path, message, line = problem(data)
    assert path == "$.routes[0].action"
    assert "unknown field `strip_prefx`" in message
    assert '"action": {' in data.decode().splitlines()[line - 1]


def test_unknown_variant_tag() -> None:
    doc = sample()
    doc["routes"][1]["action"]["type"] = "reply"
    path, message, _ = problem(dumps(doc))
    assert path == "$.routes[1].action.type"
    assert "'reply'" in message


def test_missing_required_field() -> None:
    doc = sample()
    del doc["routes"][0]["path"]
    path, message, _ = problem(dumps(doc))
    assert (path, message) == ("$.routes[0]", "Object missing required field `path`")


def test_truncated_json() -> None:
    data = dumps(sample())
    path, message, line = problem(data[: len(data) // 2])
    assert path == "$" and "truncated" in message
    assert line == data[: len(data) // 2].count(b"\n") + 1


def test_malformed_json_has_a_line() -> None:
    data = b'{\n  "version": 1,\n  "routes": [,]\n}'
    path, message, line = problem(data)
    assert path == "$" and "malformed" in message and line == 3


def test_not_an_object() -> None:
    assert problem(b"[]")[:2] == ("$", "Expected `object`, got `array`")


def test_newer_version_is_reported_as_such() -> None:
    doc = sample()
    doc["version"] = kv_schemas.SCHEMA_VERSION + 1
    path, message, _ = problem(dumps(doc))
    assert path == "$.version"
    assert "newer than this code reads" in message


def test_newer_version_with_unknown_fields_says_version_first() -> None:
    doc = sample()
    doc["version"] = kv_schemas.SCHEMA_VERSION + 1
    doc["future_field"] = []
    with pytest.raises(ConfigInvalid) as info:
        load_config(dumps(doc))
    problems = info.value.problems
    assert problems[0].path == "$.version" and "newer" in problems[0].message
    assert "unknown field `future_field`" in problems[1].message


def test_value_over_kv_limit() -> None:
    data = b'{"version": 1, "description": "' + b"x" * MAX_VALUE_BYTES + b'"}'
    path, message, _ = problem(data)
    assert path == "$" and "25 MiB" in message


def test_key_limits() -> None:
    check_key("k" * 512)
    for bad in ("k" * 513, "é" * 257, "", ".", ".."):
        with pytest.raises(ConfigInvalid):
            check_key(bad)


def test_constraints_are_checked() -> None:
    doc = sample()
    doc["routes"][0]["path"] = "api"
    path, message, _ = problem(dumps(doc))
    assert path == "$.routes[0].path" and "regex" in message
    doc = sample()
    doc["routes"][0]["methods"] = ["FETCH"]
    assert problem(dumps(doc))[0] == "$.routes[0].methods[0]"


@pytest.mark.parametrize(
    ("mutate", "path", "text"),
    [
        (lambda d: d["routes"][0]["action"].update(origin="nope"),
         "$.routes[0].action.origin", "no origin named 'nope'"),
        (lambda d: d["rules"][0]["match"].update(ip_list="nope"),
         "$.rules[0].match.ip_list", "no IP list named 'nope'"),
        (lambda d: d["ip_lists"][0]["entries"].append("10.0.0.1/8"),
         "$.ip_lists[0].entries[2]", "host bits set"),
        (lambda d: d["ip_lists"][0]["entries"].append("999.1.1.1"),
         "$.ip_lists[0].entries[2]", "is not an IPv4/IPv6 address"),
        (lambda d: d["origins"].append({"name": "api", "urls": ["http://b.test"]}),
         "$.origins[1].name", "defined twice"),
        (lambda d: d["routes"].append({"path": "/ping", "action": {"type": "respond"}}),
         "$.routes[3].path", ""),
        (lambda d: d["routes"][2]["action"].update(location="/new/{nope}"),
         "$.routes[2].action.location", "{nope} is not a parameter"),
        (lambda d: d["geo_policies"].append({"name": "eu2", "continents": ["EU"]}),
         "$.geo_policies[1].continents[0]", "already claimed"),
        (lambda d: d["rules"].append({"id": "block", "action": {"type": "log"}}),
         "$.rules[1].id", "used twice"),
    ],
)
def test_compile_problems_name_their_path_and_line(mutate, path, text) -> None:
    doc = sample()
    mutate(doc)
    data = dumps(doc)
    with pytest.raises(ConfigInvalid) as info:
        load_config(data)
    first = info.value.problems[0]
    assert first.path == path
    assert text in first.message
    assert first.line is not None and first.line > 1


def test_all_compile_problems_are_reported_together() -> None:
    doc = sample()
    doc["routes"][0]["action"]["origin"] = "nope"
    doc["rules"][0]["match"]["ip_list"] = "nope"
    with pytest.raises(ConfigInvalid) as info:
        load_config(dumps(doc))
    assert [p.path for p in info.value.problems] == [
        "$.rules[0].match.ip_list", "$.routes[0].action.origin"]
    assert "(and 1 more)" in str(info.value)


def test_config_invalid_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        load_config(b"{")


TOML = """\
version = 1

[[origins]]
name = "api"
urls = ["http://origin.test"]

[[routes]]
path = "/a"
action = { type = "respond", body = "a" }

[[routes]]
path = "/b"
[routes.action]
type = "respond"
status = "two hundred"
"""


def test_toml_errors_name_path_and_line(tmp_path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(TOML)
    with pytest.raises(ConfigInvalid) as info:
        load_file(str(path))
    first = info.value.problems[0]
    assert first.path == "$.routes[1].action.status"
    assert first.line == 15
    assert str(info.value).startswith(f"{path}:15: $.routes[1].action.status: Expected `int`")


def test_toml_syntax_error_has_a_line(tmp_path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text("version = 1\n[[routes]\n")
    with pytest.raises(ConfigInvalid) as info:
        load_file(str(path))
    assert info.value.problems[0].line == 2


def test_toml_and_json_decode_the_same(tmp_path) -> None:
    toml_path = tmp_path / "edge.toml"
    toml_path.write_text(TOML.replace('"two hundred"', "201"))
    from_toml = load_file(str(toml_path))
    from_json = decode_config(msgspec.json.encode(from_toml))
    assert from_json == from_toml
    assert json.loads(msgspec.json.encode(from_toml))["routes"][1]["action"]["status"] == 201
