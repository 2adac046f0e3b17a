"""Recursive-descent parser of filter expressions.

Grammar (``||`` binds looser than ``&&``, as in the SQL PocketBase emits)::

    expr       := and_expr ("||" and_expr)*
    and_expr   := primary ("&&" primary)*
    primary    := "(" expr ")" | operand OP operand
    operand    := NUMBER | TEXT | PLACEHOLDER | IDENT | IDENT "(" [operand ("," operand)*] ")"
"""

from __future__ import annotations

from roost.tools.filter import lexer
from roost.tools.filter.ast import (
    Call,
    Comparison,
    Expr,
    Identifier,
    Join,
    Literal,
    Operand,
    Placeholder,
)
from roost.tools.filter.errors import FilterError, shorten
from roost.tools.filter.lexer import Token

MAX_LENGTH = 3500
MAX_EXPRESSIONS = 200
#: deepest allowed parenthesis nesting (keeps recursion bounded for any input)
MAX_DEPTH = 50
#: function calls may nest this deep (a call inside a call is depth 2)
MAX_CALL_DEPTH = 2
MAX_CALL_ARGS = 10


class _Parser:
    def __init__(self, tokens: list[Token], max_expressions: int) -> None:
        self.tokens = tokens
        self.index = 0
        self.max_expressions = max_expressions
        self.count = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def take(self, kind: str, what: str) -> Token:
        token = self.current
        if token.kind != kind:
            found = "end of input" if token.kind == lexer.EOF else repr(shorten(token.value))
            raise FilterError(f"Expected {what}, got {found} at position {token.pos}.")
        self.index += 1
        return token

    def expr(self, depth: int) -> Expr:
        items = [self.and_expr(depth)]
        while self.current.kind == lexer.OR:
            self.index += 1
            items.append(self.and_expr(depth))
        return items[0] if len(items) == 1 else Join("or", tuple(items))

    def and_expr(self, depth: int) -> Expr:
        items = [self.primary(depth)]
        while self.current.kind == lexer.AND:
            self.index += 1
            items.append(self.primary(depth))
        return items[0] if len(items) == 1 else Join("and", tuple(items))

    def primary(self, depth: int) -> Expr:
        if self.current.kind == lexer.LPAREN:
            if depth >= MAX_DEPTH:
                raise FilterError("The filter is nested too deeply.")
            self.index += 1
            inner = self.expr(depth + 1)
            self.take(lexer.RPAREN, "')'")
            return inner
        left = self.operand(0)
        op = self.take(lexer.OP, "an operator").value
        right = self.operand(0)
        self.count += 1
        if self.count > self.max_expressions:
            raise FilterError(f"The filter has more than {self.max_expressions} expressions.")
        return Comparison(left, op, right)

    def operand(self, call_depth: int) -> Operand:
        token = self.current
        self.index += 1
        if token.kind == lexer.NUMBER:
            return Literal(float(token.value) if "." in token.value else int(token.value))
        if token.kind == lexer.TEXT:
            return Literal(token.value)
        if token.kind == lexer.PLACEHOLDER:
            return Placeholder(token.value)
        if token.kind == lexer.IDENT:
            if self.current.kind == lexer.LPAREN and self.current.pos == token.pos + len(
                token.value
            ):
                return self.call(token.value, call_depth + 1)
            return Identifier(token.value)
        self.index -= 1
        found = "end of input" if token.kind == lexer.EOF else repr(shorten(token.value))
        raise FilterError(f"Expected an operand, got {found} at position {token.pos}.")

    def call(self, name: str, depth: int) -> Call:
        if depth > MAX_CALL_DEPTH:
            raise FilterError("Function calls are nested too deeply.")
        self.take(lexer.LPAREN, "'('")
        args: list[Operand] = []
        if self.current.kind != lexer.RPAREN:
            args.append(self.operand(depth))
            while self.current.kind == lexer.COMMA:
                self.index += 1
                args.append(self.operand(depth))
                if len(args) > MAX_CALL_ARGS:
                    raise FilterError(f"Too many function arguments (max {MAX_CALL_ARGS}).")
        self.take(lexer.RPAREN, "')'")
        return Call(name, tuple(args))


def parse(
    source: str, *, max_length: int = MAX_LENGTH, max_expressions: int = MAX_EXPRESSIONS
) -> Expr:
    """Parse ``source`` into an expression tree.

    Args:
        source: the filter or rule text.
        max_length: longest accepted source, in characters.
        max_expressions: most comparisons accepted.

    Raises:
        FilterError: on any syntax error, an empty expression or an exceeded limit.
    """
    if not isinstance(source, str):
        raise FilterError("The filter must be a string.")
    if len(source) > max_length:
        raise FilterError(f"The filter is longer than {max_length} characters.")
    parser = _Parser(list(lexer.tokenize(source)), max_expressions)
    if parser.current.kind == lexer.EOF:
        raise FilterError("Empty filter expression.")
    result = parser.expr(0)
    parser.take(lexer.EOF, "'&&', '||' or the end")
    return result
