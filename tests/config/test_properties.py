"""Properties: generated configurations round-trip; corrupted bytes never crash the loader."""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kv_schemas
from edgeline.config import ConfigInvalid, decode_config, load_config

from .helpers import dumps, sample

names = st.from_regex(r"[a-z][a-z0-9_-]{0,15}", fullmatch=True)
segments = st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)
paths = st.lists(segments, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
methods = st.lists(st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
                   min_size=1, max_size=3, unique=True).map(tuple)
text = st.text(max_size=40)
header_names = st.from_regex(r"x-[a-z]{1,10}", fullmatch=True)

origins = st.builds(
    kv_schemas.Origin, name=names,
    urls=st.lists(st.from_regex(r"https?://[a-z]{1,10}\.test(:[1-9][0-9]{0,3})?", fullmatch=True),
                  min_size=1, max_size=3),
    timeout=st.floats(min_value=0.1, max_value=60),
)
actions = st.one_of(
    st.builds(kv_schemas.Forward, origin=names, strip_prefix=st.sampled_from(["", "/api"])),
    st.builds(kv_schemas.Respond, status=st.integers(100, 599), body=text,
              headers=st.dictionaries(header_names, st.from_regex(r"[a-z0-9 ]{0,10}", fullmatch=True),
                                      max_size=3)),
    st.builds(kv_schemas.Redirect, location=paths, status=st.sampled_from([301, 302, 303, 307, 308]),
              keep_query=st.booleans()),
)
routes = st.builds(kv_schemas.Route, path=paths, action=actions, methods=methods,
                   host=st.none() | st.sampled_from(["example.com", "*.example.com"]), name=text)
ipv4_networks = st.builds(
    lambda a, p: str(ipaddress.ip_network((a, p), strict=False)),
    st.integers(0, 2**32 - 1), st.integers(0, 32))
ip_lists = st.builds(kv_schemas.IPList, name=names, entries=st.lists(ipv4_networks, max_size=20),
                     description=text)
rules = st.builds(
    kv_schemas.Rule, id=names,
    action=st.one_of(st.builds(kv_schemas.Block, status=st.integers(400, 599), message=text),
                     st.just(kv_schemas.Allow()), st.just(kv_schemas.Log())),
    match=st.builds(kv_schemas.Match, methods=methods, path_prefix=st.none() | paths,
                    countries=st.lists(st.sampled_from(["DE", "FR", "US", "JP"]), max_size=2).map(tuple)),
    enabled=st.booleans(),
)
geo = st.builds(kv_schemas.GeoPolicy, name=names,
                countries=st.lists(st.sampled_from(["DE", "FR", "US"]), max_size=2).map(tuple),
                continents=st.lists(st.sampled_from(["EU", "NA", "AS"]), max_size=2).map(tuple),
                currency=st.none() | st.sampled_from(["EUR", "USD"]))
configs = st.builds(
    kv_schemas.EdgeConfig, version=st.integers(1, kv_schemas.SCHEMA_VERSION), description=text,
    origins=st.lists(origins, max_size=3), routes=st.lists(routes, max_size=6),
    rules=st.lists(rules, max_size=3), ip_lists=st.lists(ip_lists, max_size=2),
    geo_policies=st.lists(geo, max_size=3),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_generated_configurations_round_trip(config: kv_schemas.EdgeConfig) -> None:
    data = kv_schemas.ENCODER.encode(config)
    assert decode_config(data) == config
    # Compiling may reject cross-field mistakes (unknown origin, duplicate names,
    # conflicting routes), but only ever with ConfigInvalid.
    try:
        load_config(data)
    except ConfigInvalid as exc:
        assert exc.problems and all(p.path.startswith("$") for p in exc.problems)


VALID = dumps(sample())


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_corruption_never_crashes_the_loader(data: st.DataObject) -> None:
    raw = bytearray(VALID)
    how = data.draw(st.sampled_from(["flip", "truncate", "splice"]))
    if how == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            index = data.draw(st.integers(0, len(raw) - 1))
            raw[index] ^= 1 << data.draw(st.integers(0, 7))
    elif how == "truncate":
        del raw[data.draw(st.integers(0, len(raw) - 1)):]
    else:
        index = data.draw(st.integers(0, len(raw)))
        raw[index:index] = data.draw(st.binary(max_size=16))
    try:
        load_config(bytes(raw))
    except ConfigInvalid as exc:
        assert exc.problems[0].path.startswith("$")
        assert exc.report()
