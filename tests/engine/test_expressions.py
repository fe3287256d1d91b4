import builtins
import dataclasses
import operator
import random
from datetime import date, datetime
from decimal import Decimal

import pytest

from screening.engine.expressions import (
    Expression,
    ExpressionError,
    ExpressionSyntaxError,
    FunctionSpec,
    Problem,
    VariableKind,
    VariableType,
    parse,
    validate,
)

VARIABLES = {
    "pregnant": VariableType(VariableKind.CHOICE, frozenset({"yes", "no", "unsure"})),
    "breastfeeding": VariableType(VariableKind.YES_NO),
    "elevated_mood_now": VariableType(VariableKind.YES_NO),
    "bp_systolic": VariableType(VariableKind.NUMBER),
    "bp_diastolic": VariableType(VariableKind.NUMBER),
    "phq9_total": VariableType(VariableKind.NUMBER),
    "auditc_total": VariableType(VariableKind.NUMBER),
    "sex_at_birth": VariableType(VariableKind.CHOICE, frozenset({"female", "male", "intersex"})),
    "psych_history": VariableType(VariableKind.MULTI, frozenset({"psychosis", "bipolar", "none"})),
    "cv_conditions": VariableType(VariableKind.MULTI, frozenset({"none", "stroke", "angina"})),
    "notes": VariableType(VariableKind.TEXT),
    "last_dose": VariableType(VariableKind.DATE),
    "medications": VariableType(VariableKind.LIST),
}

KNOWN_CLASSES = {"cyp3a4_inhibitor", "maoi"}


def _takes(context, drug_class):
    return drug_class in context


def _describe_takes(args):
    if args[0] in KNOWN_CLASSES:
        return []
    return [Problem(f'Unknown medication class "{args[0]}"', 6)]


FUNCTIONS = {
    "takes": FunctionSpec(("string",), _takes, _describe_takes),
    "dose_above": FunctionSpec(("name", "number"), lambda ctx, meds, n: None),
}


def evaluate(text, values=None, functions=FUNCTIONS, context=frozenset()):
    return parse(text).evaluate(values or {}, functions, context)


# --- The spec's examples ----------------------------------------------------------------

SPEC_EXAMPLES = [
    "pregnant = yes or breastfeeding = yes",
    "bp_systolic >= 160",
    "phq9_total >= 20",
    'takes("cyp3a4_inhibitor")',
    '"psychosis" in psych_history',
    "(bp_systolic > 140 or bp_diastolic > 90) and bp_systolic <= 180 and bp_diastolic <= 100",
    'sex_at_birth != "male" and auditc_total >= 3',
    'pregnant = "unsure"',
    "not (elevated_mood_now = yes)",
    '"bipolar" in psych_history and elevated_mood_now = no',
    'sex_at_birth in ("female", "intersex")',
    '"none" not in cv_conditions',
]

PATIENT = {
    "pregnant": "unsure",
    "breastfeeding": "no",
    "elevated_mood_now": "no",
    "bp_systolic": 150,
    "bp_diastolic": 85,
    "phq9_total": 12,
    "auditc_total": 4,
    "sex_at_birth": "female",
    "psych_history": {"bipolar"},
    "cv_conditions": ["angina"],
}


@pytest.mark.parametrize("text", SPEC_EXAMPLES)
def test_every_spec_example_validates_cleanly(text):
    assert validate(text, VARIABLES, FUNCTIONS) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        (SPEC_EXAMPLES[0], False),
        (SPEC_EXAMPLES[1], False),
        (SPEC_EXAMPLES[2], False),
        (SPEC_EXAMPLES[3], True),
        (SPEC_EXAMPLES[4], False),
        (SPEC_EXAMPLES[5], True),
        (SPEC_EXAMPLES[6], True),
        (SPEC_EXAMPLES[7], True),
        (SPEC_EXAMPLES[8], True),
        (SPEC_EXAMPLES[9], True),
        (SPEC_EXAMPLES[10], True),
        (SPEC_EXAMPLES[11], True),
    ],
)
def test_spec_examples_evaluate_against_a_sample_patient(text, expected):
    assert evaluate(text, PATIENT, context={"cyp3a4_inhibitor"}) is expected


# --- Operators and precedence -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value, expected",
    [
        ("bp_systolic = 160", 160, True),
        ("bp_systolic == 160", 160, True),
        ("bp_systolic = 160", 161, False),
        ("bp_systolic != 160", 161, True),
        ("bp_systolic != 160", 160, False),
        ("bp_systolic < 160", 159, True),
        ("bp_systolic < 160", 160, False),
        ("bp_systolic <= 160", 160, True),
        ("bp_systolic <= 160", 161, False),
        ("bp_systolic > 160", 161, True),
        ("bp_systolic > 160", 160, False),
        ("bp_systolic >= 160", 160, True),
        ("bp_systolic >= 160", 159, False),
        ("160 <= bp_systolic", 160, True),
        ("160 > bp_systolic", 160, False),
        ("bp_systolic > -5", -4, True),
        ("bp_systolic>=-5", -6, False),
    ],
)
def test_each_comparison_operator_compares_numbers(text, value, expected):
    assert evaluate(text, {"bp_systolic": value}) is expected


@pytest.mark.parametrize(
    "text, values, expected",
    [
        # and binds tighter than or: a or (b and c)
        ("a = 1 or b = 1 and c = 1", {"a": 1, "b": 0, "c": 0}, True),
        ("(a = 1 or b = 1) and c = 1", {"a": 1, "b": 0, "c": 0}, False),
        # not binds tighter than and: (not a) and b
        ("not a = 1 and b = 1", {"a": 1, "b": 0}, False),
        ("not a = 1 and b = 1", {"a": 0, "b": 1}, True),
        ("not (a = 1 and b = 1)", {"a": 1, "b": 0}, True),
        # not binds tighter than or: (not a) or b
        ("not a = 1 or b = 1", {"a": 1, "b": 1}, True),
        ("not (a = 1 or b = 1)", {"a": 1, "b": 1}, False),
        ("not not a = 1", {"a": 1}, True),
        ("a = 1 AND b = 1 Or c = 1", {"a": 0, "b": 1, "c": 1}, True),
        ("((a = 1))", {"a": 1}, True),
    ],
)
def test_boolean_operators_follow_not_and_or_precedence(text, values, expected):
    assert evaluate(text, values) is expected


@pytest.mark.parametrize(
    "text, answer, expected",
    [
        ("breastfeeding = yes", "yes", True),
        ("breastfeeding = YES", "yes", True),
        ('breastfeeding = "yes"', "yes", True),
        ("breastfeeding = no", "yes", False),
        ("breastfeeding != no", "yes", True),
        ("breastfeeding = No", "no", True),
        ("breastfeeding = yes", "Yes", False),
    ],
)
def test_yes_and_no_keywords_are_the_strings_yes_and_no(text, answer, expected):
    assert evaluate(text, {"breastfeeding": answer}) is expected


@pytest.mark.parametrize(
    "text, answer",
    [
        (r'notes = "say \"hi\""', 'say "hi"'),
        (r"notes = 'it\'s'", "it's"),
        ("notes = 'say \"hi\"'", 'say "hi"'),
        ('notes = "it\'s"', "it's"),
        (r'notes = "back\\slash"', "back\\slash"),
        ('notes = "and or not in"', "and or not in"),
        ('notes = ""', ""),
    ],
)
def test_quoted_strings_support_both_quotes_and_escapes(text, answer):
    assert evaluate(text, {"notes": answer}) is True
    assert evaluate(text, {"notes": answer + "x"}) is False


@pytest.mark.parametrize(
    "text, selected, expected",
    [
        ('"psychosis" in psych_history', {"psychosis", "bipolar"}, True),
        ('"psychosis" in psych_history', ["bipolar"], False),
        ('"psychosis" in psych_history', (), False),
        ('"psychosis" not in psych_history', frozenset({"bipolar"}), True),
        ('"psychosis" not in psych_history', ("psychosis",), False),
        ("'psychosis' NOT IN psych_history", [], True),
    ],
)
def test_value_in_multi_choice_answer_checks_selection(text, selected, expected):
    assert evaluate(text, {"psych_history": selected}) is expected


@pytest.mark.parametrize(
    "text, answer, expected",
    [
        ('sex_at_birth in ("female", "intersex")', "female", True),
        ('sex_at_birth in ("female", "intersex")', "male", False),
        ("sex_at_birth in ('female')", "female", True),
        ('sex_at_birth not in ("female", "intersex")', "male", True),
        ('sex_at_birth not in ("female", "intersex")', "intersex", False),
    ],
)
def test_single_value_in_a_list_of_options(text, answer, expected):
    assert evaluate(text, {"sex_at_birth": answer}) is expected


@pytest.mark.parametrize(
    "value, expected",
    [(3, True), (Decimal("3.0"), True), (4.5, True), (5, False), (3.1, False)],
)
def test_number_in_a_list_of_numbers_matches_across_types(value, expected):
    assert evaluate("phq9_total in (3, 4.5)", {"phq9_total": value}) is expected


# --- Three-valued logic and missing answers -----------------------------------------------

TRUTH = {True: "yes", False: "no", None: None}


def _kleene_and(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _kleene_or(a, b):
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


PAIRS = [(a, b) for a in (True, False, None) for b in (True, False, None)]


@pytest.mark.parametrize("a, b", PAIRS)
def test_and_follows_kleene_logic(a, b):
    values = {"x": TRUTH[a], "y": TRUTH[b]}
    assert evaluate("x = yes and y = yes", values) is _kleene_and(a, b)


@pytest.mark.parametrize("a, b", PAIRS)
def test_or_follows_kleene_logic(a, b):
    values = {"x": TRUTH[a], "y": TRUTH[b]}
    assert evaluate("x = yes or y = yes", values) is _kleene_or(a, b)


@pytest.mark.parametrize("a, expected", [(True, False), (False, True), (None, None)])
def test_not_keeps_unknown_unknown(a, expected):
    assert evaluate("not x = yes", {"x": TRUTH[a]}) is expected


@pytest.mark.parametrize(
    "text",
    [
        "bp_systolic < 140",
        "bp_systolic >= 140",
        "bp_systolic != 140",
        "breastfeeding = no",
        "breastfeeding != yes",
        '"none" in cv_conditions',
        '"none" not in cv_conditions',
        'sex_at_birth in ("female")',
        'sex_at_birth not in ("female")',
        "last_dose < '2024-01-01'",
        "bp_systolic = bp_diastolic",
    ],
)
@pytest.mark.parametrize("values", [{}, {name: None for name in VARIABLES}])
def test_missing_answer_is_unknown_not_false(text, values):
    expression = parse(text)
    assert expression.evaluate(values) is None
    assert expression.is_true(values) is False


def test_missing_blood_pressure_is_never_counted_as_normal():
    normal = parse("bp_systolic < 140 and bp_diastolic < 90")
    assert normal.evaluate({"bp_systolic": 120}) is None
    assert normal.evaluate({"bp_systolic": 120, "bp_diastolic": 80}) is True


@pytest.mark.parametrize(
    "text, values, expected",
    [
        ("a = 1 and b = 1", {"a": 0}, False),
        ("a = 1 or b = 1", {"a": 1}, True),
        ("a = 1 and b = 1 and c = 1", {"a": 1, "c": 0}, False),
        ("a = 1 or b = 1 or c = 1", {"c": 1}, True),
    ],
)
def test_a_decided_side_settles_and_or_despite_missing_values(text, values, expected):
    assert evaluate(text, values) is expected


# --- Number types, dates and wrong types at runtime ---------------------------------------


@pytest.mark.parametrize(
    "text, value, expected",
    [
        ("temperature >= 37.5", 37.5, True),
        ("temperature >= 37.5", Decimal("37.5"), True),
        ("temperature >= 37.5", 38, True),
        ("temperature >= 37.5", Decimal("37.49"), False),
        ("temperature = 37.50", Decimal("37.5"), True),
        ("weight = 0.1", 0.1, True),
        ("weight = 0.3", 0.1 + 0.2, False),
        ("weight > 70", 70.000001, True),
        ("weight = 70", Decimal("70.0"), True),
        ("weight = 70", 70.0, True),
        ("weight < 70", float("-inf"), True),
        ("bmi < 18.5", Decimal("18.4"), True),
    ],
)
def test_ints_floats_and_decimals_compare_consistently(text, value, expected):
    name = text.split()[0]
    assert evaluate(text, {name: value}) is expected


def test_two_number_variables_of_different_python_types_compare():
    assert evaluate("a > b", {"a": Decimal("2.5"), "b": 2.4}) is True
    assert evaluate("a = b", {"a": 2, "b": Decimal("2.00")}) is True


@pytest.mark.parametrize(
    "text, value",
    [
        ("bp_systolic > 140", "150"),
        ("bp_systolic > 140", True),
        ("bp_systolic = 1", True),
        ("bp_systolic > 140", float("nan")),
        ("bp_systolic > 140", Decimal("NaN")),
        ("bp_systolic > 140", [150]),
        ("bp_systolic > 140", object()),
        ("breastfeeding = yes", 1),
        ("breastfeeding = yes", True),
        ('"psychosis" in psych_history', "psychosis"),
        ('"psych" in psych_history', "psychosis"),
        ('"psychosis" in psych_history', 42),
        ('"psychosis" in psych_history', {"psychosis": True}),
        ('"none" not in psych_history', "none"),
        ('sex_at_birth in ("female")', 3),
        ("last_dose < '2024-01-01'", "yesterday"),
        ("last_dose < '2024-01-01'", 20240101),
        ("notes < 'b'", "a"),
    ],
)
def test_value_of_the_wrong_type_is_unknown_not_an_error(text, value):
    name = next(iter(parse(text).names))
    assert evaluate(text, {name: value}) is None


@pytest.mark.parametrize(
    "text, value, expected",
    [
        ("last_dose < '2024-01-01'", date(2023, 12, 31), True),
        ("last_dose < '2024-01-01'", "2023-12-31", True),
        ("last_dose >= '2024-01-01'", "2023-12-31", False),
        ("last_dose = '2024-01-01'", date(2024, 1, 1), True),
        ("last_dose = '2024-01-01'", datetime(2024, 1, 1, 15, 30), True),
        ("'2024-01-01' > last_dose", date(2024, 1, 2), False),
    ],
)
def test_dates_compare_as_dates_whether_stored_as_date_or_iso_text(text, value, expected):
    assert evaluate(text, {"last_dose": value}) is expected


# --- Functions ----------------------------------------------------------------------------


def test_function_is_called_with_context_and_literal_args():
    calls = []

    def record(context, *args):
        calls.append((context, args))
        return True

    functions = {"check": FunctionSpec(("string", "number", "name"), record)}
    context = object()
    result = parse('check("maoi", 2.5, bp_systolic)').evaluate(
        {"bp_systolic": 150}, functions, context
    )
    assert result is True
    assert calls == [(context, ("maoi", Decimal("2.5"), 150))]


@pytest.mark.parametrize(
    "returned, expected", [(True, True), (False, False), (None, None), (1, True)]
)
def test_function_result_feeds_three_valued_logic(returned, expected):
    functions = {"check": FunctionSpec((), lambda context: returned)}
    assert parse("check()").evaluate({}, functions) is expected
    assert parse("not check()").evaluate({}, functions) is (
        None if expected is None else not expected
    )


def test_takes_function_uses_the_context_it_is_given():
    expression = parse('takes("maoi") and bp_systolic > 140')
    assert expression.is_true({"bp_systolic": 150}, FUNCTIONS, {"maoi"}) is True
    assert expression.is_true({"bp_systolic": 150}, FUNCTIONS, set()) is False


def test_calling_an_unregistered_function_raises_expression_error():
    with pytest.raises(ExpressionError, match="Unknown function"):
        parse('takes("maoi")').evaluate({}, {})


# --- Syntax errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message, column",
    [
        ("", "Empty expression", 1),
        ("   \t ", "Empty expression", 1),
        ("(a = 1 or b = 2", "Unclosed '('", 1),
        ("a = 1 and (b = 2", "Unclosed '('", 11),
        ('takes("x"', "Unclosed '('", 6),
        ('x in ("a", "b"', "Unclosed '('", 6),
        ("(a = 1 or b = 2))", "Unexpected ')'", 17),
        ("a = 1 and", "Unexpected end of expression", 10),
        ("a = 1 or", "Unexpected end of expression", 9),
        ("a =", "Unexpected end of expression", 4),
        ("not", "Unexpected end of expression", 4),
        ("a = 1 and or b = 1", "Unexpected 'or'", 11),
        ("a = 1 b = 2", "Unexpected 'b'", 7),
        ("a ; b", "Unexpected character ';'", 3),
        ("a = `b`", "Unexpected character '`'", 5),
        ("a = [1]", "Unexpected character '['", 5),
        ("a = {1}", "Unexpected character '{'", 5),
        ("a.b = 1", "Unexpected character '.'", 2),
        ("a = .5", "Unexpected character '.'", 5),
        ("a = 5.", "Unexpected character '.'", 6),
        ("a = 'abc", "Unclosed string (missing closing quote)", 5),
        ('a = "abc\\"', "Unclosed string (missing closing quote)", 5),
        ("a = 'a\\nb'", "Unsupported escape", 7),
        ("a = - 5", "Unexpected '-'", 5),
        ("a => 5", "Unexpected '=>' (did you mean '>='?)", 3),
        ("a ! b", "Unexpected '!'", 3),
        ("a = \u201cyes\u201d", "use straight quotes", 5),
        ("a = \x00", "Unexpected character 'U+0000'", 5),
        ("pregnant", '"pregnant" on its own is not a condition', 1),
        ("pregnant and b = 1", '"pregnant" on its own is not a condition', 1),
        ("(pregnant)", '"pregnant" on its own is not a condition', 2),
        ("yes", "The value yes on its own is not a condition", 1),
        ("1 < a < 3", "comparisons cannot be chained", 7),
        ("takes('x') = yes", "is already a condition", 12),
        ("a = takes('x')", "is already a condition", 3),
        ("a not = 1", "Unexpected 'not'", 3),
        ("a in ()", "Unexpected ')'", 7),
        ('a in ("x",)', "Unexpected ')'", 11),
        ("a in (b)", "Unexpected 'b'", 7),
        ("'x' in 'y'", "Unexpected ''y''", 8),
        ("f(g(x))", "Unexpected '('", 4),
        ("f(a = 1)", "Unexpected '='", 5),
        ("lambda: 1", "Unexpected character ':'", 7),
    ],
)
def test_syntax_error_names_the_problem_and_its_column(text, message, column):
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse(text)
    assert message in caught.value.message
    assert caught.value.position == column - 1
    assert str(caught.value).endswith(f" at column {column}")


def test_syntax_error_string_reads_as_message_and_column():
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse("(a = 1 or b = 2) )")
    assert str(caught.value) == "Unexpected ')' at column 18"


def test_syntax_error_becomes_a_single_problem_in_validate():
    assert validate("(bp_systolic > 1", VARIABLES) == [Problem("Unclosed '(' at column 1", 0)]


# --- Hostile input ------------------------------------------------------------------------

HOSTILE = [
    '__import__("os")',
    "__import__('os').system('ls')",
    'open("/etc/passwd")',
    "().__class__",
    "lambda: 1",
    "exec('print(1)')",
    "eval('1')",
    "a = 1; import os",
    "(" * 5000,
    "(" * 10_000 + "a = 1" + ")" * 10_000,
    "(" * 900 + "a = 1" + ")" * 900,
    "not " * 450 + "a = 1",
    '"' + "a" * 9_998 + '"',
    "a = 1 and " * 300 + "a = 1",
    "a = '\\",
    "\\",
    "\u202e a = 1",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_is_refused_without_executing_anything(text, monkeypatch):
    sentinel_calls = []
    original_import = builtins.__import__

    def spy_import(name, *args, **kwargs):
        if name == "os":
            sentinel_calls.append(("import", name))
        return original_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", spy_import)
    monkeypatch.setattr(
        builtins, "open", lambda *args, **kwargs: sentinel_calls.append(("open", args))
    )
    sentinel = FunctionSpec(("string",), lambda *a: sentinel_calls.append(a) or True)
    functions = {"system": sentinel}

    problems = validate(text, VARIABLES, functions)
    try:
        expression = parse(text)
    except ExpressionSyntaxError:
        expression = None
    if expression is not None:
        with pytest.raises(ExpressionError):
            expression.evaluate({"a": 1}, functions)
    monkeypatch.undo()

    assert problems, "hostile input must be reported as a problem"
    assert sentinel_calls == []


@pytest.mark.parametrize(
    "text, column",
    [
        ("(" * 41 + "a = 1" + ")" * 41, 41),
        ("not " * 41 + "a = 1", 161),
        ("(" * 900, 41),
    ],
)
def test_nesting_deeper_than_forty_levels_is_a_syntax_error(text, column):
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse(text)
    assert "nested too deeply" in caught.value.message
    assert caught.value.position == column - 1


def test_nesting_of_exactly_forty_levels_is_allowed():
    assert evaluate("(" * 40 + "a = 1" + ")" * 40, {"a": 1}) is True
    assert evaluate("not " * 40 + "a = 1", {"a": 1}) is True


@pytest.mark.parametrize("length, allowed", [(2000, True), (2001, False)])
def test_text_longer_than_two_thousand_characters_is_refused(length, allowed):
    text = "a = '" + "x" * (length - 6) + "'"
    assert len(text) == length
    if allowed:
        assert parse(text).evaluate({"a": "x" * (length - 6)}) is True
    else:
        with pytest.raises(ExpressionSyntaxError, match="too long"):
            parse(text)


def test_long_and_chain_evaluates_without_deep_recursion():
    text = " and ".join(f"a{i}=1" for i in range(180))
    assert len(text) <= 2000
    values = {f"a{i}": 1 for i in range(180)}
    assert evaluate(text, values) is True
    assert evaluate(text, {**values, "a179": 0}) is False


def test_random_garbage_only_ever_raises_expression_syntax_error():
    pieces = [
        "a", "b_1", "yes", "no", "not", "and", "or", "in", "=", "==", "!=", "<",
        "<=", ">", ">=", "(", ")", ",", "'x'", '"y"', "3", "-2", "4.5", " ", "f(",
        ".", ";", "[", "\\", "'", '"', "!", "-", "`", "__import__", "\u00e9",
    ]  # fmt: skip
    generator = random.Random(20240601)
    parsed = 0
    for _ in range(3000):
        text = "".join(generator.choices(pieces, k=generator.randint(1, 25)))
        assert isinstance(validate(text, VARIABLES, FUNCTIONS), list)
        try:
            expression = parse(text)
        except ExpressionSyntaxError:
            continue
        parsed += 1
        # Whatever parses must evaluate to a three-valued result or a clean error.
        try:
            result = expression.evaluate({"a": 1, "b_1": "x"}, FUNCTIONS, set())
        except ExpressionError:
            continue
        assert result in (True, False, None)
    # Random pieces seldom parse (a handful in 3000): the next test evaluates well-formed ones.
    assert parsed >= 1


# Kleene's three-valued logic, written independently of the engine: "unknown" is None.
def _all_of(*values):
    return False if False in values else None if None in values else True


def _any_of(*values):
    return True if True in values else None if None in values else False


RANDOM_VALUES = {"a": 1, "b_1": "x", "m": ["x"]}  # and c, never answered
COMPARISONS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def random_expression(generator: random.Random, depth: int = 0) -> tuple[str, bool | None]:
    """A well-formed expression and the value it must have, given RANDOM_VALUES."""
    if depth >= 3 or generator.random() < 0.35:
        symbol = generator.choice(["=", "!=", "<", "<=", ">", ">="])
        number = generator.randint(-1, 3)
        text = generator.choice(["x", "y"])
        return generator.choice(
            [
                (f"a {symbol} {number}", COMPARISONS[symbol](1, number)),
                (f"b_1 = {text!r}", text == "x"),
                (f"b_1 != {text!r}", text != "x"),
                (f'"{text}" in m', text == "x"),
                (f"c {symbol} {number}", None),
                (f'"{text}" in c', None),
            ]
        )
    (left, left_value), (right, right_value) = (
        random_expression(generator, depth + 1),
        random_expression(generator, depth + 1),
    )
    return generator.choice(
        [
            (f"({left}) and ({right})", _all_of(left_value, right_value)),
            (f"({left}) or ({right})", _any_of(left_value, right_value)),
            (f"not ({left})", None if left_value is None else not left_value),
        ]
    )


def test_random_expressions_follow_three_valued_logic():
    """2,000 random expressions, each evaluated by the engine and by Kleene's tables above."""
    generator = random.Random(20240602)
    seen = set()
    for _ in range(2000):
        text, expected = random_expression(generator)
        assert parse(text).evaluate(RANDOM_VALUES, FUNCTIONS, set()) is expected, text
        seen.add(expected)
    assert seen == {True, False, None}  # each value really came up


# --- Validation messages ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "bp_sistolic >= 160",
            [
                Problem(
                    'Unknown question code "bp_sistolic" at column 1. Did you mean "bp_systolic"?',
                    0,
                )
            ],
        ),
        (
            "BP_SYSTOLIC >= 160",
            [
                Problem(
                    'Unknown question code "BP_SYSTOLIC" at column 1. Did you mean "bp_systolic"?',
                    0,
                )
            ],
        ),
        (
            "zzz = 1",
            [Problem('Unknown question code "zzz" at column 1.', 0)],
        ),
        (
            "bp_systolic = yes",
            [
                Problem(
                    'Cannot compare "bp_systolic" (a number) with yes at column 15.'
                    " Use a number, e.g. bp_systolic = 10.",
                    14,
                )
            ],
        ),
        (
            'bp_systolic > "high"',
            [
                Problem(
                    'Cannot compare "bp_systolic" (a number) with "high" at column 15.'
                    " Use a number, e.g. bp_systolic > 10.",
                    14,
                )
            ],
        ),
        (
            'breastfeeding = "maybe"',
            [
                Problem(
                    'Cannot compare "breastfeeding" (a yes/no answer) with "maybe"'
                    " at column 17. Use yes or no.",
                    16,
                )
            ],
        ),
        (
            'sex_at_birth = "other"',
            [
                Problem(
                    'Unknown value "other" for "sex_at_birth" at column 16.'
                    ' Allowed values: "female", "intersex", "male".',
                    15,
                )
            ],
        ),
        (
            'cv_conditions = "none"',
            [
                Problem(
                    'Cannot use "=" on "cv_conditions" (a multiple-choice answer) at'
                    ' column 1. Use "value" in cv_conditions instead.',
                    0,
                )
            ],
        ),
        (
            '"psycosis" in psych_history',
            [
                Problem(
                    'Unknown value "psycosis" for "psych_history" at column 1.'
                    ' Allowed values: "bipolar", "none", "psychosis".',
                    0,
                )
            ],
        ),
        (
            '"female" in sex_at_birth',
            [
                Problem(
                    'Cannot use "in" with "sex_at_birth" (a single-choice answer) at'
                    " column 13. Only multiple-choice answers hold several values;"
                    ' use sex_at_birth = "value" or sex_at_birth in ("a", "b").',
                    12,
                )
            ],
        ),
        (
            "breastfeeding > 1",
            [
                Problem(
                    'Cannot use ">" on "breastfeeding" (a yes/no answer) at column 1.'
                    " Only numbers and dates can be compared with <, <=, > or >=.",
                    0,
                )
            ],
        ),
        (
            'medications = "x"',
            [
                Problem(
                    'Cannot compare "medications" (a list) at column 1.'
                    " Lists can only be passed to a function.",
                    0,
                )
            ],
        ),
        (
            "1 = 1",
            [
                Problem(
                    "Comparison of two fixed values (1 and 1) at column 1."
                    " One side should be a question code.",
                    0,
                )
            ],
        ),
        (
            "breastfeeding = bp_systolic",
            [
                Problem(
                    'Cannot compare "breastfeeding" (a yes/no answer) with'
                    ' "bp_systolic" (a number) at column 15.',
                    14,
                )
            ],
        ),
        (
            "last_dose > 'soon'",
            [
                Problem(
                    'Cannot compare "last_dose" (a date) with "soon" at column 13.'
                    ' Write the date as "YYYY-MM-DD".',
                    12,
                )
            ],
        ),
        (
            "notes = 3",
            [
                Problem(
                    'Cannot compare "notes" (a text answer) with the number 3 at'
                    ' column 9. Use a quoted value, e.g. "3".',
                    8,
                )
            ],
        ),
        (
            "psych_history in ('none')",
            [
                Problem(
                    'Cannot use "in (...)" on "psych_history" (a multiple-choice'
                    ' answer) at column 1. Use "value" in psych_history instead.',
                    0,
                )
            ],
        ),
    ],
)
def test_validator_explains_what_is_wrong_and_where(text, expected):
    assert validate(text, VARIABLES, FUNCTIONS) == expected


@pytest.mark.parametrize(
    "text",
    [
        "age < 18",
        "bp_systolic = bp_diastolic",
        "bp_systolic > bp_diastolic",
        "breastfeeding = elevated_mood_now",
        "last_dose >= '2024-02-29'",
        'notes != "n/a"',
        "phq9_total in (20, 21, 22)",
        "breastfeeding in (yes, no)",
        'notes in ("a", "b")',
        'not "none" in cv_conditions',
        "dose_above(medications, 50)",
    ],
)
def test_validator_accepts_well_typed_expressions(text):
    variables = {**VARIABLES, "age": VariableType(VariableKind.NUMBER)}
    assert validate(text, variables, FUNCTIONS) == []


def test_validator_reports_every_problem_in_text_order():
    text = 'bp_sistolic > 1 and sex_at_birth = "x" or "y" in cv_conditions'
    problems = validate(text, VARIABLES, FUNCTIONS)
    assert [problem.position for problem in problems] == [0, 35, 42]
    assert problems[0].message.startswith('Unknown question code "bp_sistolic"')
    assert problems[1].message.startswith('Unknown value "x" for "sex_at_birth"')
    assert problems[2].message.startswith('Unknown value "y" for "cv_conditions"')


def test_validator_checks_each_option_of_an_in_list():
    problems = validate('sex_at_birth in ("female", "f", 3)', VARIABLES)
    assert [problem.position for problem in problems] == [27, 32]
    assert problems[0].message.startswith('Unknown value "f" for "sex_at_birth"')
    assert "with the number 3" in problems[1].message


def test_choice_without_listed_values_accepts_any_string():
    variables = {"colour": VariableType(VariableKind.CHOICE)}
    assert validate('colour = "teal"', variables) == []
    assert validate("colour = 3", variables) != []


# --- Function validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ('takes("maoi")', []),
        (
            'takes("statin")',
            [Problem('Unknown medication class "statin"', 6)],
        ),
        (
            'bp_systolic > 1 and takes("statin")',
            [Problem('Unknown medication class "statin"', 26)],
        ),
        (
            'taks("maoi")',
            [Problem('Unknown function "taks" at column 1. Did you mean "takes"?', 0)],
        ),
        (
            'open("/etc/passwd")',
            [Problem('Unknown function "open" at column 1.', 0)],
        ),
        (
            'takes("maoi", "ssri")',
            [
                Problem(
                    'Function "takes" at column 1 expects 1 argument but was given 2.',
                    0,
                )
            ],
        ),
        (
            "dose_above(medications)",
            [
                Problem(
                    'Function "dose_above" at column 1 expects 2 arguments but was given 1.',
                    0,
                )
            ],
        ),
        (
            "takes(maoi)",
            [
                Problem('Argument 1 of "takes" at column 7 must be a quoted value.', 6),
                Problem('Unknown question code "maoi" at column 7.', 6),
            ],
        ),
        (
            "takes(3)",
            [Problem('Argument 1 of "takes" at column 7 must be a quoted value.', 6)],
        ),
        (
            'dose_above("meds", "x")',
            [
                Problem(
                    'Argument 1 of "dose_above" at column 12 must be a question code.',
                    11,
                ),
                Problem('Argument 2 of "dose_above" at column 20 must be a number.', 19),
            ],
        ),
        (
            "dose_above(medicatons, 5)",
            [
                Problem(
                    'Unknown question code "medicatons" at column 12. Did you mean "medications"?',
                    11,
                )
            ],
        ),
    ],
)
def test_validator_checks_function_names_and_arguments(text, expected):
    assert validate(text, VARIABLES, FUNCTIONS) == expected


def test_all_calls_are_unknown_when_no_functions_are_registered():
    assert validate('takes("maoi")', VARIABLES) == [
        Problem('Unknown function "takes" at column 1.', 0)
    ]


def test_validate_never_raises_even_if_describe_args_fails():
    def broken(args):
        raise RuntimeError("boom")

    functions = {"takes": FunctionSpec(("string",), _takes, broken)}
    problems = validate('takes("maoi")', VARIABLES, functions)
    assert len(problems) == 1
    assert "boom" in problems[0].message


def test_describe_args_is_not_called_when_argument_kinds_are_wrong():
    seen = []
    functions = {"takes": FunctionSpec(("string",), _takes, seen.append)}
    validate("takes(3)", VARIABLES, functions)
    assert seen == []


# --- The Expression object ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, names, calls",
    [
        ("bp_systolic > 1", {"bp_systolic"}, ()),
        (
            'takes("maoi") or takes("ssri")',
            set(),
            (("takes", ("maoi",)), ("takes", ("ssri",))),
        ),
        (
            "dose_above(medications, 2.5) and not bp_systolic > bp_diastolic",
            {"medications", "bp_systolic", "bp_diastolic"},
            (("dose_above", ("medications", Decimal("2.5"))),),
        ),
        (
            '"none" in cv_conditions or sex_at_birth in ("female")',
            {"cv_conditions", "sex_at_birth"},
            (),
        ),
        ("a = 1 and a = 2", {"a"}, ()),
    ],
)
def test_names_and_function_calls_describe_what_the_expression_uses(text, names, calls):
    expression = parse(text)
    assert expression.names == frozenset(names)
    assert expression.function_calls == calls
    assert expression.text == text


def test_parse_is_cached_and_the_result_is_immutable():
    expression = parse("bp_systolic > 140")
    assert parse("bp_systolic > 140") is expression
    assert isinstance(expression, Expression)
    with pytest.raises(dataclasses.FrozenInstanceError):
        expression.text = "bp_systolic > 1"  # type: ignore[misc]


def test_is_true_only_counts_true():
    expression = parse("bp_systolic > 140")
    assert expression.is_true({"bp_systolic": 150}) is True
    assert expression.is_true({"bp_systolic": 130}) is False
    assert expression.is_true({}) is False
