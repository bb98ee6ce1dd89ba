"""Property: for any expression, the SQL the query model builds selects exactly the
executions a plain Python evaluation of the same expression selects (SQLite and PostgreSQL)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from executions.models import Execution, Phase
from executions.planner import Plan
from executions.query import (
    And,
    AttributeTerm,
    LabelTerm,
    ListQuery,
    Node,
    Not,
    Or,
    QueryError,
    parse_expression,
    to_text,
)
from tests.factories import ProjectFactory, make_execution

KEYS = ["team", "model", "experiment", "x.io/tag"]
VALUES = ["nlp", "bert", "lr sweep 3", "Zürich", "a:b", "", 'say "hi"', "or"]
USERS = ["anne", "bob"]
PHASES = [Phase.SUCCEEDED, Phase.FAILED, Phase.RUNNING]
WORKFLOWS = ["train.wf", "eval.wf"]


def evaluate(node: Node, row: Execution) -> bool:
    """The meaning of an expression, independent of the SQL translation."""
    if isinstance(node, LabelTerm):
        return node.key in row.labels and (node.value is None or row.labels[node.key] == node.value)
    if isinstance(node, AttributeTerm):
        field = {"phase": "phase", "user": "launched_by", "workflow": "workflow"}[node.name]
        expected = node.value.upper() if node.name == "phase" else node.value
        return getattr(row, field) == expected
    if isinstance(node, Not):
        return not evaluate(node.item, row)
    if isinstance(node, And):
        return all(evaluate(item, row) for item in node.items)
    return any(evaluate(item, row) for item in node.items)


labels = st.builds(LabelTerm, st.sampled_from(KEYS), st.none() | st.sampled_from(VALUES))
attributes = st.one_of(
    st.builds(AttributeTerm, st.just("phase"), st.sampled_from([p.lower() for p in PHASES])),
    st.builds(AttributeTerm, st.just("user"), st.sampled_from(USERS)),
    st.builds(AttributeTerm, st.just("workflow"), st.sampled_from(WORKFLOWS)),
)
expressions = st.recursive(
    labels | attributes,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.lists(inner, min_size=2, max_size=4).map(lambda items: And(tuple(items))),
        st.lists(inner, min_size=2, max_size=4).map(lambda items: Or(tuple(items))),
    ),
    max_leaves=8,
)


@pytest.fixture
def population(project):
    """Forty executions with a deterministic spread of labels, phases, users and workflows,
    plus one in another project that must never match."""
    rng = random.Random(20260101)
    for _ in range(40):
        chosen = {key: rng.choice(VALUES) for key in rng.sample(KEYS, rng.randint(0, len(KEYS)))}
        execution = make_execution(
            project,
            labels=chosen,
            launched_by=rng.choice(USERS),
            workflow=rng.choice(WORKFLOWS),
        )
        Execution.objects.filter(pk=execution.pk).update(phase=rng.choice(PHASES))
    make_execution(ProjectFactory(slug="elsewhere"), labels={key: "nlp" for key in KEYS})
    return list(Execution.objects.in_project(project))


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(expression=expressions)
def test_sql_matches_python_evaluation(project, population, expression):
    text = to_text(expression)
    query = ListQuery.from_params({"q": text})
    executions = Execution.objects.in_project(project)
    selected = set(
        query.filter(executions, Plan(project_id=project.pk)).values_list("pk", flat=True)
    )
    expected = {row.pk for row in population if evaluate(expression, row)}
    assert selected == expected, text


@settings(max_examples=200, deadline=None)
@given(expression=expressions)
def test_canonical_text_means_the_same_expression(expression):
    """Printing and parsing back may flatten nested ANDs and ORs but never changes meaning:
    the parsed tree prints to the same text."""
    text = to_text(expression)
    assert to_text(parse_expression(text)) == text


query_text = st.lists(
    st.sampled_from([*'ab:@"() \\-_.,+;/é09', "and", "or", "not", "@phase", "@release"]),
    max_size=30,
).map("".join)
filter_text = st.builds(
    "{}({},{}){}".format,
    st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "contains", "value_in", "xx"]),
    st.sampled_from(["phase", "duration", "created_at", "workflow.name", "mode", "user", "x"]),
    st.text(max_size=25),
    st.sampled_from(["", "+eq(phase,RUNNING)", "+", ")"]),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(q=query_text, filters=filter_text | st.text(max_size=30))
def test_any_input_is_a_result_or_a_clear_error_never_a_crash(project, q, filters):
    try:
        query = ListQuery.from_params({"q": q, "filters": filters})
    except QueryError as error:
        assert error.status == 400 and error.message
        return
    list(query.filter(Execution.objects.in_project(project), Plan(project_id=project.pk))[:1])
