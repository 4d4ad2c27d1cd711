"""Turn a route table into Python source, exec'd once, that matches split paths.

The generated ``find(segs, n, method) -> (target, params) | None`` takes
``segs = path.split("/")`` of a normalized path (``segs[0]`` is the empty
root, ``n == len(segs)``). It is organised for the few steps CPython is fast
at, dict lookups and local-variable tests:

1. a dict on the first segment picks the *bucket* function of the routes that
   start with that static text (routes starting with a parameter come after,
   in their own function, as priority requires);
2. the bucket switches on ``n`` and unpacks the segments into locals;
3. for each *group* of routes sharing a rank vector and parameter names, in
   priority order (lexicographic on the rank vector), it checks that the
   parameter segments are non-empty, looks the static segments up in one dict
   (a string, or a tuple of strings), converts typed parameters, then looks up
   the method. A miss anywhere falls through to the next group: that is the
   backtracking of a trie walk, without the walk.

Routes ending in ``{name:path}`` join every length branch they can match, and
a final branch holds them alone for longer paths.

APPSEC: nothing from a route is spliced into the source except through
``repr()`` (static text, parameter names); tables, converters and targets are
bound in the exec namespace under generated names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._converters import MISSING, Converter
from ._table import Leaf

__all__ = ["Finder", "Generated", "generate"]

Finder = Callable[[list[str], int, Any], "tuple[Any, dict[str, Any]] | None"]
LeafMethods = Callable[[Leaf], dict[Any, Any]]

# The hot ``match`` for a router whose routes ignore the host: the static
# lookup on the raw path, the checks that prove the path needs no
# normalization, then ``find`` inlined (PERF: saves a call per request).
_MATCH = """
def match(method, path, host=''):
    m = STATIC(path)
    if m is not None:
        t = m.get(method)
        if t is not None:
            return t, {{}}
    if '%' in path or '.' in path and '/.' in path{extra_check}:
        return SLOW(method, path, TABLES)
    segs = path.split('/')
    n = len(segs)
    if segs[0] or n == 1:
        return SLOW(method, path, TABLES)
    f = FIRST(segs[1])
    if f is not None:
        r = f(segs, n, method)
        if r is not None:
            return r
{param_first}    return SLOW(method, path, TABLES)
"""


class Generated:
    """What :func:`generate` returns: the finder and, on request, a whole matcher."""

    __slots__ = ("find", "match", "source")

    def __init__(self, find: Finder, match: Any, source: str) -> None:
        self.find = find
        self.match = match
        self.source = source


class _Writer:
    """Accumulate generated functions and the objects they refer to."""

    def __init__(self, leaf_methods: LeafMethods) -> None:
        self.leaf_methods = leaf_methods
        self.namespace: dict[str, Any] = {"MISSING": MISSING}
        self.lines: list[str] = []
        self.count = 0
        self.parsers: dict[int, str] = {}
        self.builders: dict[tuple[str, ...], str] = {}
        self.prelude: list[str] = []  # builders, emitted ahead of the functions using them
        self.fixups: list[tuple[dict[Any, Any], Any, str]] = []

    def bind(self, prefix: str, value: Any) -> str:
        """Put ``value`` in the namespace under a fresh name and return the name."""
        self.count += 1
        name = f"{prefix}{self.count}"
        self.namespace[name] = value
        return name

    def parser(self, converter: Converter) -> str:
        """Return the namespace name of ``converter.parse`` (one per converter)."""
        name = self.parsers.get(id(converter))
        if name is None:
            name = self.parsers[id(converter)] = self.bind("C", converter.parse)
        return name

    def bucket(self, name: str, leaves: list[Leaf], first_is_static: bool) -> None:
        """Emit the function matching ``leaves``, which share their first segment kind."""
        out = self.lines
        out.append(f"def {name}(segs, n, method):")
        fixed = [leaf for leaf in leaves if not leaf.has_tail]
        tails = [leaf for leaf in leaves if leaf.has_tail]
        lengths = sorted({len(leaf.ranks) + 1 for leaf in fixed})
        for k, length in enumerate(lengths):
            out.append(f"    {'if' if k == 0 else 'elif'} n == {length}:")
            skip = 2 if first_is_static else 1
            names = ", ".join("_" if i < skip else f"s{i}" for i in range(length))
            out.append(f"        {names}, = segs")
            members = [leaf for leaf in fixed if len(leaf.ranks) + 1 == length]
            members += [leaf for leaf in tails if len(leaf.ranks) + 1 <= length]
            self.groups(members, 2, first_is_static, unpacked=True)
        if tails:
            depth = 1
            if lengths:
                out.append("    else:")
                depth = 2
            self.groups(tails, depth, first_is_static, unpacked=False)
        out.append("    return None")

    def groups(
        self, members: list[Leaf], depth: int, first_is_static: bool, unpacked: bool
    ) -> None:
        """Emit one block per (rank vector, names) group, in priority order."""
        grouped: dict[tuple[int, ...], list[Leaf]] = {}
        for leaf in members:
            grouped.setdefault(leaf.ranks, []).append(leaf)
        for ranks, group in sorted(grouped.items(), key=lambda kv: kv[0]):
            self.group(group, ranks, depth, first_is_static, unpacked)

    def builder(self, names: tuple[str, ...]) -> str:
        """Return a function building ``(target, params)`` for these parameter names."""
        name = self.builders.get(names)
        if name is None:
            name = self.builders[names] = f"_n{len(self.builders)}"
            args = ", ".join(f"a{i}" for i in range(len(names)))
            pairs = ", ".join(f"{n!r}: a{i}" for i, n in enumerate(names))
            self.prelude.append(f"def {name}(t, {args}):")
            self.prelude.append(f"    return t, {{{pairs}}}")
        return name

    def group(
        self,
        group: list[Leaf],
        ranks: tuple[int, ...],
        depth: int,
        first_is_static: bool,
        unpacked: bool,
    ) -> None:
        """Emit the block trying every leaf of one group with a single dict lookup."""
        out = self.lines

        def seg(i: int) -> str:
            return f"s{i}" if unpacked else f"segs[{i}]"

        def emit(line: str) -> None:
            out.append("    " * depth + line)

        leaf0 = group[0]
        tail = leaf0.has_tail
        fixed = len(ranks) - 1 if tail else len(ranks)
        if tail and not unpacked:
            emit(f"if n > {len(ranks)}:")
            depth += 1
        params = [i + 1 for i in range(fixed) if ranks[i] != 0]
        statics = [
            i + 1 for i in range(fixed) if ranks[i] == 0 and not (i == 0 and first_is_static)
        ]
        if params:
            # A parameter never matches an empty segment (only a trailing slash is empty).
            emit(f"if {' and '.join(seg(i) for i in params)}:")
            depth += 1
        # PERF: routes of one rank vector usually share their parameter names;
        # then the params dict is built inline, else by a per-names builder.
        same_names = all(leaf.names == leaf0.names for leaf in group)
        if statics:
            table: dict[Any, Any] = {}
            for leaf in group:
                texts = [leaf.shape[i - 1][1] for i in statics]
                value = self.leaf_methods(leaf)
                key = texts[0] if len(texts) == 1 else tuple(texts)
                if not same_names:
                    # The builder exists only once exec'd; resolved in generate().
                    self.fixups.append((table, key, self.builder(leaf.names)))
                table[key] = value
            key = (
                seg(statics[0]) if len(statics) == 1 else f"({', '.join(seg(i) for i in statics)},)"
            )
            emit(f"m = {self.bind('K', table)}.get({key})")
            emit("if m is not None:")
            depth += 1
            methods = "m" if same_names else "m[0]"
        else:
            # Same ranks and no static text left to tell them apart: one leaf.
            assert len(group) == 1
            methods = self.bind("L", self.leaf_methods(leaf0))
        values: list[str] = []
        conversions: list[str] = []
        for i in params:
            converter = leaf0.converters[i - 1]
            if converter is None:
                values.append(seg(i))
                continue
            var = f"c{i}"
            conversions.append(f"({var} := {self.parser(converter)}({seg(i)})) is not MISSING")
            values.append(var)
        if conversions:
            # NOTE: one flat condition, so many typed parameters cannot nest too deep.
            emit(f"if {' and '.join(conversions)}:")
            depth += 1
        if tail:
            emit(f"rest = '/'.join(segs[{len(ranks)}:])")
            # An empty segment inside the rest means the path was not normalized.
            emit("if rest[:1] != '/' and '//' not in rest:")
            depth += 1
            values.append("rest")
        emit(f"t = {methods}.get(method)")
        emit("if t is not None:")
        if same_names:
            pairs = ", ".join(f"{n!r}: {v}" for n, v in zip(leaf0.names, values, strict=True))
            emit(f"    return t, {{{pairs}}}")
        else:
            emit(f"    return m[1](t, {', '.join(values)})")


def generate(
    leaves: list[Leaf],
    leaf_methods: LeafMethods,
    *,
    hot: dict[str, Any] | None = None,
    ignore_slash: bool = False,
) -> Generated:
    """Compile the non-static ``leaves`` into a finder (and a matcher if ``hot``).

    ``hot`` binds ``STATIC`` (raw path -> method table lookup), ``SLOW`` and
    ``TABLES`` for the generated ``match``; see ``_MATCH``.
    """
    writer = _Writer(leaf_methods)
    buckets: dict[str, list[Leaf]] = {}
    param_first: list[Leaf] = []
    for leaf in leaves:
        rank, text = leaf.shape[0]
        if rank == 0:
            buckets.setdefault(text, []).append(leaf)
        else:
            param_first.append(leaf)
    entries: list[str] = []
    for text, members in buckets.items():
        name = f"_b{len(entries)}"
        writer.bucket(name, members, first_is_static=True)
        entries.append(f"{text!r}: {name}")
    if param_first:
        writer.bucket("_p", param_first, first_is_static=False)
    out = writer.lines
    out.append(f"FIRST = {{{', '.join(entries)}}}.get")
    out.append("def find(segs, n, method):")
    out.append("    f = FIRST(segs[1])")
    out.append("    if f is not None:")
    out.append("        r = f(segs, n, method)")
    out.append("        if r is not None:")
    out.append("            return r")
    out.append("    return _p(segs, n, method)" if param_first else "    return None")
    if hot is not None:
        writer.namespace.update(hot)
        out.append(
            _MATCH.format(
                extra_check=" or path.endswith('/')" if ignore_slash else "",
                param_first=(
                    "    r = _p(segs, n, method)\n    if r is not None:\n        return r\n"
                    if param_first
                    else ""
                ),
            )
        )
    source = "\n".join(writer.prelude + out)
    code = compile(source, "<edgeline.routing compiled>", "exec")
    exec(code, writer.namespace)  # APPSEC: our own source, see the module docstring
    for table, key, builder in writer.fixups:
        table[key] = (table[key], writer.namespace[builder])
    return Generated(writer.namespace["find"], writer.namespace.get("match"), source)
