"""The condition language used by "show when" and "flag when" expressions.

Owns tokenizing and parsing admin-written text into an immutable tree (never eval),
validating it against a question set's variables, and three-valued evaluation.
"""

from __future__ import annotations

import difflib
import functools
import math
import operator
import string
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

MAX_LENGTH = 2000
MAX_DEPTH = 40

KEYWORDS = frozenset({"and", "or", "not", "in", "yes", "no"})
ORDERING_OPERATORS = frozenset({"<", "<=", ">", ">="})

_OPERATORS: dict[str, Callable[[object, object], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_NAME_START = frozenset(string.ascii_letters + "_")
_NAME_CHARACTERS = _NAME_START | frozenset(string.digits)
_DIGITS = frozenset(string.digits)
_SMART_QUOTES = frozenset("\u2018\u2019\u201c\u201d")


# --- Errors and public value types ------------------------------------------------------


class ExpressionError(Exception):
    """Base class of every error this module raises."""


class ExpressionSyntaxError(ExpressionError):
    """The text is not a well-formed expression."""

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return f"{self.message} at column {self.position + 1}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation error: what is wrong and where (0-based index into the text)."""

    message: str
    position: int


class VariableKind(StrEnum):
    YES_NO = "yes_no"
    CHOICE = "choice"
    MULTI = "multi"
    NUMBER = "number"
    TEXT = "text"
    DATE = "date"
    LIST = "list"


@dataclass(frozen=True, slots=True)
class VariableType:
    kind: VariableKind
    # Allowed values of CHOICE and MULTI; empty means any value is accepted.
    choices: frozenset[str] = frozenset()
    # Set when the name exists but expressions may not use it; says why (a form error).
    refused: str = ""


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A function admins may call, e.g. takes("cyp3a4_inhibitor").

    arg_kinds holds "string", "number" or "name" per argument. implementation is called
    as implementation(context, *args); describe_args gets the literal args at validation
    time and returns problems with positions relative to the call.
    """

    arg_kinds: tuple[str, ...]
    implementation: Callable[..., bool | None]
    describe_args: Callable[[tuple], list[Problem]] | None = None


_NO_FUNCTIONS: Mapping[str, FunctionSpec] = MappingProxyType({})


# --- Runtime value handling ---------------------------------------------------------------


def _normalize(value: object) -> str | int | Decimal | date | None:
    """A stored value in a form comparisons understand, or None if missing or unusable."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # bool is an int subclass, but never a valid answer
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        # repr gives the shortest round-tripping text, so 0.1 matches the literal 0.1.
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return None if value.is_nan() else value
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None


def _parse_iso_date(text: str) -> date | None:
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _compare(symbol: str, left: object, right: object) -> bool | None:
    """Compare two normalized values; None when their types cannot be compared."""
    if isinstance(left, str) and isinstance(right, str) and symbol in ("=", "!="):
        return (left == right) == (symbol == "=")
    if isinstance(left, str):
        left = _parse_iso_date(left)
        if left is None:
            return None
    if isinstance(right, str):
        right = _parse_iso_date(right)
        if right is None:
            return None
    if isinstance(left, date) != isinstance(right, date):
        return None
    return _OPERATORS[symbol](left, right)


# --- Tree nodes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    value: str | int | Decimal
    position: int
    source: str  # as written, for messages

    @property
    def is_number(self) -> bool:
        return not isinstance(self.value, str)

    @property
    def display(self) -> str:
        if self.is_number or self.source[0] not in "\"'":
            return self.source
        return f'"{self.value}"'

    def resolve(self, values: Mapping[str, object]) -> object:
        return self.value

    def raw(self, values: Mapping[str, object]) -> object:
        return self.value


@dataclass(frozen=True, slots=True)
class VariableRef:
    name: str
    position: int

    def resolve(self, values: Mapping[str, object]) -> object:
        return _normalize(values.get(self.name))

    def raw(self, values: Mapping[str, object]) -> object:
        return values.get(self.name)


Operand = Literal | VariableRef


@dataclass(frozen=True, slots=True)
class Comparison:
    left: Operand
    operator: str  # one of _OPERATORS; "==" is stored as "="
    right: Operand
    position: int

    def evaluate(
        self, values: Mapping[str, object], functions: Mapping[str, FunctionSpec], context: object
    ) -> bool | None:
        left = self.left.resolve(values)
        if left is None:
            return None
        right = self.right.resolve(values)
        if right is None:
            return None
        return _compare(self.operator, left, right)


@dataclass(frozen=True, slots=True)
class Membership:
    """`"value" in code`: is a choice selected in a multiple-choice answer."""

    item: Operand
    collection: VariableRef
    negated: bool
    position: int

    def evaluate(
        self, values: Mapping[str, object], functions: Mapping[str, FunctionSpec], context: object
    ) -> bool | None:
        item = self.item.resolve(values)
        collection = values.get(self.collection.name)
        if item is None or collection is None:
            return None
        # A plain string would otherwise turn this into a substring test.
        if not isinstance(collection, (set, frozenset, list, tuple)) and (
            isinstance(collection, (str, bytes, Mapping)) or not isinstance(collection, Collection)
        ):
            return None
        try:
            found = item in collection
        except TypeError:
            return None
        return found != self.negated


@dataclass(frozen=True, slots=True)
class OneOf:
    """`code in ("a", "b")`: is a single value one of a list."""

    subject: Operand
    options: tuple[Literal, ...]
    negated: bool
    position: int

    def evaluate(
        self, values: Mapping[str, object], functions: Mapping[str, FunctionSpec], context: object
    ) -> bool | None:
        subject = self.subject.resolve(values)
        if subject is None:
            return None
        result: bool | None = False
        for option in self.options:
            outcome = _compare("=", subject, option.value)
            if outcome:
                result = True
                break
            if outcome is None:
                result = None
        if result is None:
            return None
        return result != self.negated


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Operand, ...]
    position: int

    @property
    def literal_args(self) -> tuple:
        return tuple(arg.value if isinstance(arg, Literal) else arg.name for arg in self.args)

    def evaluate(
        self, values: Mapping[str, object], functions: Mapping[str, FunctionSpec], context: object
    ) -> bool | None:
        spec = functions.get(self.name)
        if spec is None:
            raise ExpressionError(f'Unknown function "{self.name}"')
        result = spec.implementation(context, *(arg.raw(values) for arg in self.args))
        return None if result is None else bool(result)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node
    position: int

    def evaluate(
        self, values: Mapping[str, object], functions: Mapping[str, FunctionSpec], context: object
    ) -> bool | None:
        result = self.operand.evaluate(values, functions, context)
        return None if result is None else not result


@dataclass(frozen=True, slots=True)
class AllOf:
    """`a and b and ...`; False wins over unknown."""

    operands: tuple[Node, ...]

    def evaluate(
        self, values: Mapping[str, object], functions: Mapping[str, FunctionSpec], context: object
    ) -> bool | None:
        result: bool | None = True
        for operand in self.operands:
            outcome = operand.evaluate(values, functions, context)
            if outcome is False:
                return False
            if outcome is None:
                result = None
        return result


@dataclass(frozen=True, slots=True)
class AnyOf:
    """`a or b or ...`; True wins over unknown."""

    operands: tuple[Node, ...]

    def evaluate(
        self, values: Mapping[str, object], functions: Mapping[str, FunctionSpec], context: object
    ) -> bool | None:
        result: bool | None = False
        for operand in self.operands:
            outcome = operand.evaluate(values, functions, context)
            if outcome is True:
                return True
            if outcome is None:
                result = None
        return result


Node = Comparison | Membership | OneOf | Call | Not | AllOf | AnyOf


def _walk(node: Node | Operand) -> Iterator[Node | Operand]:
    """Every node and operand, in the order they appear in the text."""
    yield node
    if isinstance(node, (AllOf, AnyOf)):
        for child in node.operands:
            yield from _walk(child)
    elif isinstance(node, Not):
        yield from _walk(node.operand)
    elif isinstance(node, Comparison):
        yield node.left
        yield node.right
    elif isinstance(node, Membership):
        yield node.item
        yield node.collection
    elif isinstance(node, OneOf):
        yield node.subject
        yield from node.options
    elif isinstance(node, Call):
        yield from node.args


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression; build it with parse()."""

    text: str
    tree: Node
    names: frozenset[str]  # variables referenced, e.g. a rule's evidence
    function_calls: tuple[tuple[str, tuple], ...]  # (name, args) in text order

    def evaluate(
        self,
        values: Mapping[str, object],
        functions: Mapping[str, FunctionSpec] = _NO_FUNCTIONS,
        context: object = None,
    ) -> bool | None:
        """True, False, or None when missing answers leave the result unknown."""
        return self.tree.evaluate(values, functions, context)

    def is_true(
        self,
        values: Mapping[str, object],
        functions: Mapping[str, FunctionSpec] = _NO_FUNCTIONS,
        context: object = None,
    ) -> bool:
        return self.tree.evaluate(values, functions, context) is True


# --- Tokenizer ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # number, string, name, keyword, operator, "(", ")", ",", end
    value: object
    position: int
    source: str


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        start = index
        if char.isspace():
            index += 1
        elif char in _NAME_START:
            while index < length and text[index] in _NAME_CHARACTERS:
                index += 1
            word = text[start:index]
            if word.lower() in KEYWORDS:
                tokens.append(_Token("keyword", word.lower(), start, word))
            else:
                tokens.append(_Token("name", word, start, word))
        elif char in _DIGITS or (char == "-" and index + 1 < length and text[index + 1] in _DIGITS):
            index += 1
            while index < length and text[index] in _DIGITS:
                index += 1
            if index + 1 < length and text[index] == "." and text[index + 1] in _DIGITS:
                index += 1
                while index < length and text[index] in _DIGITS:
                    index += 1
            source = text[start:index]
            value = Decimal(source) if "." in source else int(source)
            tokens.append(_Token("number", value, start, source))
        elif char in "\"'":
            value, index = _read_string(text, start)
            tokens.append(_Token("string", value, start, text[start:index]))
        elif char in "=!<>":
            pair = text[index : index + 2]
            if pair in ("==", "!=", "<=", ">="):
                index += 2
            elif pair in ("=>", "=<"):
                raise ExpressionSyntaxError(
                    f"Unexpected '{pair}' (did you mean '{pair[::-1]}'?)", start
                )
            elif char == "!":
                raise ExpressionSyntaxError(
                    "Unexpected '!' (use '!=' for not equal, or 'not')", start
                )
            else:
                index += 1
            source = text[start:index]
            symbol = "=" if source == "==" else source
            tokens.append(_Token("operator", symbol, start, source))
        elif char in "(),":
            index += 1
            tokens.append(_Token(char, char, start, char))
        elif char in _SMART_QUOTES:
            raise ExpressionSyntaxError(
                f"Unexpected character '{char}' (use straight quotes \" or ')", start
            )
        elif char == "-":
            raise ExpressionSyntaxError(
                "Unexpected '-' (a minus sign must come directly before a number)",
                start,
            )
        else:
            shown = char if char.isprintable() else f"U+{ord(char):04X}"
            raise ExpressionSyntaxError(f"Unexpected character '{shown}'", start)
    tokens.append(_Token("end", None, length, ""))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    """The string starting at text[start] (a quote) and the index just past its end."""
    quote = text[start]
    parts: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == quote:
            return "".join(parts), index + 1
        if char == "\\":
            escaped = text[index + 1 : index + 2]
            if escaped not in ('"', "'", "\\") or not escaped:
                raise ExpressionSyntaxError(
                    "Unsupported escape (only \\\", \\' and \\\\ are allowed)", index
                )
            parts.append(escaped)
            index += 2
            continue
        parts.append(char)
        index += 1
    raise ExpressionSyntaxError("Unclosed string (missing closing quote)", start)


# --- Parser -------------------------------------------------------------------------------


class _Parser:
    """Recursive descent: or > and > not > comparison; depth is capped at MAX_DEPTH."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_keyword(self, word: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == "keyword" and token.value == word

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionSyntaxError(
                f"Expression is nested too deeply (more than {MAX_DEPTH} levels)",
                token.position,
            )

    def parse(self) -> Node:
        node = self.parse_or()
        token = self.peek()
        if token.kind != "end":
            raise _unexpected(token)
        return node

    def parse_or(self) -> Node:
        operands = [self.parse_and()]
        while self.at_keyword("or"):
            self.advance()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else AnyOf(tuple(operands))

    def parse_and(self) -> Node:
        operands = [self.parse_not()]
        while self.at_keyword("and"):
            self.advance()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else AllOf(tuple(operands))

    def parse_not(self) -> Node:
        if not self.at_keyword("not"):
            return self.parse_condition()
        token = self.advance()
        self.enter(token)
        operand = self.parse_not()
        self.depth -= 1
        return Not(operand, token.position)

    def parse_condition(self) -> Node:
        token = self.peek()
        if token.kind == "(":
            self.advance()
            self.enter(token)
            node = self.parse_or()
            self.expect_close(token)
            self.depth -= 1
            return node

        left = self.parse_operand()
        token = self.peek()
        if token.kind == "operator":
            self.reject_call_comparison(left, token)
            self.advance()
            right = self.parse_operand()
            self.reject_call_comparison(right, token)
            following = self.peek()
            if following.kind == "operator":
                raise ExpressionSyntaxError(
                    f"Unexpected '{following.source}' (comparisons cannot be chained;"
                    " join them with 'and')",
                    following.position,
                )
            return Comparison(left, token.value, right, token.position)

        negated = self.at_keyword("not") and self.at_keyword("in", 1)
        if negated or self.at_keyword("in"):
            self.reject_call_comparison(left, token)
            if negated:
                self.advance()
            self.advance()
            if self.peek().kind == "(":
                return OneOf(left, self.parse_options(), negated, token.position)
            target = self.peek()
            if target.kind != "name":
                raise _unexpected(target)
            self.advance()
            collection = VariableRef(target.value, target.position)
            return Membership(left, collection, negated, token.position)

        if isinstance(left, Call):
            return left
        ends_condition = token.kind in ("end", ")") or (
            token.kind == "keyword" and token.value in ("and", "or")
        )
        if not ends_condition:
            raise _unexpected(token)
        if isinstance(left, VariableRef):
            raise ExpressionSyntaxError(
                f'"{left.name}" on its own is not a condition (compare it, e.g. {left.name} = yes)',
                left.position,
            )
        raise ExpressionSyntaxError(
            f"The value {left.display} on its own is not a condition"
            f" (compare a question code with it, e.g. code = {left.display})",
            left.position,
        )

    def parse_operand(self) -> Literal | VariableRef | Call:
        token = self.peek()
        literal = self.parse_literal()
        if literal is not None:
            return literal
        if token.kind != "name":
            raise _unexpected(token)
        self.advance()
        if self.peek().kind == "(":
            return self.parse_call(token)
        return VariableRef(token.value, token.position)

    def parse_literal(self) -> Literal | None:
        token = self.peek()
        is_yes_no = token.kind == "keyword" and token.value in ("yes", "no")
        if token.kind in ("number", "string") or is_yes_no:
            self.advance()
            return Literal(token.value, token.position, token.source)
        return None

    def parse_call(self, name_token: _Token) -> Call:
        open_token = self.advance()
        args: list[Operand] = []
        if self.peek().kind != ")":
            while True:
                token = self.peek()
                arg = self.parse_literal()
                if arg is None:
                    if token.kind != "name":
                        raise self.unexpected_in_parentheses(token, open_token)
                    self.advance()
                    arg = VariableRef(token.value, token.position)
                args.append(arg)
                if self.peek().kind != ",":
                    break
                self.advance()
        self.expect_close(open_token)
        return Call(name_token.value, tuple(args), name_token.position)

    def parse_options(self) -> tuple[Literal, ...]:
        open_token = self.advance()
        options: list[Literal] = []
        while True:
            token = self.peek()
            option = self.parse_literal()
            if option is None:
                if token.kind == "name":
                    raise ExpressionSyntaxError(
                        f"Unexpected '{token.source}' (the list after 'in' can only"
                        " hold quoted values, numbers, yes and no)",
                        token.position,
                    )
                raise self.unexpected_in_parentheses(token, open_token)
            options.append(option)
            if self.peek().kind != ",":
                break
            self.advance()
        self.expect_close(open_token)
        return tuple(options)

    def expect_close(self, open_token: _Token) -> None:
        token = self.peek()
        if token.kind == ")":
            self.advance()
            return
        raise self.unexpected_in_parentheses(token, open_token)

    def unexpected_in_parentheses(self, token: _Token, open_token: _Token) -> ExpressionSyntaxError:
        if token.kind == "end":
            return ExpressionSyntaxError("Unclosed '('", open_token.position)
        return _unexpected(token)

    def reject_call_comparison(self, operand: Operand | Call, token: _Token) -> None:
        if isinstance(operand, Call):
            raise ExpressionSyntaxError(
                f"Unexpected '{token.source}' ({operand.name}(...) is already a"
                " condition and cannot be compared)",
                token.position,
            )


def _unexpected(token: _Token) -> ExpressionSyntaxError:
    if token.kind == "end":
        return ExpressionSyntaxError("Unexpected end of expression", token.position)
    return ExpressionSyntaxError(f"Unexpected '{token.source}'", token.position)


def parse(text: str) -> Expression:
    """Parse text into an Expression; raises ExpressionSyntaxError if it is malformed."""
    if not isinstance(text, str):
        raise TypeError(f"Expression text must be a str, not {type(text).__name__}")
    return _parse(text)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Expression:
    if len(text) > MAX_LENGTH:
        raise ExpressionSyntaxError(
            f"Expression is too long ({len(text):,} characters; the limit is {MAX_LENGTH:,})",
            MAX_LENGTH,
        )
    if not text.strip():
        raise ExpressionSyntaxError("Empty expression", 0)
    tree = _Parser(_tokenize(text)).parse()
    parts = list(_walk(tree))
    names = frozenset(part.name for part in parts if isinstance(part, VariableRef))
    calls = tuple((part.name, part.literal_args) for part in parts if isinstance(part, Call))
    return Expression(text, tree, names, calls)


# --- Validation ---------------------------------------------------------------------------

_KIND_PHRASES = {
    VariableKind.YES_NO: "a yes/no answer",
    VariableKind.CHOICE: "a single-choice answer",
    VariableKind.MULTI: "a multiple-choice answer",
    VariableKind.NUMBER: "a number",
    VariableKind.TEXT: "a text answer",
    VariableKind.DATE: "a date",
    VariableKind.LIST: "a list",
}
_ARG_PHRASES = {
    "string": "a quoted value",
    "number": "a number",
    "name": "a question code",
}


def validate(
    text: str,
    variables: Mapping[str, VariableType],
    functions: Mapping[str, FunctionSpec] = _NO_FUNCTIONS,
) -> list[Problem]:
    """Every problem with text against these variables and functions; [] when valid."""
    if not isinstance(text, str):
        return [Problem("Expression text is missing", 0)]
    try:
        expression = parse(text)
    except ExpressionSyntaxError as error:
        return [Problem(str(error), error.position)]
    checker = _Validator(variables, functions)
    for part in _walk(expression.tree):
        checker.check(part)
    return sorted(checker.problems, key=lambda problem: problem.position)


def _column(position: int) -> str:
    return f"column {position + 1}"


def _kind_phrase(kind: VariableKind) -> str:
    return _KIND_PHRASES.get(kind, str(kind))


def _quoted_list(values: Collection[str]) -> str:
    return ", ".join(f'"{value}"' for value in sorted(values))


def _suggestion(word: str, candidates: Collection[str]) -> str:
    lowered = {candidate.lower(): candidate for candidate in candidates}
    if word.lower() in lowered:
        return f' Did you mean "{lowered[word.lower()]}"?'
    matches = difflib.get_close_matches(word, list(candidates), n=1)
    return f' Did you mean "{matches[0]}"?' if matches else ""


def _is_date_literal(literal: Literal) -> bool:
    return isinstance(literal.value, str) and _parse_iso_date(literal.value) is not None


class _Validator:
    def __init__(
        self, variables: Mapping[str, VariableType], functions: Mapping[str, FunctionSpec]
    ) -> None:
        self.variables = variables
        self.functions = functions
        self.problems: list[Problem] = []

    def add(self, message: str, position: int) -> None:
        self.problems.append(Problem(message, position))

    def check(self, part: Node | Operand) -> None:
        # Unknown and refused names are reported once here; the checks below skip them quietly.
        if isinstance(part, VariableRef) and part.name not in self.variables:
            self.add(
                f'Unknown question code "{part.name}" at {_column(part.position)}.'
                + _suggestion(part.name, self._usable_names()),
                part.position,
            )
        elif isinstance(part, VariableRef) and self.variables[part.name].refused:
            self.add(
                f'Cannot use "{part.name}" at {_column(part.position)}:'
                f" {self.variables[part.name].refused}",
                part.position,
            )
        elif isinstance(part, Comparison):
            self.check_comparison(part)
        elif isinstance(part, Membership):
            self.check_membership(part)
        elif isinstance(part, OneOf):
            self.check_one_of(part)
        elif isinstance(part, Call):
            self.check_call(part)

    def _usable_names(self) -> list[str]:
        return [name for name, kind in self.variables.items() if not kind.refused]

    def type_of(self, operand: Operand) -> VariableType | None:
        if isinstance(operand, VariableRef):
            variable_type = self.variables.get(operand.name)
            return None if variable_type is None or variable_type.refused else variable_type
        return None

    def check_comparison(self, node: Comparison) -> None:
        left, right = node.left, node.right
        if isinstance(left, Literal) and isinstance(right, Literal):
            self.add(
                f"Comparison of two fixed values ({left.display} and {right.display})"
                f" at {_column(left.position)}. One side should be a question code.",
                left.position,
            )
            return
        if isinstance(left, VariableRef) and isinstance(right, VariableRef):
            left_type, right_type = self.type_of(left), self.type_of(right)
            if left_type is not None and right_type is not None:
                self.check_two_variables(node, left_type, right_type)
            return
        variable, literal = (left, right) if isinstance(left, VariableRef) else (right, left)
        variable_type = self.type_of(variable)
        if variable_type is None:
            return
        if not self.usable_in_comparison(variable, variable_type, node.operator):
            return
        kind = variable_type.kind
        if node.operator not in ORDERING_OPERATORS:
            self.check_value(variable, variable_type, literal)
        elif kind == VariableKind.NUMBER and not literal.is_number:
            self.add(
                f'Cannot compare "{variable.name}" (a number) with {literal.display}'
                f" at {_column(literal.position)}. Use a number, e.g."
                f" {variable.name} {node.operator} 10.",
                literal.position,
            )
        elif kind == VariableKind.DATE and not _is_date_literal(literal):
            self.add_not_a_date(variable, literal)

    def usable_in_comparison(
        self, variable: VariableRef, variable_type: VariableType, symbol: str
    ) -> bool:
        """Report kinds that cannot be compared at all; True when the kind is fine."""
        kind = variable_type.kind
        where = _column(variable.position)
        if kind == VariableKind.LIST:
            self.add(
                f'Cannot compare "{variable.name}" (a list) at {where}.'
                " Lists can only be passed to a function.",
                variable.position,
            )
        elif kind == VariableKind.MULTI:
            self.add(
                f'Cannot use "{symbol}" on "{variable.name}" (a multiple-choice answer)'
                f' at {where}. Use "value" in {variable.name} instead.',
                variable.position,
            )
        elif symbol in ORDERING_OPERATORS and kind not in (
            VariableKind.NUMBER,
            VariableKind.DATE,
        ):
            self.add(
                f'Cannot use "{symbol}" on "{variable.name}" ({_kind_phrase(kind)}) at'
                f" {where}. Only numbers and dates can be compared with <, <=, > or >=.",
                variable.position,
            )
        else:
            return True
        return False

    def check_two_variables(
        self, node: Comparison, left_type: VariableType, right_type: VariableType
    ) -> None:
        for variable, variable_type in ((node.left, left_type), (node.right, right_type)):
            if not self.usable_in_comparison(variable, variable_type, node.operator):
                return
        if left_type.kind != right_type.kind:
            self.add(
                f'Cannot compare "{node.left.name}" ({_kind_phrase(left_type.kind)})'
                f' with "{node.right.name}" ({_kind_phrase(right_type.kind)}) at'
                f" {_column(node.position)}.",
                node.position,
            )

    def check_value(
        self, variable: VariableRef, variable_type: VariableType, literal: Literal
    ) -> None:
        """Check literal as a possible value of variable under = or != (or in a list)."""
        kind = variable_type.kind
        name = variable.name
        where = _column(literal.position)
        if kind == VariableKind.YES_NO:
            if literal.value not in ("yes", "no"):
                self.add(
                    f'Cannot compare "{name}" (a yes/no answer) with {literal.display}'
                    f" at {where}. Use yes or no.",
                    literal.position,
                )
        elif kind == VariableKind.NUMBER:
            if not literal.is_number:
                self.add(
                    f'Cannot compare "{name}" (a number) with {literal.display} at'
                    f" {where}. Use a number, e.g. {name} = 10.",
                    literal.position,
                )
        elif kind == VariableKind.DATE:
            if not _is_date_literal(literal):
                self.add_not_a_date(variable, literal)
        elif literal.is_number:
            self.add(
                f'Cannot compare "{name}" ({_kind_phrase(kind)}) with the number'
                f' {literal.display} at {where}. Use a quoted value, e.g. "{literal.source}".',
                literal.position,
            )
        elif kind == VariableKind.CHOICE:
            self.check_choice(variable, variable_type, literal)

    def check_choice(
        self, variable: VariableRef, variable_type: VariableType, literal: Literal
    ) -> None:
        choices = variable_type.choices
        if not choices or literal.value in choices:
            return
        self.add(
            f'Unknown value {literal.display} for "{variable.name}" at'
            f" {_column(literal.position)}. Allowed values: {_quoted_list(choices)}.",
            literal.position,
        )

    def add_not_a_date(self, variable: VariableRef, literal: Literal) -> None:
        self.add(
            f'Cannot compare "{variable.name}" (a date) with {literal.display} at'
            f' {_column(literal.position)}. Write the date as "YYYY-MM-DD".',
            literal.position,
        )

    def check_membership(self, node: Membership) -> None:
        item, collection = node.item, node.collection
        if isinstance(item, VariableRef):
            self.add(
                f'A question code cannot go before "in" at {_column(item.position)}.'
                f' Put a quoted value there, e.g. "value" in {collection.name}.',
                item.position,
            )
            return
        collection_type = self.type_of(collection)
        if collection_type is None:
            return
        kind = collection_type.kind
        if kind == VariableKind.LIST:
            self.usable_in_comparison(collection, collection_type, "in")
        elif kind != VariableKind.MULTI:
            self.add(
                f'Cannot use "in" with "{collection.name}" ({_kind_phrase(kind)}) at'
                f" {_column(collection.position)}. Only multiple-choice answers hold"
                f' several values; use {collection.name} = "value" or'
                f' {collection.name} in ("a", "b").',
                collection.position,
            )
        elif item.is_number:
            self.add(
                f"Cannot look for the number {item.display} in"
                f' "{collection.name}" at {_column(item.position)}.'
                f' Use a quoted value, e.g. "{item.source}".',
                item.position,
            )
        else:
            self.check_choice(collection, collection_type, item)

    def check_one_of(self, node: OneOf) -> None:
        subject = node.subject
        if isinstance(subject, Literal):
            self.add(
                f"Comparison of fixed values at {_column(subject.position)}."
                ' Put a question code before "in (...)".',
                subject.position,
            )
            return
        subject_type = self.type_of(subject)
        if subject_type is None:
            return
        kind = subject_type.kind
        if kind == VariableKind.DATE:
            self.add(
                f'Cannot use "in (...)" on "{subject.name}" (a date) at'
                f" {_column(subject.position)}. Compare it with <, <=, > or >=.",
                subject.position,
            )
        elif self.usable_in_comparison(subject, subject_type, "in (...)"):
            for option in node.options:
                self.check_value(subject, subject_type, option)

    def check_call(self, call: Call) -> None:
        where = _column(call.position)
        spec = self.functions.get(call.name)
        if spec is None:
            self.add(
                f'Unknown function "{call.name}" at {where}.'
                + _suggestion(call.name, self.functions.keys()),
                call.position,
            )
            return
        expected = len(spec.arg_kinds)
        if len(call.args) != expected:
            plural = "" if expected == 1 else "s"
            self.add(
                f'Function "{call.name}" at {where} expects {expected} argument{plural}'
                f" but was given {len(call.args)}.",
                call.position,
            )
            return
        kinds_ok = True
        for number, (arg, arg_kind) in enumerate(zip(call.args, spec.arg_kinds, strict=True), 1):
            if isinstance(arg, VariableRef):
                matches = arg_kind == "name"
            elif arg_kind == "number":
                matches = arg.is_number
            else:
                matches = arg_kind == "string" and not arg.is_number
            if not matches:
                kinds_ok = False
                self.add(
                    f'Argument {number} of "{call.name}" at {_column(arg.position)}'
                    f" must be {_ARG_PHRASES.get(arg_kind, arg_kind)}.",
                    arg.position,
                )
        if kinds_ok and spec.describe_args is not None:
            try:
                extra = spec.describe_args(call.literal_args)
            except Exception as error:  # noqa: BLE001 - validate() must never raise
                extra = [Problem(f'Could not check the arguments of "{call.name}": {error}', 0)]
            for problem in extra:
                self.add(problem.message, call.position + problem.position)
