"""The checked-in example configuration and JSON Schema files stay valid and current."""

from __future__ import annotations

import json

import msgspec

import kv_schemas
from edgeline.config import validate_file
from edgeline.config.cli import schema_files

from ..conftest import ROOT

EXAMPLE = ROOT / "config" / "edge.toml"


def test_example_configuration_is_valid() -> None:
    compiled = validate_file(str(EXAMPLE))
    config = compiled.config
    assert config.version == kv_schemas.SCHEMA_VERSION
    assert compiled.routes == len(config.routes) >= 5
    assert "192.0.2.55" in compiled["ip_lists"]["blocked"]
    assert compiled["geo_policies"].for_location("AT", "EU").name == "germany"
    assert compiled.router is not None
    assert compiled.router.match("GET", "/healthz") is not None


def test_example_forwards_to_the_origin_the_worker_uses() -> None:
    # wrangler.toml's ORIGIN_URL is where `edgeline dev --demo` serves the demo origin.
    import tomllib

    wrangler = tomllib.loads((ROOT / "wrangler.toml").read_text())
    config = validate_file(str(EXAMPLE)).config
    assert config.origins[0].urls == [wrangler["vars"]["ORIGIN_URL"] + "/api"]


def test_schema_files_are_current() -> None:
    for name, text in schema_files().items():
        assert (ROOT / "config" / "schema" / name).read_text() == text, (
            f"config/schema/{name} is stale: run `edgeline schema`")


def test_schema_describes_the_structs() -> None:
    schema = json.loads(schema_files()["edge-config.schema.json"])
    defs = schema["$defs"]
    assert defs["EdgeConfig"]["additionalProperties"] is False
    assert "version" in defs["EdgeConfig"]["required"]
    action = defs["Route"]["properties"]["action"]
    assert set(action["discriminator"]["mapping"]) == {"forward", "respond", "redirect"}
    assert msgspec.json.schema(kv_schemas.EdgeConfig)["$ref"] == schema["$ref"]
