"""How a list query is read: ``plan(query, queryset, ...)`` decides, and returns a ``Plan``.

The planner looks at the query (and, on PostgreSQL, at the database planner's estimates)
and returns its decisions as a value. ``ListQuery.filter``, ``ListQuery.page``, ``total``,
``matching_ids`` and the group counts take that value as an argument; nothing decided here
is kept anywhere else for a later call to read. ``Plan(project_id=…)`` without calling
``plan`` is the plain form (every term through the label rows), which is always correct.

Which index serves which query (PostgreSQL; see executions/models.py for the definitions):

==============================================  ============================================
query                                           index
==============================================  ============================================
latest in a project / everywhere                ``execution_project_time`` / ``execution_time``
one label ``k:v`` in a project, latest first    ``label_project_kv_time`` (in time order:
                                                ``Plan.driver``)
a label, an OR of labels or a key that many     the sort order's index, testing the row's
executions have                                 ``labels`` (``Plan.walked``)
rarer labels, keys and ORs                      ``label_project_kv_time``, a range per project
``k1:v1 and k2:v2`` (several equalities)        ``execution_labels_gin`` (``labels @> {...}``)
``not …``                                       the negated subquery of the label index
group counts by one key                         ``label_project_kv_time`` (index-only)
longest first                                   ``execution_duration``
a ``meta.``/``input.``/``label.`` sort          none: the matches are sorted; beyond
                                                ``SORT_WINDOW`` estimated matches only the
                                                latest ``SORT_WINDOW`` (``Plan.sort_window``)
label autocomplete (values of a key)            ``label_project_kv_time``
==============================================  ============================================

SQLite has no GIN index and no estimates: there every plan is the plain form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from django.db.models import QuerySet

from executions.query import (
    ExpressionCompiler,
    LabelTerm,
    ListQuery,
    Node,
    conjunction,
    conjuncts,
    label_terms,
    planner_rows,
    walkable_terms,
)

# Sort orders an index walks (``execution_time``/``execution_project_time``,
# ``execution_duration``): the ones worth testing label terms in the row for.
WALKED_SORT_KEYS = frozenset({"created_at", "duration"})
# What a match costs through the label rows (a random index or heap read, about 20-35 µs
# at 1M) against a row walked in an execution index and tested in place (about 1 µs):
# see _walked.
WALK_COST_RATIO = 25
# A sort by a JSON value (``meta.loss``) has no index: every match is read and sorted, about
# 10 µs each. Beyond this many estimated matches only the latest this many are sorted.
SORT_WINDOW = 20_000

CountForm = Literal["list", "label_rows", "label_scan", "scope"]


@dataclass(frozen=True)
class Plan:
    """How to read one list query.

    The scope: ``project_id`` (the list is one project's) or ``projects`` (a queryset of the
    projects it may read), and ``top_level_only`` (the page's rows: sub-executions nest under
    a listed parent). The decisions: ``driver``, the one label equality whose label rows lead
    the list in time order; ``walked``, the terms tested in each execution row while the
    sort order's index is walked; ``estimated_rows``, the database planner's estimate of the
    matches when it was asked; ``count_form``, what ``total`` counts (``"list"``: the list
    itself, ``"label_rows"``: the list without walking, ``"label_scan"``: the label index
    alone, ``"scope"``: the scope's index); ``sort_window``, how many of the latest matches a
    sort without an index orders (None: all)."""

    project_id: int | None = None
    projects: QuerySet | None = None
    top_level_only: bool = False
    driver: LabelTerm | None = None
    walked: tuple[Node, ...] = ()
    estimated_rows: int | None = None
    count_form: CountForm = "list"
    sort_window: int | None = None


def plan(
    query: ListQuery,
    queryset: QuerySet,
    *,
    project_id: int | None = None,
    projects: QuerySet | None = None,
    top_level_only: bool = False,
) -> Plan:
    """The plan for ``query`` over ``queryset`` (the scope: one project's executions, or
    those of ``projects``). On PostgreSQL it may ask the database planner for estimates: one
    ``EXPLAIN`` statement at most."""
    scope = Plan(project_id=project_id, projects=projects, top_level_only=top_level_only)
    compiler = ExpressionCompiler.for_database(project_id, queryset.db, projects)
    driver = _driving_label(query) if project_id is not None else None
    walked: tuple[Node, ...] = ()
    estimate = None
    if driver is None and compiler.use_containment and query.sort_key in WALKED_SORT_KEYS:
        walked, estimate = _walked(query, queryset, scope, compiler)
    sort_window = None
    if query.field_sort is not None and compiler.use_containment:
        if estimate is None:
            estimate = planner_rows(query.filter(queryset, scope))
        sort_window = SORT_WINDOW if estimate > SORT_WINDOW else None
    return Plan(
        project_id=project_id,
        projects=projects,
        top_level_only=top_level_only,
        driver=driver,
        walked=walked,
        estimated_rows=estimate,
        count_form=_count_form(query, compiler, walked),
        sort_window=sort_window,
    )


def _driving_label(query: ListQuery) -> LabelTerm | None:
    """The label equality that leads a project's list in time order, when there is exactly
    one at the top of the expression (two or more are a JSON containment test instead).

    Its label rows are joined (one per execution: a key appears once per execution) rather
    than tested with ``IN``, and the list is ordered by the label row's copy of
    ``created_at``: ``label_project_kv_time`` holds a project's rows of one label in that
    order, so the latest 50 -- or the 50 after a cursor -- are the first 50 index entries.
    Across projects no index has that order: there the label is walked or looked up like
    any other term."""
    if query.sort_key != "created_at":
        return None
    equalities = [
        term
        for term in conjuncts(query.expression)
        if isinstance(term, LabelTerm) and term.value is not None
    ]
    return equalities[0] if len(equalities) == 1 else None


def _walked(
    query: ListQuery, queryset: QuerySet, scope: Plan, compiler: ExpressionCompiler
) -> tuple[tuple[Node, ...], int | None]:
    """The expression's terms to test in the row while walking the sort order's index, and
    the estimated matches.

    Label terms common enough, by the planner's estimates (which the label statistics make
    good: ``team:a or team:b``, a key such as ``release`` on 2 %, ``model:m`` sorted by
    duration, ``dataset:d and @phase:FAILED``), are tested in the row
    (``ExpressionCompiler.in_row``) as the sort order's index is walked. Walking reads
    ``limit * walked / matches`` rows, each for about 1 µs (the row is read anyway); through
    the label rows PostgreSQL either probes the label primary key for every row walked or
    joins every match and sorts it, about ``WALK_COST_RATIO`` times as much per match (a
    random read each). So the walk wins when ``matches**2 * ratio >= limit * walked``: at
    1M executions and a page of 50, from about 1,400 matches (0.14 %). Rarer terms keep the
    label rows (bitmap or join, then sort)."""
    walkable = walkable_terms(query.expression)
    if not walkable:
        return (), None
    rest = conjunction(term for term in conjuncts(query.expression) if term not in walkable)
    narrowed = query.narrowed(queryset, compiler)
    others = narrowed if rest is None else narrowed.filter(compiler.compile(rest))
    # The index walked: the scope's in time order, every execution's by duration.
    walked_index = queryset if query.sort_key == "created_at" else queryset.model.objects.all()
    in_scope, passing, walked_rows, *labelled = planner_rows(
        queryset,
        others.filter(query.filter_q),
        walked_index,
        *(compiler.label_scan(label_terms(term)) for term in walkable),
    )
    # Label terms taken as independent of the rest: the planner's estimate of the join itself
    # ignores that label rows carry the execution's project.
    matches = float(passing)
    for rows in labelled:
        matches *= min(rows, in_scope) / max(in_scope, 1)
    if matches * matches * WALK_COST_RATIO < (query.limit + 1) * walked_rows:
        return (), round(matches)
    return tuple(walkable), round(matches)


def _count_form(
    query: ListQuery, compiler: ExpressionCompiler, walked: tuple[Node, ...]
) -> CountForm:
    """Within a project or the projects of the list, a list filtered by label terms alone
    (``team:a``, ``team:a or team:b``, ``release``) is counted on the label rows
    (index-only: one row per execution and key, carrying its project) rather than by joining
    them to the executions, and an unfiltered page on the scope's index. A walked list is
    counted in its label rows' form; otherwise the list itself."""
    scoped = compiler.project_id is not None or compiler.projects is not None
    terms = conjuncts(query.expression)
    if scoped and not (
        query.filters or query.domain or query.phases or query.since or query.namespace
    ):
        if not terms:
            return "scope"
        if len(terms) == 1 and walkable_terms(query.expression) == terms:
            return "label_scan"
    return "label_rows" if walked else "list"
