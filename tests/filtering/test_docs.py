"""docs/rules.md cannot drift: its rule examples compile and it names every field and function."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgeline.filtering import (
    FIELDS,
    FUNCTIONS,
    MAPS,
    ASNList,
    IPRangeSet,
    PatternList,
    StringList,
    compile_expression,
)

DOC = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text(encoding="utf-8")
LISTS = {"office": IPRangeSet(["203.0.113.0/24"]), "bad_asns": ASNList(["64512"]),
         "embargo": StringList(["KP"]), "bad_bots": PatternList(["sqlmap"])}
EXAMPLES = re.findall(r"```rule\n(.*?)```", DOC, re.S)


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("source", EXAMPLES)
def test_rule_examples_compile(source: str) -> None:
    compile_expression(source, lists=LISTS)


def test_every_field_map_and_function_is_documented() -> None:
    for name in [*FIELDS, *MAPS]:
        assert f"`{name}" in DOC, name
    for name in FUNCTIONS:
        assert f"`{name}(" in DOC or f"{name}(" in DOC, name


def test_json_rule_example_compiles() -> None:
    import json

    from edgeline.filtering import Rule, compile_ruleset
    block = re.search(r"```json\n(.*?)```", DOC, re.S)
    assert block is not None
    compile_ruleset([Rule.from_dict(json.loads(block.group(1)))], lists=LISTS)


def test_error_example_matches_the_real_message() -> None:
    from edgeline.filtering import RuleError
    with pytest.raises(RuleError) as info:
        compile_expression('http.path == "/a" and\n  http.methd == "GET"')
    shown = str(info.value.with_rule("admin"))
    assert shown.split("\n")[0] in DOC
