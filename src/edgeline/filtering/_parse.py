"""Parse rule expressions into the syntax tree, and print a tree back as source.

Grammar (lowest precedence first)::

    expr       := and_expr (("or" | "||") and_expr)*
    and_expr   := not_expr (("and" | "&&") not_expr)*
    not_expr   := ("not" | "!") not_expr | comparison
    comparison := value [OP value | "in" (set | "$" name)]
    value      := literal | name | name "[" value "]" | name "(" args ")" | "(" expr ")"
    OP         := == != < > <= >= contains starts_with ends_with matches
    set        := "{" literal ([","] literal)* "}"
    literal    := "string" | r"raw string" | integer | true | false | IPv4[/n] | IPv6[/n]

The parser is hand-written (no dependency, runs on Pyodide) and reports the
first error at its exact position.
"""

from __future__ import annotations

import re
from typing import Final

from ._ast import Binary, Call, Field, Index, ListRef, Literal, Logical, Node, Not, SetLit
from ._errors import RuleError

__all__ = ["COMPARISONS", "MAX_SOURCE", "parse", "unparse"]

COMPARISONS: Final = frozenset(
    {"==", "!=", "<", ">", "<=", ">=", "contains", "starts_with", "ends_with", "matches"})
_WORD_OPS: Final = frozenset({"contains", "starts_with", "ends_with", "matches", "in"})
_KEYWORDS: Final = _WORD_OPS | {"and", "or", "not", "true", "false"}
# APPSEC: bound the work a stored rule can ask of the parser and the compiler.
MAX_SOURCE: Final = 16_384
_MAX_DEPTH: Final = 64

# PERF: one pattern per token (blanks and comments skipped first); the alternatives
# are tried in this order, so an IPv6 literal (two colons at least) wins over
# IPv4, an IPv4 literal over an integer, an integer over a name.
_TOKEN = re.compile(r"""
    (?:\s+|\#[^\n]*)*
    (?:
      (?P<str>r?")
    | (?P<v6>[0-9A-Fa-f]{0,4}:(?=[0-9A-Fa-f.]*:)[0-9A-Fa-f:.]*(?:/\d{1,3})?)
    | (?P<v4>\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,3})?(?![\w.:/]))
    | (?P<int>-?\d+(?![\w.]))
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<sym>==|!=|<=|>=|&&|\|\||[<>!()\[\]{},$])
    | (?P<end>\Z)
    )?""", re.VERBOSE)
_ESCAPES: Final = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r", "0": "\0"}


class _Token:
    __slots__ = ("kind", "value", "pos")

    def __init__(self, kind: str, value: object, pos: int) -> None:
        self.kind = kind  # name, str, int, net, sym, end
        self.value = value
        self.pos = pos

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the expression"
        if self.kind == "str":
            return "a string"
        return repr(str(self.value))


def _tokens(source: str) -> list[_Token]:
    out: list[_Token] = []
    append = out.append
    match = _TOKEN.match
    pos = 0
    while True:
        found = match(source, pos)
        kind = found.lastgroup  # type: ignore[union-attr]
        if kind is None:
            pos = found.end()  # type: ignore[union-attr]
            char = source[pos]
            if char == "=":
                raise RuleError("'=' is not an operator (use '==')", source, pos)
            if char in "&|":
                raise RuleError(f"'{char}' is not an operator (use '{char * 2}')", source, pos)
            raise RuleError(f"unexpected character {char!r}", source, pos)
        start = found.start(kind)  # type: ignore[union-attr]
        if kind == "str":
            token, pos = _string(source, start)
            append(token)
            continue
        pos = found.end()  # type: ignore[union-attr]
        text = source[start:pos]
        if kind == "name" or kind == "sym":
            append(_Token(kind, text, start))
        elif kind == "int":
            append(_Token("int", int(text), start))
        elif kind == "end":
            append(_Token("end", "", start))
            return out
        else:
            append(_Token("net", text, start))


def _string(source: str, start: int) -> tuple[_Token, int]:
    raw = source[start] == "r"
    pos = start + (2 if raw else 1)
    chars: list[str] = []
    while True:
        if pos >= len(source):
            raise RuleError("unterminated string (missing closing '\"')", source, start)
        char = source[pos]
        if char == '"':
            return _Token("str", "".join(chars), start), pos + 1
        if char == "\n":
            raise RuleError("a string cannot span lines", source, pos)
        if char == "\\" and not raw:
            nxt = source[pos + 1: pos + 2]
            if nxt in _ESCAPES:
                chars.append(_ESCAPES[nxt])
                pos += 2
                continue
            if nxt == "x" and re.fullmatch(r"[0-9A-Fa-f]{2}", source[pos + 2: pos + 4]):
                chars.append(chr(int(source[pos + 2: pos + 4], 16)))
                pos += 4
                continue
            raise RuleError(f"unknown escape '\\{nxt}' (use r\"...\" for regexes)", source, pos)
        chars.append(char)
        pos += 1


class _Parser:
    __slots__ = ("source", "tokens", "index", "depth")

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokens(source)
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def error(self, message: str, token: _Token | None = None) -> RuleError:
        return RuleError(message, self.source, (token or self.current).pos)

    def take(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at(self, *values: str) -> bool:
        token = self.current
        return token.kind in ("sym", "name") and token.value in values

    def expect(self, value: str, context: str) -> _Token:
        if not self.at(value):
            raise self.error(f"expected '{value}' {context}, found {self.current.describe()}")
        return self.take()

    def parse(self) -> Node:
        if self.current.kind == "end":
            raise self.error("the expression is empty")
        node = self.expr()
        if self.current.kind != "end":
            token = self.current
            hint = ""
            if token.kind == "name" and token.value not in _KEYWORDS:
                hint = " (missing 'and' or 'or'?)"
            raise self.error(f"unexpected {token.describe()}{hint}")
        return node

    def enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(f"expression nested more than {_MAX_DEPTH} levels deep")

    def expr(self) -> Node:
        self.enter()
        start = self.current.pos
        items = [self.and_expr()]
        while self.at("or", "||"):
            self.take()
            items.append(self.and_expr())
        self.depth -= 1
        return items[0] if len(items) == 1 else Logical("or", tuple(items), start)

    def and_expr(self) -> Node:
        start = self.current.pos
        items = [self.not_expr()]
        while self.at("and", "&&"):
            self.take()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else Logical("and", tuple(items), start)

    def not_expr(self) -> Node:
        if self.at("not", "!"):
            token = self.take()
            self.enter()
            item = self.not_expr()
            self.depth -= 1
            return Not(item, token.pos)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.value()
        token = self.current
        if token.kind in ("sym", "name") and token.value in COMPARISONS:
            self.take()
            if self.current.kind == "end" or self.at("and", "or", "&&", "||", ")"):
                raise self.error(f"expected a value after '{token.value}'")
            right = self.value()
            return Binary(str(token.value), left, right, token.pos)
        if self.at("in"):
            self.take()
            target: Node
            if self.at("{"):
                target = self.set_literal()
            elif self.at("$"):
                dollar = self.take()
                name = self.current
                if name.kind != "name":
                    raise self.error("expected a list name after '$'")
                self.take()
                target = ListRef(str(name.value), dollar.pos)
            else:
                raise self.error("expected '{' (a set) or '$name' (a list) after 'in'")
            return Binary("in", left, target, token.pos)
        return left

    def set_literal(self) -> SetLit:
        opening = self.take()
        items: list[Literal] = []
        while not self.at("}"):
            if self.current.kind == "end":
                raise self.error("unterminated set (missing '}')", opening)
            if self.at(","):
                self.take()
                continue
            token = self.current
            if token.kind not in ("str", "int", "net") and not self.at("true", "false"):
                raise self.error(f"a set holds literals only, found {token.describe()}")
            items.append(self.literal())
        self.take()
        if not items:
            raise self.error("a set cannot be empty", opening)
        return SetLit(tuple(items), opening.pos)

    def literal(self) -> Literal:
        token = self.take()
        if token.kind == "name":
            return Literal(token.value == "true", "bool", token.pos)
        return Literal(token.value, token.kind, token.pos)  # type: ignore[arg-type]

    def value(self) -> Node:
        token = self.current
        if token.kind in ("str", "int", "net"):
            return self.literal()
        if token.kind == "sym" and token.value == "(":
            self.take()
            if self.at(")"):
                raise self.error("empty parentheses")
            node = self.expr()
            self.expect(")", "to close the parenthesis")
            return node
        if token.kind == "name":
            if token.value in ("true", "false"):
                return self.literal()
            if token.value in _KEYWORDS:
                raise self.error(f"expected a value, found keyword {token.describe()}")
            self.take()
            name = str(token.value)
            if self.at("("):
                self.take()
                args: list[Node] = []
                self.enter()
                while not self.at(")"):
                    if args:
                        self.expect(",", "between arguments")
                    args.append(self.expr())
                self.depth -= 1
                self.take()
                return Call(name, tuple(args), token.pos)
            if self.at("["):
                self.take()
                key = self.expr()
                self.expect("]", "to close the index")
                return Index(name, key, token.pos)
            return Field(name, token.pos)
        if token.kind == "end":
            raise self.error("expected a value, found the end of the expression")
        raise self.error(f"expected a value, found {token.describe()}")


def parse(source: str) -> Node:
    """Parse ``source`` into a syntax tree; raise RuleError at the first mistake."""
    if not isinstance(source, str):
        raise TypeError(f"expression must be str, not {type(source).__name__}")
    if len(source) > MAX_SOURCE:
        raise RuleError(f"expression longer than {MAX_SOURCE} characters", source, MAX_SOURCE)
    return _Parser(source).parse()


# -- printing ---------------------------------------------------------------------


def _quote(text: str) -> str:
    # PERF: most texts (paths, hosts, country codes) need no escape; structured
    # rules quote a few hundred of them each time a configuration loads.
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = ['"']
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 32 or ord(char) == 127:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _literal(node: Literal) -> str:
    if node.kind == "str":
        return _quote(str(node.value))
    if node.kind == "bool":
        return "true" if node.value else "false"
    return str(node.value)


def unparse(node: Node) -> str:
    """Print ``node`` as source that parses back to an equal tree."""
    if isinstance(node, Literal):
        return _literal(node)
    if isinstance(node, Field):
        return node.name
    if isinstance(node, Index):
        return f"{node.name}[{unparse(node.key)}]"
    if isinstance(node, Call):
        return f"{node.name}({', '.join(unparse(a) for a in node.args)})"
    if isinstance(node, SetLit):
        return "{" + " ".join(_literal(i) for i in node.items) + "}"
    if isinstance(node, ListRef):
        return f"${node.name}"
    if isinstance(node, Binary):
        return f"{_operand(node.left)} {node.op} {_operand(node.right)}"
    if isinstance(node, Logical):
        return f" {node.op} ".join(
            f"({unparse(i)})" if isinstance(i, Logical) else unparse(i) for i in node.items)
    if isinstance(node, Not):
        inner = unparse(node.item)
        return f"not ({inner})" if isinstance(node.item, Logical) else f"not {inner}"
    raise TypeError(f"not a syntax tree node: {node!r}")


def _operand(node: Node) -> str:
    text = unparse(node)
    return f"({text})" if isinstance(node, (Binary, Logical, Not)) else text
