"""Settling the heap: start-up objects frozen out of the collector's sight, replaced ones freed."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from edgeline import App
from edgeline._heap import settle
from edgeline.adapters.asgi import AsgiAdapter


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_settle_freezes_what_is_alive() -> None:
    table = Node()
    settle()
    assert gc.get_freeze_count() > 0
    assert not any(o is table for o in gc.get_objects())  # no collection walks it
    assert gc.is_tracked(table)


def test_a_cycle_frozen_then_dropped_is_collected_by_the_next_settle() -> None:
    freed: list[str] = []
    old = Node()
    weakref.finalize(old, freed.append, "old")
    settle()
    del old
    gc.collect()
    assert freed == []  # frozen: a collection leaves it
    settle()  # e.g. after the worker or its configuration is replaced
    assert freed == ["old"]


@pytest.mark.anyio
async def test_the_adapter_settles_the_heap_at_lifespan_startup() -> None:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    frozen_at_startup: list[int] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            frozen_at_startup.append(gc.get_freeze_count())

    assert gc.get_freeze_count() == 0
    await AsgiAdapter(App())({"type": "lifespan"}, receive, send)
    assert frozen_at_startup and frozen_at_startup[0] > 0


def test_the_server_setup_settles_the_heap() -> None:
    from edgeline.cli import _server

    _server(AsgiAdapter(App()))
    assert gc.get_freeze_count() > 0
