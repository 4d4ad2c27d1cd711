"""Turn a route table into one Python function, exec'd once, that matches split paths.

The generated code works on ``segs = path.split("/")`` of a normalized path
(``segs[0]`` is the empty root, ``n == len(segs)``). It is one flat function
(PERF: a call costs as much as three string comparisons), organised for what
CPython 3.11 does fast. Comparing a fresh segment with a constant costs about
a quarter of a dict lookup, which must hash the segment first, so a dict is
used only where it pays:

1. a switch on ``n`` unpacks the segments into locals ``s1``, ``s2``, ...;
2. routes starting with static text are picked by their first segment, then
   routes starting with a parameter are tried, as priority requires;
3. each *group* of routes sharing a rank vector is tried in priority order
   (lexicographic on the rank vector): a decision tree on its static
   segments, then per route one flat condition (parameters non-empty, the
   method, typed conversions) and a ``return`` building the params dict as a
   literal from the locals. A miss anywhere falls through to the next group:
   that is the backtracking of a trie walk, without the walk. Parameter
   positions that every route of a first segment has are tested once.

Every switch (length, first segment, a static segment in a decision tree)
tests its alternatives with ``==``, those with the most routes first (each
route taken as equally likely), and finds the rest, past the point where the
chain costs more on average (:func:`_chain_length`), with one dict lookup: to
an int and a binary tree on it when the alternatives hold code, or straight
to the data when they differ only in static text (a *table*: nested dicts to
the method table, and the parameter names that vary). Past such a dict,
parts of one route each whose code differs only in constants share one
block: the dict gives a row (the block's index, then the constants the
block reads from it), so the block is compiled once (PERF: ``compile()`` of
the source is most of the cost of building a router, and it grows with the
number of statements, not their length). The method is tested with a set
(a route with one target) or looked up in a dict.

Routes ending in ``{name:path}`` are held by a final block, after the switch,
which every length branch that left one out falls through to; a length branch
holds such a route too where one of its own routes may match the same paths
(priority then decides between them in the branch).

With ``hot`` (routes that ignore the host), the function is the router's
``match`` itself: the raw-path lookup of fully static routes and the checks
that prove a path needs no normalization come first, and a miss goes to the
router's slow path. ``find(segs, n, method)``, which the slow path calls with
decoded segments, reuses the same function through its fourth argument
instead of compiling the body twice (PERF: compiling is most of the cost of
building a router).

APPSEC: nothing from a route is spliced into the source except through
``repr()`` (static text, parameter names, methods); tables, converters,
method sets and targets are bound in the exec namespace under generated names.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Final

from ._converters import INT, MISSING, Converter, int_or_missing
from ._table import Leaf

__all__ = ["Finder", "Generated", "generate"]

Finder = Callable[[list[str], int, Any], "tuple[Any, dict[str, Any]] | None"]
LeafMethods = Callable[[Leaf], dict[Any, Any]]

# PERF: past this many lengths a chain of ``n == k`` tests gives way to a tree.
MAX_LENGTH_CHAIN: Final = 12

# NOTE: bounds the nesting of the decision tree on a group's static segments
# (the tokenizer allows 100 levels of indentation); deeper groups are matched
# with nested dict lookups in one flat condition instead.
MAX_DECISION_DEPTH: Final = 40

def _rest(segs: list[str], start: int) -> str | None:
    """Return what a ``{name:path}`` route at ``segs[start]`` takes, or None.

    An empty segment inside the rest means the path was not normalized.
    """
    rest = "/".join(segs[start:])
    if rest[:1] == "/" or "//" in rest:
        return None
    return rest


# The head of the hot ``match``: static routes by raw path, then the checks
# that prove the path is already normalized (see ``_compiled``). ``_segs`` is
# only ever passed by ``find``, with the decoded segments of the slow path.
_MATCH_HEAD = """\
def match(method, path, host='', _segs=None):
    if _segs is None:
        m = STATIC(path)
        if m is not None:
            t = m.get(method)
            if t is not None:
                return t, {{}}
        if '%' in path or '.' in path and '/.' in path{extra_check}:
            return SLOW(method, path)
        segs = path.split('/')
    else:
        segs = _segs
    n = len(segs)"""

_HOT_MISS = "SLOW(method, path)"

_FIND_WRAPPER = """\
def find(segs, n, method):
    return match(method, None, '', segs)"""


class Generated:
    """What :func:`generate` returns: the finder and, on request, a whole matcher."""

    __slots__ = ("find", "match", "source")

    def __init__(self, find: Finder, match: Any, source: str) -> None:
        self.find = find
        self.match = match
        self.source = source


class _Writer:
    """Accumulate the generated function and the objects it refers to."""

    def __init__(self, leaf_methods: LeafMethods, miss: str) -> None:
        self.leaf_methods = leaf_methods
        self.miss = miss
        self.namespace: dict[str, Any] = {
            "MISSING": MISSING,
            "INT": int_or_missing,
            "REST": _rest,
        }
        self.lines: list[str] = []
        self.count = 0
        self.parsers: dict[int, str] = {}
        # While one route's code is captured (see :meth:`capture`), the
        # constants it names: static text and parameter names (str), and
        # the objects it would bind (prefix, object).
        self.data: list[str | tuple[str, Any]] | None = None

    def emit(self, depth: int, line: str) -> None:
        """Append one line of source at indentation ``depth``."""
        self.lines.append("    " * depth + line)

    def bind(self, prefix: str, value: Any) -> str:
        """Put ``value`` in the namespace under a fresh name and return the name."""
        self.count += 1
        name = f"{prefix}{self.count}"
        self.namespace[name] = value
        return name

    def text(self, value: str) -> str:
        """Return the source for the constant ``value`` (a placeholder while capturing)."""
        if self.data is None:
            return repr(value)
        self.data.append(value)
        return f"\0{len(self.data) - 1}\0"

    def bound(self, prefix: str, value: Any) -> str:
        """Return the source naming ``value``: bound now, or a placeholder while capturing."""
        if self.data is None:
            return self.bind(prefix, value)
        self.data.append((prefix, value))
        return f"\0{len(self.data) - 1}\0"

    def capture(
        self, emit: Callable[[int], None]
    ) -> tuple[tuple[str, ...], list[str | tuple[str, Any]]]:
        """Return the lines ``emit(0)`` writes, with placeholders, and their constants."""
        lines, self.lines, self.data = self.lines, [], []
        try:
            emit(0)
            return tuple(self.lines), self.data
        finally:
            self.lines, self.data = lines, None

    def paste(self, lines: tuple[str, ...], depth: int, fill: Callable[[int], str]) -> None:
        """Emit captured ``lines`` at ``depth``, placeholder ``k`` replaced by ``fill(k)``."""
        indent = "    " * depth
        for line in lines:
            pieces = line.split("\0")
            # Odd pieces are the placeholders' numbers.
            for k in range(1, len(pieces), 2):
                pieces[k] = fill(int(pieces[k]))
            self.lines.append(indent + "".join(pieces))

    def parser(self, converter: Converter) -> str:
        """Return the namespace name of ``converter.parse`` (one per converter)."""
        name = self.parsers.get(id(converter))
        if name is None:
            name = self.parsers[id(converter)] = self.bind("C", converter.parse)
        return name

    # ------------------------------------------------------------------
    # Switches
    # ------------------------------------------------------------------

    def tree(
        self,
        var: str,
        keys: list[int],
        depth: int,
        body: Callable[[int, int], None],
    ) -> None:
        """Emit a binary tree of ``if var < k`` ending in ``if var == key`` tests.

        ``body(key, depth)`` emits what runs for ``key``; a value that is none
        of the keys falls out of the tree without running anything.
        """
        if len(keys) <= 3:
            for k, key in enumerate(keys):
                self.emit(depth, f"{'if' if k == 0 else 'elif'} {var} == {key}:")
                body(key, depth + 1)
            return
        mid = len(keys) // 2
        self.emit(depth, f"if {var} < {keys[mid]}:")
        self.tree(var, keys[:mid], depth + 1, body)
        self.emit(depth, "else:")
        self.tree(var, keys[mid:], depth + 1, body)

    def switch(
        self,
        expr: str,
        parts: list[tuple[str, list[Leaf]]],
        depth: int,
        part: Callable[[list[Leaf], int], None],
        rest: Callable[[list[Leaf], int], None] | None,
    ) -> None:
        """Emit the code choosing among disjoint ``parts`` by the text ``expr`` holds.

        The heaviest parts (most routes: each route is taken as equally
        likely) are tested first, with ``==``; past the point where that costs
        more on average (see :func:`_chain_length`), the others are found with
        one dict lookup: ``rest(leaves, depth)`` emits it if given (a data
        table), else it is a dict to an int and a binary tree on the int (a
        dict to a row, when some parts share a block).
        """
        weighted = sorted(
            ((_weight(leaves), text, leaves) for text, leaves in parts), key=_heaviest
        )
        ordered = [(text, leaves) for _, text, leaves in weighted]
        weights = [weight for weight, _, _ in weighted]
        # PERF: parts of one route each whose code differs only in constants
        # (the usual wide level of a real table: /users/{id}, /teams/{id},
        # ...) share one block past the dict lookup, which gives a row: the
        # block's index and the constants the block reads from it. Compiling
        # a block once costs less than compiling it per part, and reading a
        # tuple item about as much as loading a constant.
        captured: dict[str, tuple[tuple[str, ...], list[str | tuple[str, Any]]]] = {}
        if rest is None:
            # Only routes alike in shape can have the same code: the others
            # are not captured (PERF: capturing costs a little).
            alike: dict[tuple[Any, ...], int] = {}
            for _, leaves in ordered:
                if len(leaves) == 1:
                    key = (leaves[0].ranks, leaves[0].converters)
                    alike[key] = alike.get(key, 0) + 1
            captured = {
                text: self.capture(partial(part, leaves))
                for text, leaves in ordered
                if len(leaves) == 1 and alike[(leaves[0].ranks, leaves[0].converters)] > 1
            }
        chained = _chain_length(
            weights, 4.0 if rest is not None else None, _branches(ordered, captured)
        )
        for k, (text, leaves) in enumerate(ordered[:chained]):
            self.emit(depth, f"{'if' if k == 0 else 'elif'} {expr} == {self.text(text)}:")
            self.part(captured, text, leaves, part, depth + 1)
        others = ordered[chained:]
        if not others:
            return
        if chained:
            self.emit(depth, "else:")
            depth += 1
        if rest is not None:
            rest([leaf for _, leaves in others for leaf in leaves], depth)
            return
        self.count += 1
        var = f"k{self.count}"
        sharing: dict[tuple[str, ...], int] = {}
        for text, _ in others:
            if text in captured:
                lines = captured[text][0]
                sharing[lines] = sharing.get(lines, 0) + 1
        if max(sharing.values(), default=0) < 2:
            index = {text: k for k, (text, _) in enumerate(others)}
            self.emit(depth, f"{var} = {self.bind('F', index.get)}({expr}, -1)")
            self.tree(
                var,
                list(range(len(others))),
                depth,
                lambda k, inner: self.part(captured, *others[k], part, inner),
            )
            return
        # One branch per block shared by several parts (its lines, in
        # ``shared``), and per other part (its text and leaves).
        branches: list[tuple[str, list[Leaf]] | None] = []
        shared: dict[int, tuple[str, ...]] = {}
        blocks: dict[tuple[str, ...], int] = {}
        rows: dict[str, tuple[Any, ...]] = {}
        row = f"d{self.count}"
        for text, leaves in others:
            lines = captured[text][0] if text in captured else ()
            if sharing.get(lines, 0) < 2:
                rows[text] = (len(branches),)
                branches.append((text, leaves))
                continue
            block = blocks.get(lines)
            if block is None:
                block = blocks[lines] = len(branches)
                shared[block] = lines
                branches.append(None)
            data = captured[text][1]
            rows[text] = (block, *(c if isinstance(c, str) else c[1] for c in data))

        def branch(k: int, inner: int) -> None:
            alone = branches[k]
            if alone is None:
                self.paste(shared[k], inner, lambda j: f"{row}[{j + 1}]")
            else:
                self.part(captured, *alone, part, inner)

        self.emit(depth, f"{row} = {self.bind('F', rows.get)}({expr}, (-1,))")
        self.emit(depth, f"{var} = {row}[0]")
        self.tree(var, list(range(len(branches))), depth, branch)

    def part(
        self,
        captured: dict[str, tuple[tuple[str, ...], list[str | tuple[str, Any]]]],
        text: str,
        leaves: list[Leaf],
        part: Callable[[list[Leaf], int], None],
        depth: int,
    ) -> None:
        """Emit one part of a switch alone: its captured code, or ``part`` called now."""
        if text in captured:
            lines, data = captured[text]
            self.paste(lines, depth, lambda k: self.constant(data[k]))
        else:
            part(leaves, depth)

    def constant(self, captured: str | tuple[str, Any]) -> str:
        """Return the source for a captured constant, binding it if it is an object."""
        if isinstance(captured, str):
            return repr(captured)
        return self.bind(*captured)

    def dispatch(self, members: list[Leaf], depth: int, unpacked: bool) -> None:
        """Emit the code trying ``members`` (which all fit the current ``n``) in order."""
        buckets: dict[str, list[Leaf]] = {}
        param_first: list[Leaf] = []
        for leaf in members:
            rank, text = leaf.shape[0]
            if rank == 0:
                buckets.setdefault(text, []).append(leaf)
            else:
                param_first.append(leaf)
        # NOTE: buckets are disjoint (their first segments differ), so their
        # order is free.
        self.switch(
            "s1",
            list(buckets.items()),
            depth,
            lambda leaves, inner: self.groups(leaves, inner, True, unpacked),
            None,
        )
        if param_first:
            self.groups(param_first, depth, first_is_static=False, unpacked=unpacked)

    def groups(
        self, members: list[Leaf], depth: int, first_is_static: bool, unpacked: bool
    ) -> None:
        """Emit one block per rank vector, in priority order."""
        grouped: dict[tuple[int, ...], list[Leaf]] = {}
        for leaf in members:
            grouped.setdefault(leaf.ranks, []).append(leaf)
        checked: set[int] = set()
        if unpacked and len(members) > 1:
            # PERF: a parameter position every route here has (``{owner}`` in
            # all of ``/repos/{owner}/...``) is checked non-empty once, up front
            # (for one route, its own condition does it, with one ``if`` less).
            checked = set.intersection(*(set(_params(leaf)) for leaf in members))
            if checked:
                self.emit(depth, f"if {' and '.join(f's{i}' for i in sorted(checked))}:")
                depth += 1
        for ranks, group in sorted(grouped.items(), key=lambda kv: kv[0]):
            self.group(group, ranks, depth, first_is_static, unpacked, checked)

    # ------------------------------------------------------------------
    # One group of routes with the same rank vector
    # ------------------------------------------------------------------

    def group(
        self,
        group: list[Leaf],
        ranks: tuple[int, ...],
        depth: int,
        first_is_static: bool,
        unpacked: bool,
        checked: set[int],
    ) -> None:
        """Emit the tests for one group: a decision tree, or nested dict lookups.

        ``checked`` holds the parameter positions already tested non-empty.
        """

        def seg(i: int) -> str:
            # s1 is always bound (unpacked, or read for the first-segment switch).
            return f"s{i}" if unpacked or i == 1 else f"segs[{i}]"

        leaf0 = group[0]
        tail = leaf0.has_tail
        fixed = len(ranks) - 1 if tail else len(ranks)
        # Past the switch on n, the path must be long enough for the route:
        # tested first, in the route's own condition (an if less for one route).
        guard = [f"n > {len(ranks)}"] if tail and not unpacked else []
        params = [i + 1 for i in range(fixed) if ranks[i] != 0]
        statics = [
            i + 1 for i in range(fixed) if ranks[i] == 0 and not (i == 0 and first_is_static)
        ]
        # A parameter never matches an empty segment (only a trailing slash is empty).
        nonempty = [seg(i) for i in params if i not in checked]
        values, conversions = self.conversions(leaf0, params, seg)
        if tail:
            # An empty segment inside the rest means the path was not normalized.
            # PERF: one call, not inline: the test is 18 nodes to compile.
            conversions.append(f"(rest := REST(segs, {len(ranks)})) is not None")
            values.append("rest")
        # NOTE: a level costs at most 2 + 8 indentation levels (a chain, or a
        # tree on up to 255 parts); below 4 static segments no need to look.
        if len(statics) < 4 or _decision_depth(group, statics) <= MAX_DECISION_DEPTH:
            self.decide(group, statics, guard, nonempty, conversions, values, seg, depth)
        else:
            self.table(group, statics, [*guard, *nonempty], conversions, values, seg, depth)

    def decide(
        self,
        leaves: list[Leaf],
        positions: list[int],
        tests: list[str],
        nonempty: list[str],
        conversions: list[str],
        values: list[str],
        seg: Callable[[int], str],
        depth: int,
    ) -> None:
        """Emit a decision tree on the static segments at ``positions``, then each leaf.

        ``tests`` holds the ``==`` tests already implied on the way down that
        have not been emitted yet (a position all ``leaves`` agree on needs no
        branch: its test joins the leaf's condition).
        """
        if not positions:
            assert len(leaves) == 1  # same ranks, same static text: one shape
            self.leaf(leaves[0], [*tests, *nonempty], conversions, values, depth)
            return
        i, rest = positions[0], positions[1:]
        parts: dict[str, list[Leaf]] = {}
        for leaf in leaves:
            parts.setdefault(leaf.shape[i - 1][1], []).append(leaf)
        if len(parts) == 1:
            (text,) = parts
            self.decide(
                leaves,
                rest,
                [*tests, f"{seg(i)} == {self.text(text)}"],
                nonempty,
                conversions,
                values,
                seg,
                depth,
            )
            return
        if tests:
            self.emit(depth, f"if {' and '.join(tests)}:")
            depth += 1

        def part(members: list[Leaf], inner: int) -> None:
            self.decide(members, rest, [], nonempty, conversions, values, seg, inner)

        def table(members: list[Leaf], inner: int) -> None:
            # PERF: one dict lookup on the segment; the rest of the way (more
            # static segments, the method) is data.
            self.table(members, positions, nonempty, conversions, values, seg, inner)

        self.switch(seg(i), list(parts.items()), depth, part, table)

    def conversions(
        self, leaf: Leaf, params: list[int], seg: Callable[[int], str]
    ) -> tuple[list[str], list[str]]:
        """Return the param value expressions and the tests converting typed ones."""
        values: list[str] = []
        tests: list[str] = []
        for i in params:
            converter = leaf.converters[i - 1]
            if converter is None:
                values.append(seg(i))
                continue
            var = f"c{i}"
            if converter is INT:
                # PERF: one call to a function that cannot raise, instead of
                # the converter's two and a caught exception on a miss; not
                # inline, whose ~30 nodes per parameter cost more to compile.
                tests.append(f"({var} := INT({seg(i)})) is not MISSING")
            else:
                tests.append(f"({var} := {self.parser(converter)}({seg(i)})) is not MISSING")
            values.append(var)
        return values, tests

    def leaf(
        self,
        leaf: Leaf,
        tests: list[str],
        conversions: list[str],
        values: list[str],
        depth: int,
    ) -> None:
        """Emit one flat condition for one leaf, then its return."""
        methods = self.leaf_methods(leaf)
        by_target: dict[int, list[str]] = {}
        probes = []
        for method, target in methods.items():
            if isinstance(method, str):
                by_target.setdefault(id(target), []).append(method)
            else:
                # Another key (the router's method-agnostic probe) only needs a hit.
                probes.append(method)
        pairs = ", ".join(
            [f"{self.text(name)}: {value}" for name, value in zip(leaf.names, values, strict=True)]
        )
        if len(by_target) > 1:
            # NOTE: one return, however many targets: a second return with its
            # params literal costs more to compile than the lookup costs here.
            lookup = f"(t := {self.bound('L', methods.get)}(method)) is not None"
            self.emit(depth, f"if {' and '.join([*tests, lookup, *conversions])}:")
            self.emit(depth + 1, f"return t, {{{pairs}}}")
            return
        # PERF: one target (say GET, with HEAD served by it): a set membership
        # test, cheaper than a dict lookup.
        (names,) = by_target.values()
        accepted = self.bound("M", frozenset([*names, *probes]))
        target = self.bound("T", methods[names[0]])
        self.emit(depth, f"if {' and '.join([*tests, f'method in {accepted}', *conversions])}:")
        self.emit(depth + 1, f"return {target}, {{{pairs}}}")

    def table(
        self,
        group: list[Leaf],
        statics: list[int],
        tests: list[str],
        conversions: list[str],
        values: list[str],
        seg: Callable[[int], str],
        depth: int,
    ) -> None:
        """Emit one flat condition looking ``group`` up in nested dicts on ``statics``.

        ``tests`` are the conditions to check first (non-empty parameters, and
        the static segments already decided).
        """
        leaf0 = group[0]
        # PERF: parameter names that differ within the group (``{id}`` here,
        # ``{number}`` there) come from the table, so the params dict is
        # still one literal, with no call to build it.
        varying = [
            k
            for k in range(len(leaf0.names))
            if any(leaf.names[k] != leaf0.names[k] for leaf in group)
        ]
        root: dict[Any, Any] = {}
        for leaf in group:
            node = root
            for i in statics[:-1]:
                node = node.setdefault(leaf.shape[i - 1][1], {})
            value: Any = self.leaf_methods(leaf)
            if len(varying) == 1:
                value = (value, leaf.names[varying[0]])
            elif varying:
                value = (value, tuple(leaf.names[k] for k in varying))
            node[leaf.shape[statics[-1] - 1][1]] = value
        # NOTE: one flat condition (walrus chain), so many static segments
        # cannot nest the source deeper than the tokenizer allows.
        tests = [*tests, f"(m := {self.bind('K', root.get)}({seg(statics[0])})) is not None"]
        tests += [f"(m := m.get({seg(i)})) is not None" for i in statics[1:]]
        tests.append(f"(t := {'m[0]' if varying else 'm'}.get(method)) is not None")
        self.emit(depth, f"if {' and '.join([*tests, *conversions])}:")
        keys = [repr(name) for name in leaf0.names]
        for j, k in enumerate(varying):
            keys[k] = "m[1]" if len(varying) == 1 else f"m[1][{j}]"
        pairs = ", ".join(f"{key}: {v}" for key, v in zip(keys, values, strict=True))
        self.emit(depth + 1, f"return t, {{{pairs}}}")

    # ------------------------------------------------------------------
    # The body: switch on n, then the tail-only block
    # ------------------------------------------------------------------

    def body(self, leaves: list[Leaf], depth: int) -> None:
        """Emit the switch on ``n`` and everything below it."""
        fixed: dict[int, list[Leaf]] = {}
        tails: list[Leaf] = []
        for leaf in leaves:
            if leaf.has_tail:
                tails.append(leaf)
            else:
                fixed.setdefault(len(leaf.ranks) + 1, []).append(leaf)

        # The first segments of each length's routes (None: a parameter).
        firsts = {
            length: {leaf.shape[0][1] if leaf.shape[0][0] == 0 else None for leaf in members}
            for length, members in fixed.items()
        }

        def branch(length: int, inner: int) -> None:
            names = ", ".join(["r", *(f"s{i}" for i in range(1, length))])
            self.emit(inner, f"{names}, = segs")
            # Not an absolute path ("a/b"): only the slow path may answer.
            self.emit(inner, f"if r: return {self.miss}")
            fits = [t for t in tails if len(t.ranks) < length]
            # PERF: a wildcard route joins this branch only if a route here may
            # match the same paths (then priority decides between them); the
            # others are left to the block after the switch, which the branch
            # falls through to (compiling the same route again costs more
            # than the few tests a path that falls through pays).
            joined = [t for t in fits if _competes(t, fixed[length], firsts[length])]
            # So is a wildcard route that may match the paths of one that
            # joined: whichever comes first in priority must be tried first.
            left = [t for t in fits if t not in joined]
            grown = True
            while left and joined and grown:
                more = [t for t in left if any(_overlap(t, other) for other in joined)]
                left = [t for t in left if t not in more]
                joined += more
                grown = bool(more)
            self.dispatch(fixed[length] + joined, inner, unpacked=True)
            if len(joined) == len(fits):
                self.emit(inner, f"return {self.miss}")

        if len(fixed) <= MAX_LENGTH_CHAIN:
            # Lengths with more routes first, as in switch().
            weight = {
                length: _weight(fixed[length])
                + _weight([t for t in tails if len(t.ranks) < length])
                for length in fixed
            }
            for k, length in enumerate(sorted(fixed, key=lambda length: -weight[length])):
                self.emit(depth, f"{'if' if k == 0 else 'elif'} n == {length}:")
                branch(length, depth + 1)
        else:
            self.tree("n", sorted(fixed), depth, branch)
        if tails:
            shortest = min(len(t.ranks) for t in tails)
            self.emit(depth, f"if n > {shortest} and not segs[0]:")
            self.emit(depth + 1, "s1 = segs[1]")
            self.dispatch(tails, depth + 1, unpacked=False)
        self.emit(depth, f"return {self.miss}")


def _params(leaf: Leaf) -> list[int]:
    """Return the segment indexes (``segs[i]``) of the leaf's one-segment parameters."""
    fixed = leaf.ranks[:-1] if leaf.has_tail else leaf.ranks
    return [i + 1 for i, rank in enumerate(fixed) if rank != 0]


def _competes(tail: Leaf, leaves: list[Leaf], firsts: set[str | None]) -> bool:
    """Tell whether wildcard route ``tail`` may match a path one of ``leaves`` matches.

    ``firsts`` holds the leaves' first segments (None for a parameter), which
    rule most pairs out without looking further.
    """
    rank, text = tail.shape[0]
    if rank == 0 and text not in firsts and None not in firsts:
        return False
    return any(_overlap(tail, leaf) for leaf in leaves)


def _overlap(tail: Leaf, leaf: Leaf) -> bool:
    """Tell whether wildcard route ``tail`` and ``leaf`` may match one path.

    Only static text tells paths apart here: two static segments at one
    position that differ (up to where either route's wildcard takes the
    rest). A parameter may match any text (its converter is not asked), so
    the answer errs on the side of an overlap.
    """
    shape = leaf.shape[:-1] if leaf.has_tail else leaf.shape
    return not any(
        rank == 0 and other_rank == 0 and text != other_text
        # NOTE: not strict: the shorter route ends where its wildcard starts.
        for (rank, text), (other_rank, other_text) in zip(tail.shape[:-1], shape, strict=False)
    )


def _heaviest(item: tuple[int, str, list[Leaf]]) -> int:
    """Sort key putting the part with the most routes first."""
    return -item[0]


def _weight(leaves: list[Leaf]) -> int:
    """Return how many routes (method and path) ``leaves`` stand for."""
    return sum(len(leaf.methods) for leaf in leaves)


def _branches(
    ordered: list[tuple[str, list[Leaf]]],
    captured: dict[str, tuple[tuple[str, ...], list[str | tuple[str, Any]]]],
) -> list[int]:
    """Return, for each split of ``ordered``, how many branches the parts past it take.

    Parts whose captured code is the same share one branch (see ``switch``).
    """
    sizes = [0] * len(ordered)
    seen: set[tuple[str, ...]] = set()
    size = 0
    for p in range(len(ordered) - 1, -1, -1):
        text = ordered[p][0]
        if text not in captured:
            size += 1
        elif captured[text][0] not in seen:
            seen.add(captured[text][0])
            size += 1
        sizes[p] = size
    return sizes


def _chain_length(weights: list[int], table_cost: float | None, branches: list[int]) -> int:
    """Return how many of the parts (heaviest first) to test with ``==``.

    Unit: one ``==`` test. A dict lookup on a fresh segment costs about 3
    (hashing it is most of that), then either ``table_cost`` more when the
    rest is a data table, or the binary tree on the int it gives, over
    ``branches[p]`` branches for the parts from ``p`` on (fewer than the
    parts where some share a block). The others pay the failed ``==`` tests
    before them too. The cheapest split wins.
    """
    remaining = sum(weights)
    best = len(weights)
    best_cost = float(sum((k + 1) * w for k, w in enumerate(weights)))
    prefix = 0.0  # cost of the parts already in the chain
    for p, weight in enumerate(weights):
        if table_cost is not None:
            lookup = table_cost
        else:
            lookup = 3.0 + max(branches[p] - 1, 1).bit_length()
        cost = prefix + remaining * (p + lookup)
        if cost < best_cost:
            best, best_cost = p, cost
        prefix += (p + 1) * weight
        remaining -= weight
    return best


def _decision_depth(leaves: list[Leaf], positions: list[int]) -> int:
    """Return how many indentation levels :meth:`_Writer.decide` would use, at most."""
    if len(leaves) <= 1 or not positions:
        return 0
    i = positions[0]
    parts: dict[str, list[Leaf]] = {}
    for leaf in leaves:
        parts.setdefault(leaf.shape[i - 1][1], []).append(leaf)
    below = max(_decision_depth(part, positions[1:]) for part in parts.values())
    if len(parts) == 1:
        return below
    # At most: an if for the tests carried down, an else after the chain,
    # the int tree, and the branch body.
    return 3 + len(parts).bit_length() + below


def generate(
    leaves: list[Leaf],
    leaf_methods: LeafMethods,
    *,
    hot: dict[str, Any] | None = None,
    ignore_slash: bool = False,
) -> Generated:
    """Compile the non-static ``leaves`` into a finder (and a matcher if ``hot``).

    ``hot`` binds ``STATIC`` (raw path -> method table lookup) and ``SLOW``
    (``(method, path)``, the slow path; None for ``path`` None, which is
    ``find`` missing) for the generated ``match``; see ``_MATCH_HEAD``.
    """
    writer = _Writer(leaf_methods, _HOT_MISS if hot is not None else "None")
    if hot is not None:
        writer.namespace.update(hot)
        extra = " or path.endswith('/')" if ignore_slash else ""
        writer.lines.append(_MATCH_HEAD.format(extra_check=extra))
        writer.body(leaves, 1)
        writer.lines.append(_FIND_WRAPPER)
    else:
        writer.lines.append("def find(segs, n, method):")
        writer.body(leaves, 1)
    source = "\n".join([*writer.lines, ""])
    code = compile(source, "<edgeline.routing compiled>", "exec")
    exec(code, writer.namespace)  # APPSEC: our own source, see the module docstring
    return Generated(writer.namespace["find"], writer.namespace.get("match"), source)
