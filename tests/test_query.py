"""The query model of SPEC §3: expression grammar, Flyte filters, sort, keyset cursor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executions import planner, services
from executions import query as query_module
from executions.models import Execution, Phase, Release, StageEvent
from executions.planner import Plan
from executions.query import (
    EXACT_COUNT_LIMIT,
    MAX_EXPRESSION_LENGTH,
    MAX_NESTING,
    And,
    AttributeTerm,
    Cursor,
    LabelTerm,
    ListQuery,
    Not,
    Or,
    QueryError,
    api_groups,
    count,
    group_summary,
    label_keys,
    label_values,
    parse_expression,
    to_text,
)
from tests.factories import ProjectFactory, make_execution

# --- grammar ---------------------------------------------------------------------------------


def test_an_empty_expression_means_no_condition():
    assert parse_expression("") is None
    assert parse_expression("   ") is None


def test_a_key_value_is_equality_and_a_bare_key_is_has_label():
    assert parse_expression("team:nlp") == LabelTerm("team", "nlp")
    assert parse_expression("release") == LabelTerm("release", None)


def test_and_binds_tighter_than_or():
    assert parse_expression("a or b and c") == Or(
        (LabelTerm("a"), And((LabelTerm("b"), LabelTerm("c"))))
    )
    assert parse_expression("a and b or c") == Or(
        (And((LabelTerm("a"), LabelTerm("b"))), LabelTerm("c"))
    )


def test_parentheses_override_precedence():
    assert parse_expression("(a or b) and c") == And(
        (Or((LabelTerm("a"), LabelTerm("b"))), LabelTerm("c"))
    )


def test_not_binds_tightest_and_nests():
    assert parse_expression("not a and b") == And((Not(LabelTerm("a")), LabelTerm("b")))
    assert parse_expression("not not a") == Not(Not(LabelTerm("a")))
    assert parse_expression("not (a or not b)") == Not(Or((LabelTerm("a"), Not(LabelTerm("b")))))


def test_operators_are_case_insensitive_and_juxtaposition_means_and():
    assert parse_expression("a AND b Or NOT c") == Or(
        (And((LabelTerm("a"), LabelTerm("b"))), Not(LabelTerm("c")))
    )
    assert parse_expression("team:nlp model:bert") == And(
        (LabelTerm("team", "nlp"), LabelTerm("model", "bert"))
    )


def test_words_that_start_like_operators_are_labels():
    assert parse_expression("android") == LabelTerm("android")
    assert parse_expression("note:x and order") == And((LabelTerm("note", "x"), LabelTerm("order")))
    assert parse_expression("not:x") == LabelTerm("not", "x")


def test_the_spec_example_parses():
    assert parse_expression("team:nlp and (model:bert or model:gpt) and not release") == And(
        (
            LabelTerm("team", "nlp"),
            Or((LabelTerm("model", "bert"), LabelTerm("model", "gpt"))),
            Not(LabelTerm("release")),
        )
    )


def test_quoted_values_keep_spaces_parentheses_and_escaped_quotes():
    assert parse_expression('name:"lr sweep 3"') == LabelTerm("name", "lr sweep 3")
    assert parse_expression('note:"a (b) or c"') == LabelTerm("note", "a (b) or c")
    assert parse_expression(r'q:"say \"hi\" \\ bye"') == LabelTerm("q", 'say "hi" \\ bye')
    assert parse_expression('tag:""') == LabelTerm("tag", "")


def test_values_may_contain_colons_and_unicode():
    assert parse_expression("url:http://x:8080/a") == LabelTerm("url", "http://x:8080/a")
    assert parse_expression("city:Zürich and emoji:🚀") == And(
        (LabelTerm("city", "Zürich"), LabelTerm("emoji", "🚀"))
    )
    assert parse_expression('name:"東京 run"') == LabelTerm("name", "東京 run")


def test_prefixed_keys_parse():
    assert parse_expression("example.com/team:nlp") == LabelTerm("example.com/team", "nlp")


def test_attributes_parse_with_and_without_values():
    assert parse_expression("@phase:FAILED") == AttributeTerm("phase", "FAILED")
    assert parse_expression("@released") == AttributeTerm("released")
    assert parse_expression("@release:nn@v1.2.3") == AttributeTerm("release", "nn@v1.2.3")
    assert parse_expression("not @stage:prod") == Not(AttributeTerm("stage", "prod"))


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("team:nlp and", 13, "ends too early"),
        ("team:", 5, "value is missing"),
        ("(a or b", 8, "ends too early"),
        ("a or b)", 7, "unexpected ')'"),
        ('name:"open', 5, "value is missing"),
        ("a and or b", 7, "unexpected 'or'"),
        ("a & b", 3, "unexpected character '&'"),
        ("-bad:x", 1, "unexpected character '-'"),
        ("@colour:red", 1, "Unknown attribute @colour"),
        ("@phase", 1, "@phase needs a value"),
        ("@released:yes", 1, "@released takes no value"),
    ],
)
def test_syntax_errors_name_the_column(text, column, fragment):
    with pytest.raises(QueryError) as caught:
        parse_expression(text)
    error = caught.value
    assert error.status == 400
    assert error.field == "q"
    assert error.extra["column"] == column
    assert f"column {column}" in error.message
    assert fragment in error.message


def test_an_invalid_label_key_is_a_syntax_error():
    with pytest.raises(QueryError, match="key name starts and ends"):
        parse_expression("team-:x")


def test_a_too_long_expression_is_refused():
    with pytest.raises(QueryError, match="at most 4,096") as caught:
        parse_expression("a or " * (MAX_EXPRESSION_LENGTH // 5) + "bb")
    assert caught.value.code == "expression_too_long"


def test_deep_nesting_is_refused_without_recursion_errors():
    deep = "(" * 1500 + "a" + ")" * 1500
    with pytest.raises(QueryError, match="nested more than 50"):
        parse_expression(
            deep[:MAX_EXPRESSION_LENGTH] if len(deep) > MAX_EXPRESSION_LENGTH else deep
        )
    with pytest.raises(QueryError, match="nested more than 50"):
        parse_expression("not " * 1000 + "a")


def test_nesting_up_to_the_limit_is_accepted():
    node = parse_expression("not " * MAX_NESTING + "a")
    for _ in range(MAX_NESTING):
        assert isinstance(node, Not)
        node = node.item
    assert node == LabelTerm("a")
    assert parse_expression("(" * MAX_NESTING + "a" + ")" * MAX_NESTING) == LabelTerm("a")
    assert parse_expression('x:"((((" and ' + "(" * MAX_NESTING + "a" + ")" * MAX_NESTING)


def test_long_flat_or_chains_are_fine():
    text = " or ".join(f"k:v{i}" for i in range(400))
    assert len(parse_expression(text).items) == 400


@pytest.mark.parametrize(
    "text",
    [
        "a or b and c",
        "(a or b) and not c",
        'name:"lr sweep 3" and city:Zürich',
        'q:"and" or w:"x\\"y"',
        "not (a and b) and @phase:FAILED and @released",
        'tag:"" and @release:"nn@v1.2.3"',
    ],
)
def test_canonical_text_parses_back_to_the_same_tree(text):
    tree = parse_expression(text)
    assert parse_expression(to_text(tree)) == tree


# --- expressions on the database ------------------------------------------------------------


@pytest.fixture
def runs(project):
    """Four executions with labels chosen so every operator has something to tell apart."""
    return {
        "a": make_execution(project, labels={"team": "nlp", "model": "bert", "release": "v1"}),
        "b": make_execution(project, labels={"team": "nlp", "model": "gpt"}),
        "c": make_execution(project, labels={"team": "cv", "model": "gpt", "name": "lr sweep 3"}),
        "d": make_execution(project, labels={"team": "cv", "city": "Zürich"}, launched_by="bob"),
    }


def matching(project, params) -> set[str]:
    query = ListQuery.from_params(params)
    executions = Execution.objects.in_project(project)
    plan = planner.plan(query, executions, project_id=project.pk)
    return set(query.filter(executions, plan).values_list("pk", flat=True))


def ids(runs, names) -> set[str]:
    return {runs[name].pk for name in names}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("team:nlp", "ab"),
        ("model", "abc"),
        ("not model", "d"),
        ("team:nlp and model:gpt", "b"),
        ("team:nlp and model:gpt and team:nlp", "b"),
        ("team:nlp and team:cv", ""),
        ("team:nlp or model:gpt", "abc"),
        ("team:nlp or team:cv", "abcd"),
        ("team:cv or release", "acd"),
        ("release or model:bert", "a"),
        ("a or b and c", ""),
        ("team:cv and not model:gpt", "d"),
        ("not (team:nlp or city)", "c"),
        ("team:nlp and (model:bert or model:gpt) and not release", "b"),
        ('name:"lr sweep 3"', "c"),
        ("city:Zürich", "d"),
        ("@user:bob", "d"),
        ("@user:anne and not team:nlp", "c"),
        ("user:anne and team:cv", "c"),
        ("@workflow:train.wf and team:cv", "cd"),
        ("@phase:undefined and model:bert", "a"),
        ("nothing:here", ""),
    ],
)
def test_expressions_select_the_right_executions(project, runs, q, expected):
    assert matching(project, {"q": q}) == ids(runs, expected)


def test_label_conditions_do_not_leak_across_projects(project, runs):
    other = ProjectFactory(slug="other")
    make_execution(other, labels={"team": "nlp"})
    assert matching(project, {"q": "team:nlp"}) == ids(runs, "ab")


def test_an_and_of_equalities_uses_json_containment_on_postgresql(project, runs):
    with CaptureQueriesContext(connection) as ctx:
        matching(project, {"q": "team:nlp and model:gpt"})
    sql = ctx.captured_queries[-1]["sql"]
    if connection.vendor == "postgresql":
        assert "@>" in sql
    else:
        assert sql.count('"executions_label"') == 2


def test_a_single_label_joins_its_project_scoped_label_rows(project, runs):
    with CaptureQueriesContext(connection) as ctx:
        matching(project, {"q": "team:nlp"})
    sql = ctx.captured_queries[-1]["sql"]
    assert 'INNER JOIN "executions_label"' in sql
    assert '"executions_label"."project_id" = ' in sql


@pytest.fixture
def analysed_project(project):
    """500 executions: 250 with ``team:common``, 1 with ``team:rare``, 50 with ``release``,
    the statistics gathered so that the planner's estimates are real."""
    labels = [{"team": "common" if i % 2 else "other"} for i in range(500)]
    labels[0]["team"] = "rare"
    for i in range(0, 500, 10):
        labels[i]["release"] = f"v{i}"
    services.executions_create_bulk(
        items=[
            {"project": project.slug, "domain": "development", "workflow": "wf", "labels": x}
            for x in labels
        ],
        resolve_project=lambda slug: project,
        launched_by="anne",
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE executions_execution, executions_label")
    return project


def last_list_sql(project, params) -> tuple[set[str], str]:
    with CaptureQueriesContext(connection) as ctx:
        found = matching(project, params)
    return found, ctx.captured_queries[-1]["sql"]


def test_an_or_of_rare_labels_is_a_union_of_label_scans(analysed_project):
    found, sql = last_list_sql(analysed_project, {"q": "team:rare or model:x"})
    assert len(found) == 1
    assert "UNION" in sql
    assert "->>" not in sql


@pytest.mark.parametrize(
    ("q", "sort", "expected"),
    [
        ("team:common or team:rare", "created_at", 251),
        ("release", "created_at", 50),
        ("team:common", "duration", 250),
    ],
)
def test_common_label_terms_are_tested_in_the_row_on_postgresql(
    analysed_project, q, sort, expected
):
    """Common enough (matches² x 25 ≥ 51 x 500 here): walking the sort order and testing
    the row's ``labels`` beats joining the label rows (planner._walked); SQLite keeps the
    label rows."""
    found, sql = last_list_sql(analysed_project, {"q": q, "sort_by.key": sort})
    assert len(found) == expected
    if connection.vendor == "postgresql":
        assert "executions_label" not in sql
        assert "->" in sql
    else:
        assert "executions_label" in sql


def test_a_walked_list_is_counted_on_the_label_rows(api, analysed_project):
    """The walked form of ``team:common`` is what lists; the count is exact (fewer than
    10,000) and comes from the label rows' form, as for any other list."""
    body = api.get(
        "/api/v1/executions/",
        {"project": analysed_project.slug, "q": "team:common or release", "limit": 10},
    ).json()
    assert body["count"] == 300
    assert body["count_is_estimate"] is False
    assert len(body["results"]) == 10


def test_release_and_stage_attributes(project, runs):
    a, b = runs["a"], runs["b"]
    Execution.objects.filter(pk__in=[a.pk, b.pk]).update(phase=Phase.SUCCEEDED)
    one = Release.objects.create(
        project=project, artifact="nn", version="v1.2.3", execution=a, created_by="anne"
    )
    two = Release.objects.create(
        project=project, artifact="nn", version="v1.3.0", execution=b, created_by="anne"
    )
    Release.objects.create(
        project=project, artifact="tok", version="v0.1.0", execution=b, created_by="anne"
    )
    now = timezone.now()
    StageEvent.objects.create(release=one, stage="prod", action="assign", by="a", at=now)
    StageEvent.objects.create(
        release=two, stage="staging", action="assign", by="a", at=now + timedelta(seconds=1)
    )
    assert matching(project, {"q": "@released"}) == ids(runs, "ab")
    assert matching(project, {"q": "not @released"}) == ids(runs, "cd")
    assert matching(project, {"q": "@release:nn@v1.2.3"}) == ids(runs, "a")
    assert matching(project, {"q": "@release:nn@1.2.3"}) == ids(runs, "a")
    assert matching(project, {"q": "@release:nn"}) == ids(runs, "ab")
    assert matching(project, {"q": "@release:tok"}) == ids(runs, "b")
    assert matching(project, {"q": "@stage:prod"}) == ids(runs, "a")
    # Promoting v1.3.0 to prod replaces v1.2.3 there.
    StageEvent.objects.create(
        release=two, stage="prod", action="assign", by="a", at=now + timedelta(seconds=2)
    )
    assert matching(project, {"q": "@stage:prod"}) == ids(runs, "b")
    # Unassigning leaves the stage empty.
    StageEvent.objects.create(
        release=two, stage="prod", action="unassign", by="a", at=now + timedelta(seconds=3)
    )
    assert matching(project, {"q": "@stage:prod"}) == set()
    assert matching(project, {"q": "@stage:staging"}) == ids(runs, "b")


def test_parent_attribute_selects_sub_executions(project, runs):
    child = make_execution(project, parent=runs["a"].pk)
    assert matching(project, {"q": f"@parent:{runs['a'].pk}"}) == {child.pk}


def test_an_unknown_phase_attribute_is_an_error(project):
    with pytest.raises(QueryError, match="Unknown phase 'DONE'"):
        matching(project, {"q": "@phase:DONE"})


# --- Flyte filters ---------------------------------------------------------------------------


@pytest.fixture
def timed(project):
    """Three executions with phases, durations and creation times to filter on."""
    base = timezone.now() - timedelta(days=10)
    rows = {}
    for name, phase, duration, days, wf in [
        ("ok", Phase.SUCCEEDED, 50.0, 0, "train.wf"),
        ("slow", Phase.SUCCEEDED, 500.0, 5, "eval.wf"),
        ("bad", Phase.FAILED, 200.0, 9, "train.wf"),
    ]:
        execution = make_execution(project, workflow=wf, workflow_version=f"{name}-1")
        Execution.objects.filter(pk=execution.pk).update(
            phase=phase, duration=duration, created_at=base + timedelta(days=days)
        )
        rows[name] = execution.pk
    return rows


def filtered(project, filters) -> set[str]:
    return matching(project, {"filters": filters})


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ("eq(phase,SUCCEEDED)", {"ok", "slow"}),
        ("eq(phase, FAILED)", {"bad"}),
        ("ne(phase,FAILED)", {"ok", "slow"}),
        ("gte(duration,100)", {"slow", "bad"}),
        ("gt(duration,200)", {"slow"}),
        ("lt(duration,200)", {"ok"}),
        ("lte(duration,200)", {"ok", "bad"}),
        ("eq(phase,SUCCEEDED)+gte(duration,100)", {"slow"}),
        ("value_in(phase,RUNNING;FAILED)", {"bad"}),
        ("value_not_in(phase,RUNNING;FAILED)", {"ok", "slow"}),
        ("contains(workflow,eval)", {"slow"}),
        ("eq(workflow.name,train.wf)", {"ok", "bad"}),
        ("eq(workflow.version,slow-1)", {"slow"}),
        ("eq(user,anne)", {"ok", "slow", "bad"}),
        ("eq(execution.phase,FAILED)", {"bad"}),
        ("eq(project,nlp)+eq(domain,development)", {"ok", "slow", "bad"}),
        ("eq(mode,0)", {"ok", "slow", "bad"}),
        ("eq(mode,CHILD)", set()),
    ],
)
def test_flyte_filters_select_the_right_executions(project, timed, filters, expected):
    assert filtered(project, filters) == {timed[name] for name in expected}


def test_flyte_timestamps_are_rfc3339_including_nanoseconds(project, timed):
    cut = Execution.objects.get(pk=timed["slow"]).created_at
    stamp = cut.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    assert filtered(project, f"gte(execution_created_at,{stamp})") == {timed["slow"], timed["bad"]}
    assert filtered(project, f"lt(created_at,{stamp})") == {timed["ok"]}


def test_flyteadmin_documented_examples_run_unchanged(project, timed):
    # From FlyteAdmin's "Adding request filters" documentation, where Execboard has the fields.
    assert filtered(project, "value_in(phase, RUNNING;SUCCEEDED;FAILED)") == set(timed.values())
    assert filtered(project, "gte(duration, 100)+value_in(phase,RUNNING;SUCCEEDED;FAILED)") == {
        timed["slow"],
        timed["bad"],
    }
    assert filtered(project, "eq(workflow.name, eval.wf)") == {timed["slow"]}


@pytest.mark.parametrize(
    ("filters", "fragment"),
    [
        ("eq(colour,red)", "Unknown filter field 'colour'"),
        ("eq(launch_plan.name,baz)", "Unknown filter field 'launch_plan.name'"),
        ("like(phase,RUN)", "Unknown filter function 'like'"),
        ("eq(phase,DONE)", "Unknown phase 'DONE'"),
        ("gte(duration,long)", "duration is in seconds"),
        ("gte(created_at,yesterday)", "RFC 3339"),
        ("gte(created_at,2026-13-45T00:00:00Z)", "RFC 3339"),
        ("gte(duration,nan)", "duration is in seconds"),
        ("contains(duration,5)", "contains works on text fields"),
        ("contains(created_at,2026-01-01T00:00:00Z)", "contains works on text fields"),
        ("gte(duration,inf)", "duration is in seconds"),
        ("eq(mode,2)", "Unknown mode '2'"),
        ("eq(phase RUNNING)", "Cannot read the filter"),
        ("eq(phase,RUNNING)+", "Cannot read the filter"),
    ],
)
def test_bad_flyte_filters_are_errors_never_ignored(project, filters, fragment):
    with pytest.raises(QueryError) as caught:
        filtered(project, filters)
    assert fragment in caught.value.message
    assert caught.value.field == "filters"


# --- sort and cursor -------------------------------------------------------------------------


def walk(project, params) -> list[str]:
    """Every page of a sorted list, following the keyset cursors."""
    seen, cursor = [], None
    for _ in range(50):
        query = ListQuery.from_params(
            {**params, "limit": "2", **({"cursor": cursor} if cursor else {})}
        )
        executions = Execution.objects.in_project(project)
        plan = planner.plan(query, executions, project_id=project.pk)
        rows, next_cursor = query.page(query.filter(executions, plan), plan)
        seen.extend(row.pk for row in rows)
        if next_cursor is None:
            return seen
        cursor = next_cursor.encode()
    raise AssertionError("the cursor never ended")


@pytest.fixture
def sortable(project):
    """Seven executions with ties and missing values in every sort key."""
    base = timezone.now()
    specs = [
        ("zeta", Phase.SUCCEEDED, 30.0, "b.wf"),
        ("alpha", Phase.FAILED, None, "a.wf"),
        (None, Phase.RUNNING, 30.0, "b.wf"),
        ("mid", Phase.SUCCEEDED, 10.0, "a.wf"),
        ("alpha", Phase.QUEUED, None, "c.wf"),
        (None, Phase.SUCCEEDED, 99.0, "a.wf"),
        ("beta", Phase.FAILED, 10.0, "b.wf"),
    ]
    executions = []
    for index, (name, phase, duration, wf) in enumerate(specs):
        labels = {"name": name} if name else {}
        execution = make_execution(project, labels=labels, workflow=wf)
        moment = base - timedelta(minutes=index // 2)  # pairs share a creation time
        Execution.objects.filter(pk=execution.pk).update(
            phase=phase,
            duration=duration,
            created_at=moment,
            started_at=moment if duration is not None else None,
        )
        executions.append(execution.pk)
    return executions


def expected_order(project, key, descending) -> list[str]:
    rows = list(Execution.objects.in_project(project))

    def value(row):
        return row.display_name if key == "name" else getattr(row, key)

    present = [row for row in rows if value(row) is not None]
    missing = [row for row in rows if value(row) is None]
    present.sort(key=lambda row: (value(row), row.pk), reverse=descending)
    missing.sort(key=lambda row: row.pk, reverse=descending)
    return [row.pk for row in present + missing]


@pytest.mark.parametrize(
    "key", ["created_at", "started_at", "ended_at", "duration", "phase", "name", "workflow"]
)
@pytest.mark.parametrize("direction", ["DESCENDING", "ASCENDING"])
def test_every_sort_pages_through_all_rows_once_in_order(project, sortable, key, direction):
    params = {"sort_by.key": key, "sort_by.direction": direction}
    assert walk(project, params) == expected_order(project, key, direction == "DESCENDING")


def test_sort_defaults_to_latest_first_and_accepts_the_flyte_alias(project, sortable):
    assert walk(project, {}) == expected_order(project, "created_at", True)
    query = ListQuery.from_params({"sort_by.key": "execution_created_at"})
    assert query.sort_key == "created_at"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort_by.key": "colour"}, "sort_by.key"),
        ({"sort_by.direction": "UP"}, "sort_by.direction"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"phase": "DONE"}, "phase"),
        ({"domain": "moon"}, "domain"),
        ({"since": "3w"}, "since"),
        ({"group_by": "team"}, "group_by"),
        ({"namespace": "-bad:x"}, "namespace"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "e30"}, "cursor"),
        ({"cursor": Cursor("created_at", True, "2026-13-45T00:00:00", "x").encode()}, "cursor"),
        (
            {"cursor": Cursor("duration", True, "fast", "x").encode(), "sort_by.key": "duration"},
            "cursor",
        ),
    ],
)
def test_bad_parameters_are_errors_naming_the_parameter(params, field):
    with pytest.raises(QueryError) as caught:
        ListQuery.from_params(params)
    assert caught.value.field == field


def test_a_cursor_from_another_sort_is_refused():
    token = Cursor("duration", True, 3.0, "abc").encode()
    with pytest.raises(QueryError, match="another sort order"):
        ListQuery.from_params({"cursor": token})
    assert ListQuery.from_params({"cursor": token, "sort_by.key": "duration"}).cursor.value == 3.0


def test_namespace_phase_domain_and_time_range_narrow_the_list(project):
    mine = make_execution(project, launched_by="anne")
    theirs = make_execution(project, launched_by="bob", domain="production")
    Execution.objects.filter(pk=theirs.pk).update(phase=Phase.FAILED)
    old = make_execution(project, launched_by="bob")
    Execution.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    assert matching(project, {"namespace": "user:anne"}) == {mine.pk}
    assert matching(project, {"namespace": "user"}) == {mine.pk, theirs.pk, old.pk}
    assert matching(project, {"phase": "FAILED"}) == {theirs.pk}
    assert matching(project, {"phase": "failed,undefined"}) == {mine.pk, theirs.pk, old.pk}
    assert matching(project, {"domain": "production"}) == {theirs.pk}
    assert matching(project, {"since": "24h"}) == {mine.pk, theirs.pk}


# --- counts and groups -----------------------------------------------------------------------


def test_count_is_exact_below_the_limit(project, runs):
    query = ListQuery.from_params({"q": "team:nlp"})
    filtered = query.filter(Execution.objects.in_project(project), Plan(project_id=project.pk))
    assert count(filtered) == (2, False, 0)
    assert EXACT_COUNT_LIMIT == 10_000


def test_a_one_label_list_of_a_project_is_counted_on_its_label_rows(project):
    for team in ["nlp", "nlp", "nlp", "cv"]:
        make_execution(project, labels={"team": team})
    make_execution(ProjectFactory(), labels={"team": "nlp"})
    query = ListQuery.from_params({"q": "team:nlp", "limit": "2"})
    executions = Execution.objects.in_project(project)
    plan = planner.plan(query, executions, project_id=project.pk)
    rows, next_cursor = query.page(query.filter(executions, plan), plan)
    with CaptureQueriesContext(connection) as ctx:
        assert query.total(executions, plan, rows, next_cursor) == (3, False)
    assert "executions_execution" not in ctx.captured_queries[-1]["sql"]
    # Anything else narrowing the list counts the executions themselves.
    narrowed = ListQuery.from_params({"q": "team:nlp", "phase": "UNDEFINED,FAILED", "limit": "2"})
    plan = planner.plan(narrowed, executions, project_id=project.pk)
    with CaptureQueriesContext(connection) as ctx:
        assert narrowed.total(executions, plan, rows, next_cursor) == (3, False)
    assert "executions_execution" in ctx.captured_queries[-1]["sql"]


@pytest.mark.parametrize("q", ["team:nlp", "team:nlp or team:none", "team", ""])
def test_the_pages_label_count_leaves_out_sub_executions_nested_under_a_match(project, q):
    """The page counts its rows: a sub-execution whose parent matches nests under it; one
    whose parent does not match is a row of its own (unfiltered, every parent matches)."""
    parents = [make_execution(project, labels={"team": "nlp"}) for _ in range(3)]
    make_execution(project, labels={"team": "nlp"}, parent=parents[0].pk)
    outsider = make_execution(project, labels={"city": "Oslo"})
    make_execution(project, labels={"team": "nlp"}, parent=outsider.pk)
    query = ListQuery.from_params({"q": q, "limit": "2"})
    executions = Execution.objects.in_project(project)
    plan = planner.plan(query, executions, project_id=project.pk, top_level_only=True)
    top = query.filter(executions, plan)
    rows, next_cursor = query.page(top, plan)
    assert query.total(executions, plan, rows, next_cursor) == (4, False)
    assert top.count() == 4
    # The page counts every match, as the API does, and says how many nest.
    expected = (6, False, 2) if not q else (5, False, 1)
    assert query.page_total(executions, plan, rows, next_cursor) == expected


def test_count_beyond_the_limit_is_the_planner_estimate_on_postgresql(project, runs, monkeypatch):
    monkeypatch.setattr(query_module, "EXACT_COUNT_LIMIT", 2)
    executions = Execution.objects.in_project(project)
    total, is_estimate, _ = count(executions)
    if connection.vendor == "postgresql":
        assert is_estimate is True
        assert total >= 3
    else:
        assert (total, is_estimate) == (4, False)
    assert count(executions.filter(labels__has_key="city")) == (1, False, 0)


def test_group_summary_counts_phases_and_nests_groups(project):
    for labels, phase in [
        ({"experiment": "e1", "group": "g1"}, Phase.SUCCEEDED),
        ({"experiment": "e1", "group": "g1"}, Phase.FAILED),
        ({"experiment": "e1", "group": "g2"}, Phase.SUCCEEDED),
        ({"experiment": "e1"}, Phase.RUNNING),
        ({"experiment": "e2", "group": "g3"}, Phase.SUCCEEDED),
        ({"group": "g4"}, Phase.SUCCEEDED),
    ]:
        execution = make_execution(project, labels=labels)
        Execution.objects.filter(pk=execution.pk).update(phase=phase)
    groups = group_summary(Execution.objects.in_project(project), ("experiment", "group"))
    assert [(g.value, g.count) for g in groups] == [("e1", 4), ("e2", 1), (None, 1)]
    e1 = groups[0]
    assert e1.phases == {"SUCCEEDED": 2, "FAILED": 1, "RUNNING": 1}
    assert [(s.value, s.count) for s in e1.subgroups] == [("g1", 2), ("g2", 1), (None, 1)]
    assert e1.subgroups[0].phase_summary == [("FAILED", 1), ("SUCCEEDED", 1)]
    assert [(s.value, s.count) for s in groups[2].subgroups] == [("g4", 1)]


def test_api_groups_count_from_the_label_index_with_the_ungrouped_last(project):
    for experiment in ["e1", "e1", "e2", None]:
        make_execution(project, labels={"experiment": experiment} if experiment else {})
    query = ListQuery.from_params({"group_by": "experiment"})
    executions = Execution.objects.in_project(project)
    assert api_groups(query, executions, Plan(project_id=project.pk), 4) == [
        {"value": "e1", "count": 2},
        {"value": "e2", "count": 1},
        {"value": None, "count": 1},
    ]
    narrowed = ListQuery.from_params({"group_by": "experiment", "q": "not experiment:e2"})
    assert api_groups(narrowed, executions, Plan(project_id=project.pk), 3) == [
        {"value": "e1", "count": 2},
        {"value": None, "count": 1},
    ]


def test_autocomplete_ranks_values_and_keys_by_use(project):
    for model in ["model-1", "model-1", "model-10", "model-1~é", "model-2", "model-", "other"]:
        make_execution(project, labels={"model": model, "team": "x"})
    make_execution(project, labels={"mood": "ok"})
    assert label_values(project.pk, "model", "model-1") == [
        {"value": "model-1", "count": 2},
        {"value": "model-10", "count": 1},
        {"value": "model-1~é", "count": 1},
    ]
    keys = [row["key"] for row in label_keys(project.pk, "m")]
    assert keys == ["model", "mood"]


def test_a_single_label_list_is_in_the_label_rows_time_order_and_pages_by_cursor(project):
    made = [make_execution(project, labels={"team": "nlp", "n": str(i)}) for i in range(5)]
    make_execution(project, labels={"team": "cv"})
    query = ListQuery.from_params({"q": "team:nlp", "limit": "2"})
    executions = Execution.objects.in_project(project)
    plan = planner.plan(query, executions, project_id=project.pk)
    filtered = query.filter(executions, plan)
    with CaptureQueriesContext(connection) as ctx:
        first, cursor = query.page(filtered, plan)
    assert 'ORDER BY "executions_label"."created_at" DESC' in ctx.captured_queries[-1]["sql"]
    second, _ = ListQuery.from_params(
        {"q": "team:nlp", "limit": "2", "cursor": cursor.encode()}
    ).page(filtered, plan)
    newest_first = [e.pk for e in sorted(made, key=lambda e: (e.created_at, e.pk), reverse=True)]
    assert [e.pk for e in first + second] == newest_first[:4]
