"""Editing a parsed label expression (issue 12): ``add_term``, ``remove_term``,
``negate_term``, ``or_value`` and ``and_prefix``, as properties against the grammar
(``parse_expression`` / ``to_text``) and as plain examples.

Trees compared with ``==`` are canonical ones (what ``parse_expression`` returns: no And
directly inside an And, no Or directly inside an Or); the random trees of
``tests.test_query_properties`` are not, so they are made canonical first where a property
compares trees (``canonical``), and compared by text where it does not need to."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from executions.labels import LabelError, validate_key
from executions.query import (
    And,
    AttributeTerm,
    LabelTerm,
    Node,
    Not,
    Or,
    QueryError,
    add_term,
    and_operand_text,
    and_prefix,
    conjuncts,
    negate_term,
    or_key,
    or_value,
    parse_expression,
    remove_term,
    to_text,
)
from tests.test_query_properties import KEYS, PHASES, USERS, VALUES, WORKFLOWS, evaluate
from tests.test_query_properties import expressions as raw_expressions
from tests.test_query_properties import labels as sampled_labels

# --- strategies ------------------------------------------------------------------------------


def _valid_key(key: str) -> bool:
    try:
        validate_key(key)
    except LabelError:
        return False
    return True


_names = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,8}[A-Za-z0-9])?", fullmatch=True)
keys = (
    st.sampled_from([*KEYS, "and", "OR", "Not", "x.io/and"])
    | _names
    | st.builds("{}/{}".format, st.sampled_from(["x.io", "a-b.example.com"]), _names)
).filter(_valid_key)
# A bare key that is an operator word ("not") has no text that parses back to it: label
# chips always carry a value, so bare keys are drawn without the operator words.
bare_keys = keys.filter(lambda key: key.lower() not in ("and", "or", "not"))
values = st.sampled_from(VALUES) | st.text(max_size=12)
# What a row's label chip adds: key:value (values may be empty, quoted, unicode, keywords).
chip_terms = st.builds(LabelTerm, keys, values)
label_terms = chip_terms | st.builds(LabelTerm, bare_keys)
# Terms the filter bar may add: labels, their negations, attributes, ORs of one key.
added_terms = (
    label_terms
    | st.builds(Not, label_terms)
    | st.builds(AttributeTerm, st.just("phase"), st.sampled_from(["failed", "running"]))
    | st.builds(
        lambda key, vs: Or(tuple(LabelTerm(key, v) for v in vs)),
        keys,
        st.lists(values, min_size=2, max_size=3, unique=True),
    )
)
# Expressions whose leaves come from the wider label strategy as well as the shared one.
leaves = label_terms | sampled_labels
wide_expressions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.lists(inner, min_size=2, max_size=4).map(lambda items: And(tuple(items))),
        st.lists(inner, min_size=2, max_size=4).map(lambda items: Or(tuple(items))),
    ),
    max_leaves=8,
)
any_expressions = st.none() | raw_expressions | wide_expressions
# Rows for ``evaluate`` (the meaning of an expression, from tests.test_query_properties).
row_lists = st.lists(
    st.builds(
        SimpleNamespace,
        labels=st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES)),
        phase=st.sampled_from(PHASES),
        launched_by=st.sampled_from(USERS),
        workflow=st.sampled_from(WORKFLOWS),
    ),
    min_size=1,
    max_size=5,
)


def canonical(node: Node | None) -> Node | None:
    """The tree the expression's text parses to (nested Ands and Ors flattened)."""
    return parse_expression(to_text(node))


def round_trips(node: Node | None) -> bool:
    return parse_expression(to_text(node)) == node


PROPERTY = settings(max_examples=300, deadline=None)

# --- properties: add_term --------------------------------------------------------------------


@PROPERTY
@given(expression=any_expressions, term=added_terms)
def test_an_added_term_round_trips_through_the_text(expression, term):
    base = canonical(expression)
    added = add_term(base, term)
    assert round_trips(added), to_text(added)
    # A non-canonical tree gives the same text as its canonical form (where the term is an
    # ANDed term of both or of neither: a nested And hides its terms from ``conjuncts``).
    if (term in conjuncts(expression)) == (term in conjuncts(base)):
        assert to_text(canonical(add_term(expression, term))) == to_text(added)


@PROPERTY
@given(expression=any_expressions, term=added_terms)
def test_an_added_term_is_one_of_the_conjuncts(expression, term):
    assert term in conjuncts(add_term(expression, term))
    assert term in conjuncts(add_term(canonical(expression), term))


@PROPERTY
@given(expression=any_expressions, term=added_terms)
def test_adding_a_term_twice_is_adding_it_once(expression, term):
    once = add_term(expression, term)
    assert add_term(once, term) == once


@PROPERTY
@given(expression=any_expressions, term=added_terms)
def test_adding_a_term_already_anded_changes_nothing(expression, term):
    base = canonical(add_term(canonical(expression), term))
    assert add_term(base, term) is base


@PROPERTY
@given(expression=any_expressions, term=added_terms)
def test_adding_a_term_appends_it_after_the_others(expression, term):
    base = canonical(expression)
    assume(term not in conjuncts(base))
    assert conjuncts(add_term(base, term)) == [*conjuncts(base), term]


@PROPERTY
@given(expression=any_expressions, term=added_terms)
def test_removing_the_added_term_gives_back_the_expression(expression, term):
    base = canonical(expression)
    assume(term not in conjuncts(base))
    last = len(conjuncts(base))
    assert remove_term(add_term(base, term), last) == base
    # On a non-canonical tree (nested Ands, which each edit flattens a level of): the same
    # text.
    if term not in conjuncts(expression):
        added = add_term(expression, term)
        restored = remove_term(added, len(conjuncts(added)) - 1)
        assert to_text(restored) == to_text(expression)


@PROPERTY
@given(
    expression=any_expressions,
    term=added_terms,
    rows=row_lists,
)
def test_an_added_term_narrows_the_expression_by_that_term(expression, term, rows):
    for row in rows:
        before = expression is None or evaluate(expression, row)
        assert evaluate(add_term(expression, term), row) == (before and evaluate(term, row))


# --- properties: the text of a chip's link (and_prefix) -------------------------------------


@PROPERTY
@given(expression=any_expressions, term=label_terms | st.builds(Not, label_terms))
def test_a_chips_text_is_the_text_of_add_term(expression, term):
    assume(term not in conjuncts(expression))
    assert added_text(expression, term) == to_text(add_term(expression, term))
    base = canonical(expression)
    assume(term not in conjuncts(base))
    text = added_text(base, term)
    assert text == to_text(add_term(base, term))
    assert parse_expression(text) == add_term(base, term)


@PROPERTY
@given(expression=any_expressions, term=added_terms)
def test_a_chips_text_means_add_term_for_any_term(expression, term):
    """For an OR added to no expression the chip's text keeps its parentheses, ``(a or b)``,
    where ``to_text`` writes ``a or b``: the same tree."""
    base = canonical(expression)
    assume(term not in conjuncts(base))
    assert parse_expression(added_text(base, term)) == add_term(base, term)


@PROPERTY
@given(expression=any_expressions, terms=st.lists(chip_terms, min_size=1, max_size=5))
def test_one_prefix_serves_many_terms(expression, terms):
    prefix = and_prefix(expression)
    for term in terms:
        if term not in conjuncts(expression):
            assert prefix + and_operand_text(term) == to_text(add_term(expression, term))


def added_text(expression, term) -> str:
    """The text the page writes into a chip's link: the expression's prefix, then the term."""
    return and_prefix(expression) + and_operand_text(term)


# --- properties: remove_term -----------------------------------------------------------------


@PROPERTY
@given(expression=any_expressions, data=st.data())
def test_removing_a_term_leaves_the_other_terms_in_order(expression, data):
    base = canonical(expression)
    terms = conjuncts(base)
    assume(terms)
    index = data.draw(st.integers(0, len(terms) - 1))
    removed = remove_term(base, index)
    assert conjuncts(removed) == terms[:index] + terms[index + 1 :]
    assert round_trips(removed)


# --- properties: negate_term -----------------------------------------------------------------


def _undone_by_negating_twice(term: Node) -> bool:
    """Whether negating the term twice gives it back. Not for ``not (a and b)``: including it
    (removing its ``not``) makes ``a`` and ``b`` terms of the whole AND, so it is no longer one
    term to negate back; nor for ``not not a``, which becomes ``not a`` and then ``a``."""
    return not isinstance(term, Not) or not isinstance(term.item, And | Not)


@PROPERTY
@given(expression=any_expressions, data=st.data())
def test_negating_a_term_twice_gives_back_the_expression(expression, data):
    base = canonical(expression)
    terms = conjuncts(base)
    assume(terms)
    index = data.draw(st.integers(0, len(terms) - 1))
    assume(_undone_by_negating_twice(terms[index]))
    once = negate_term(base, index)
    assert round_trips(once), to_text(once)
    assert negate_term(once, index) == base


@PROPERTY
@given(expression=any_expressions, data=st.data(), rows=row_lists)
def test_negating_a_term_selects_the_rows_that_fail_only_that_term(expression, data, rows):
    terms = conjuncts(expression)
    assume(terms)
    index = data.draw(st.integers(0, len(terms) - 1))
    negated = negate_term(expression, index)
    for row in rows:
        others = all(evaluate(term, row) for i, term in enumerate(terms) if i != index)
        assert evaluate(negated, row) == (others and not evaluate(terms[index], row))


@PROPERTY
@given(expression=any_expressions, data=st.data())
def test_negating_a_term_changes_that_term_only(expression, data):
    base = canonical(expression)
    terms = conjuncts(base)
    assume(terms)
    index = data.draw(st.integers(0, len(terms) - 1))
    term = terms[index]
    negated = negate_term(base, index)
    assert round_trips(negated), to_text(negated)
    if isinstance(term, Not):
        inner = conjuncts(term.item) if isinstance(term.item, And) else [term.item]
        assert conjuncts(negated) == terms[:index] + inner + terms[index + 1 :]
    else:
        assert conjuncts(negated) == [*terms[:index], Not(term), *terms[index + 1 :]]


# --- properties: or_value --------------------------------------------------------------------


@PROPERTY
@given(expression=any_expressions, term=chip_terms, other=values, data=st.data())
def test_oring_a_new_value_makes_an_or_of_both_values_that_round_trips(
    expression, term, other, data
):
    assume(other != term.value)
    base = add_term(canonical(expression), term)
    index = conjuncts(base).index(term)
    ored = or_value(base, index, other)
    terms = conjuncts(ored)
    assert terms[index] == Or((term, LabelTerm(term.key, other)))
    assert (
        terms[:index] + terms[index + 1 :] == conjuncts(base)[:index] + conjuncts(base)[index + 1 :]
    )
    assert or_key(terms[index]) == term.key
    assert round_trips(ored), to_text(ored)
    # ORing a third value extends the same Or.
    third = data.draw(values.filter(lambda v: v not in (term.value, other)))
    again = or_value(ored, index, third)
    assert conjuncts(again)[index] == Or(
        (term, LabelTerm(term.key, other), LabelTerm(term.key, third))
    )
    assert round_trips(again), to_text(again)


@PROPERTY
@given(expression=any_expressions, data=st.data())
def test_or_value_on_a_term_that_is_not_key_value_is_a_400(expression, data):
    base = canonical(expression)
    terms = conjuncts(base)
    assume(terms)
    index = data.draw(st.integers(0, len(terms) - 1))
    assume(or_key(terms[index]) is None)
    with pytest.raises(QueryError) as error:
        or_value(base, index, "x")
    assert error.value.status == 400


# --- properties: indexes out of range --------------------------------------------------------


@PROPERTY
@given(
    expression=any_expressions,
    beyond=st.integers(0, 5),
    edit=st.sampled_from(["remove", "negate", "or"]),
)
def test_an_index_out_of_range_is_a_400_for_every_edit(expression, beyond, edit):
    count = len(conjuncts(expression))
    for index in (count + beyond, -1 - beyond):
        with pytest.raises(QueryError) as error:
            if edit == "remove":
                remove_term(expression, index)
            elif edit == "negate":
                negate_term(expression, index)
            else:
                or_value(expression, index, "x")
        assert error.value.status == 400
        assert error.value.message


# --- examples --------------------------------------------------------------------------------

T = LabelTerm


def test_adding_to_an_empty_expression_gives_the_term_alone():
    assert add_term(None, T("team", "nlp")) == T("team", "nlp")
    assert added_text(None, T("team", "nlp")) == "team:nlp"


def test_adding_to_a_single_term_makes_an_and_of_two():
    assert add_term(T("team", "nlp"), T("model", "bert")) == And(
        (T("team", "nlp"), T("model", "bert"))
    )


def test_adding_to_an_or_keeps_the_or_in_parentheses():
    expression = parse_expression("team:a or team:b")
    added = add_term(expression, T("model", "bert"))
    assert to_text(added) == "(team:a or team:b) and model:bert"
    assert added_text(expression, T("model", "bert")) == "(team:a or team:b) and model:bert"


def test_adding_a_term_that_is_already_anded_changes_nothing():
    expression = parse_expression("team:nlp and model:bert")
    assert add_term(expression, T("model", "bert")) is expression


def test_adding_a_term_that_is_only_inside_an_or_still_ands_it():
    expression = parse_expression("team:a or team:b")
    assert to_text(add_term(expression, T("team", "a"))) == "(team:a or team:b) and team:a"


def test_an_added_value_with_spaces_or_quotes_is_quoted():
    added = add_term(parse_expression("team:nlp"), T("note", 'lr "sweep" 3'))
    assert to_text(added) == 'team:nlp and note:"lr \\"sweep\\" 3"'
    assert parse_expression(to_text(added)) == added


def test_an_added_value_that_is_an_operator_word_is_quoted():
    added = add_term(None, T("model", "or"))
    assert to_text(added) == 'model:"or"'
    assert parse_expression(to_text(added)) == added


def test_an_added_empty_value_is_written_as_empty_quotes():
    assert to_text(add_term(T("a"), T("b", ""))) == 'a and b:""'


def test_removing_the_only_term_leaves_no_expression():
    assert remove_term(parse_expression("team:nlp"), 0) is None


def test_removing_one_of_two_terms_leaves_the_other_alone():
    assert remove_term(parse_expression("team:nlp and model:bert"), 0) == T("model", "bert")


def test_removing_a_middle_term_keeps_the_order_of_the_rest():
    expression = parse_expression("a and (b or c) and not d")
    assert to_text(remove_term(expression, 1)) == "a and not d"


def test_negating_a_term_puts_not_before_it():
    expression = parse_expression("team:nlp and model:bert")
    assert to_text(negate_term(expression, 1)) == "team:nlp and not model:bert"


def test_negating_an_or_negates_it_as_a_whole():
    expression = parse_expression("x and (team:a or team:b)")
    assert to_text(negate_term(expression, 1)) == "x and not (team:a or team:b)"
    assert negate_term(negate_term(expression, 1), 1) == expression


def test_negating_a_negated_term_removes_its_not():
    expression = parse_expression("team:nlp and not release")
    assert to_text(negate_term(expression, 1)) == "team:nlp and release"


def test_including_a_negated_group_makes_its_terms_terms_of_the_whole():
    expression = parse_expression("x and not (a and b)")
    included = negate_term(expression, 1)
    assert included == parse_expression("x and a and b")
    assert conjuncts(included) == [T("x"), T("a"), T("b")]


def test_oring_a_value_makes_an_or_of_the_two_values():
    expression = parse_expression("team:a and x")
    ored = or_value(expression, 0, "b")
    assert ored == And((Or((T("team", "a"), T("team", "b"))), T("x")))
    assert to_text(ored) == "(team:a or team:b) and x"


def test_oring_a_third_value_extends_the_or():
    expression = parse_expression("(team:a or team:b) and x")
    assert to_text(or_value(expression, 0, "c")) == "(team:a or team:b or team:c) and x"


def test_oring_a_value_the_or_already_has_changes_nothing():
    expression = parse_expression("(team:a or team:b) and x")
    assert or_value(expression, 0, "a") == expression


def test_oring_the_value_a_term_already_has_changes_nothing():
    """A ``k:v`` ORed with ``v`` again is still ``k:v``: not a one-item Or, which has no text
    of its own (``(team:a)`` parses to ``team:a``)."""
    expression = parse_expression("team:a and x")
    ored = or_value(expression, 0, "a")
    assert parse_expression(to_text(ored)) == ored
    assert ored == expression


def test_oring_a_value_with_spaces_quotes_it():
    ored = or_value(parse_expression("name:base"), 0, "lr sweep 3")
    assert to_text(ored) == 'name:base or name:"lr sweep 3"'
    assert parse_expression(to_text(ored)) == ored


@pytest.mark.parametrize(
    "text",
    ["release", "not team:a", "@phase:FAILED", "team:a or model:b", "team:a or team", "(a and b)"],
)
def test_oring_a_value_onto_a_term_that_is_not_key_value_is_refused(text):
    with pytest.raises(QueryError) as error:
        or_value(parse_expression(f"x:y and ({text})"), 1, "v")
    assert error.value.status == 400


@pytest.mark.parametrize("edit", [remove_term, negate_term])
def test_an_edit_of_a_chip_that_no_longer_exists_is_a_400(edit):
    expression = parse_expression("team:a and x")
    for index in (2, 5, -1):
        with pytest.raises(QueryError) as error:
            edit(expression, index)
        assert error.value.status == 400
    with pytest.raises(QueryError):
        edit(None, 0)


def test_or_value_on_a_chip_that_no_longer_exists_is_a_400():
    with pytest.raises(QueryError) as error:
        or_value(parse_expression("team:a"), 1, "b")
    assert error.value.status == 400
    with pytest.raises(QueryError):
        or_value(None, 0, "b")


def test_a_chips_prefix_is_the_expression_written_once_for_many_chips():
    expression = parse_expression("team:nlp and (model:a or model:b)")
    assert and_prefix(expression) == "team:nlp and (model:a or model:b) and "
    assert added_text(expression, T("note", "x y")) == (
        'team:nlp and (model:a or model:b) and note:"x y"'
    )
