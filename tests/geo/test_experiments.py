"""Sticky, deterministic bucketing with weights, traffic and targeting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeline.personalize import CompiledExperiment, new_client_id, valid_client_id

ids = st.from_regex(r"[A-Za-z0-9_\-]{16,40}", fullmatch=True)


@given(ids)
def test_assignment_is_deterministic_across_instances(client_id) -> None:
    a = CompiledExperiment("hero", [("a", 1), ("b", 1)])
    b = CompiledExperiment("hero", [("a", 1), ("b", 1)])
    assert a.assign(client_id) == b.assign(client_id) in ("a", "b")


def test_salt_reshuffles_and_names_are_independent() -> None:
    population = [new_client_id() for _ in range(400)]
    one = CompiledExperiment("hero", [("a", 1), ("b", 1)])
    salted = CompiledExperiment("hero", [("a", 1), ("b", 1)], salt="v2")
    other = CompiledExperiment("price", [("a", 1), ("b", 1)])
    same_salted = sum(one.assign(i) == salted.assign(i) for i in population)
    same_other = sum(one.assign(i) == other.assign(i) for i in population)
    assert 140 < same_salted < 260 and 140 < same_other < 260  # ~50%: independent


@pytest.mark.parametrize("weights", [(1, 1), (9, 1), (1, 2, 7), (0, 1)])
def test_split_follows_the_weights(weights) -> None:
    arms = [(f"arm{i}", w) for i, w in enumerate(weights)]
    experiment = CompiledExperiment("split", arms)
    counts = dict.fromkeys(experiment.arms, 0)
    n = 20_000
    for i in range(n):
        counts[experiment.assign(f"client-{i:012d}")] += 1  # type: ignore[index]
    total = sum(weights)
    for (arm, weight) in arms:
        assert counts[arm] / n == pytest.approx(weight / total, abs=0.015)
        if weight == 0:
            assert counts[arm] == 0


@pytest.mark.parametrize("traffic", [0.0, 0.1, 0.5, 1.0])
def test_traffic_enrols_that_fraction(traffic) -> None:
    experiment = CompiledExperiment("t", [("a", 1)], traffic=traffic)
    n = 10_000
    enrolled = sum(experiment.assign(f"client-{i:012d}") is not None for i in range(n))
    assert enrolled / n == pytest.approx(traffic, abs=0.015)


def test_targeting_by_location_and_path() -> None:
    e = CompiledExperiment("geo", [("a", 1)], countries=["DE"], continents=["OC"], paths=["/shop"])
    assert e.targets("DE", "EU", "/shop/x") and e.targets("AU", "OC", "/shop")
    assert not e.targets("FR", "EU", "/shop") and not e.targets("DE", "EU", "/blog")
    assert not e.targets(None, None, "/shop")
    assert CompiledExperiment("all", [("a", 1)]).targets(None, None, "/")


@pytest.mark.parametrize("arms", [[], [("a", 0)], [("a", -1), ("b", 2)]])
def test_bad_weights_are_refused(arms) -> None:
    with pytest.raises(ValueError):
        CompiledExperiment("bad", arms)


def test_client_ids() -> None:
    made = {new_client_id() for _ in range(100)}
    assert len(made) == 100 and all(valid_client_id(i) for i in made)
    for bad in (None, "", "short", "x" * 65, "a;b=c" + "x" * 20, "ü" * 20):
        assert not valid_client_id(bad)
