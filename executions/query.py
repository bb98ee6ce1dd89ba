"""One query model for the list page, the API and the client (SPEC §3).

URL parameters → ``ListQuery.from_params`` → ``planner.plan`` → ``ListQuery.filter(queryset,
plan)`` → ``ListQuery.page`` (a keyset page), ``ListQuery.total`` and the group counts. The
page and the API call exactly this code.

The pieces, top to bottom:

* the **label expression** language (``q=``): a lark grammar → a small tree of ``LabelTerm``,
  ``AttributeTerm``, ``And``, ``Or`` and ``Not`` → ``ExpressionCompiler`` → one ``Q``;
* the **Flyte field filters** (``filters=``): ``eq(phase,RUNNING)+gte(duration,100)``;
* **sort** keys and the **keyset cursor** (every sort has one: sort value, then id);
* **counts** (exact up to ``EXACT_COUNT_LIMIT``, then the planner's estimate) and **group
  counts**.

How a query is read (which index serves it, when a label leads, when terms are tested in
the row) is decided by ``executions.planner``, whose docstring has the index table.

SQLite has no GIN index: there an AND of labels is an AND of label subqueries.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connections
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform, compile_json_path
from django.db.models.functions import Coalesce, Concat, NullIf
from django.db.models.lookups import In
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from lark import Lark, Token, Transformer, Tree, UnexpectedCharacters, UnexpectedInput
from lark.exceptions import UnexpectedEOF, UnexpectedToken, VisitError

from execboard.fields import SORT_KEYS
from executions import releases as release_rules
from executions.errors import ExecboardError
from executions.labels import LabelError, validate_key
from executions.models import (
    Execution,
    ExecutionQuerySet,
    Label,
    Mode,
    Phase,
    Release,
    StageEvent,
)

if TYPE_CHECKING:
    from executions.planner import Plan

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_EXPRESSION_LENGTH = 4096
MAX_NESTING = 50
EXACT_COUNT_LIMIT = 10_000
ESTIMATE_TRUSTED_ABOVE = 15_000  # see count()
GROUP_BY_CHOICES = (("experiment",), ("group",), ("experiment", "group"))


class QueryError(ExecboardError):
    code = "invalid_query"
    status = 400


# --------------------------------------------------------------------------------------------
# Label expressions: grammar and tree
# --------------------------------------------------------------------------------------------

# `key:value` and `@attribute:value` are single tokens so that no space can sneak in between
# the key and its value. Keywords only count as keywords when a space, a parenthesis or the
# end follows, so `android` and `note:x` are labels; being tried first (priority 2), a lone
# `and`/`or`/`not` between terms is an operator.
GRAMMAR = r"""
?start: or_expr
      |                                -> empty
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND? not_expr)*
?not_expr: _NOT not_expr               -> negation
         | atom
?atom: "(" or_expr ")"
     | TERM                            -> label
     | ATTRIBUTE                       -> attribute

_OR.2: /or(?![^\s()])/i
_AND.2: /and(?![^\s()])/i
_NOT.2: /not(?![^\s()])/i
_VALUE: /:("([^"\\]|\\.)*"|[^\s()"]+)/
TERM: /[A-Za-z0-9][A-Za-z0-9._\/-]*/ _VALUE?
ATTRIBUTE: /@[A-Za-z_]+/ _VALUE?

%import common.WS
%ignore WS
"""

# The basic lexer reserves the keywords: `a and or b` is an error, not a label named "or".
_PARSER = Lark(GRAMMAR, parser="lalr", lexer="basic", maybe_placeholders=False)

# What the parser expected, in words, for error messages.
_EXPECTED_WORDS = {
    "TERM": "a label",
    "ATTRIBUTE": "an @attribute",
    "LPAR": '"("',
    "RPAR": '")"',
    "_NOT": '"not"',
    "_AND": '"and"',
    "_OR": '"or"',
    "$END": "the end",
}


@dataclass(frozen=True)
class LabelTerm:
    """``key:value`` (equality) or a bare ``key`` (has the label: ``value is None``)."""

    key: str
    value: str | None = None


@dataclass(frozen=True)
class AttributeTerm:
    """``@name`` or ``@name:value``: a condition on a field, a release or a stage."""

    name: str
    value: str | None = None


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = LabelTerm | AttributeTerm | And | Or | Not

ATTRIBUTES_WITH_VALUE = frozenset({"phase", "workflow", "user", "parent", "release", "stage"})
ATTRIBUTES_WITHOUT_VALUE = frozenset({"released"})


def _unquote(raw: str) -> str:
    if raw.startswith('"'):
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


_NEEDS_QUOTES = re.compile(r'[\s()"\\]')
_KEYWORDS = frozenset({"and", "or", "not"})


def _quote(value: str) -> str:
    """A value as it must be written in an expression (quoted when a bare word would not do)."""
    if value and not _NEEDS_QUOTES.search(value) and value.lower() not in _KEYWORDS:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _split_token(token: Token) -> tuple[str, str | None]:
    head, colon, raw = str(token).partition(":")
    return head, _unquote(raw) if colon else None


class _ToNodes(Transformer):
    """Parse tree → ``Node``s, validating label keys and attribute names on the way."""

    def empty(self, _children):
        return None

    def or_expr(self, children):
        return Or(tuple(children))

    def and_expr(self, children):
        return And(tuple(children))

    def negation(self, children):
        return Not(children[0])

    def label(self, children):
        token = children[0]
        key, value = _split_token(token)
        try:
            validate_key(key)
        except LabelError as exc:
            raise _syntax_error(exc.message, token.start_pos) from exc
        return LabelTerm(key, value)

    def attribute(self, children):
        token = children[0]
        name, value = _split_token(token)
        name = name[1:].lower()
        if name in ATTRIBUTES_WITH_VALUE:
            if value is None or value == "":
                raise _syntax_error(f"@{name} needs a value: @{name}:…", token.start_pos)
            _check_attribute_value(name, value)
            return AttributeTerm(name, value)
        if name in ATTRIBUTES_WITHOUT_VALUE:
            if value is not None:
                raise _syntax_error(f"@{name} takes no value.", token.start_pos)
            return AttributeTerm(name)
        known = ", ".join(f"@{a}" for a in sorted(ATTRIBUTES_WITH_VALUE | ATTRIBUTES_WITHOUT_VALUE))
        raise _syntax_error(f"Unknown attribute @{name}; known: {known}.", token.start_pos)


def _check_attribute_value(name: str, value: str) -> None:
    """Refuse, as the expression is read, a value the condition could never take: an
    unknown phase, a release version that is not SemVer."""
    if name == "phase" and value.upper() not in Phase.values:
        raise QueryError(
            f"Unknown phase {value!r} in @phase; expected one of {', '.join(Phase.values)}.",
            field="q",
        )
    _, at, version = value.partition("@")
    if name == "release" and at:
        try:
            release_rules.normalise_version(version)
        except ExecboardError as exc:
            raise QueryError(f"@release:{value}: {exc.message}", field="q") from None


def _syntax_error(message: str, position: int) -> QueryError:
    """A 400 naming the (1-based) column of the problem."""
    column = position + 1
    return QueryError(
        f"Syntax error at column {column}: {message}",
        field="q",
        code="invalid_expression",
        extra={"column": column},
    )


def _expected(names: Iterable[str]) -> str:
    words = sorted({_EXPECTED_WORDS.get(name, name) for name in names})
    return ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1]


def _describe(error: UnexpectedInput, text: str) -> QueryError:
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        expected = getattr(error, "expected", None) or getattr(error, "accepts", None) or ()
        return _syntax_error(
            f"the expression ends too early; expected {_expected(expected)}.", len(text)
        )
    if isinstance(error, UnexpectedToken):
        expected = _expected(error.accepts or error.expected)
        return _syntax_error(
            f"unexpected {str(error.token)!r}; expected {expected}.", error.token.start_pos
        )
    assert isinstance(error, UnexpectedCharacters)
    position = error.pos_in_stream
    char = text[position]
    if char == ":":
        message = "a value is missing after ':' (write key:value, or key:\"\" for an empty value)."
    elif char == '"':
        message = "a quoted value is not closed, or a quote is not preceded by key:."
    else:
        message = f"unexpected character {char!r}."
    return _syntax_error(message, position)


def _depth(tree: Tree | Token) -> int:
    """Nesting depth of a parse tree, computed without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, Tree):
            stack.extend((child, depth + 1) for child in node.children)
    return deepest


def _parenthesis_depth(text: str) -> int:
    """How deeply parentheses nest outside quoted values."""
    deepest = depth = 0
    quoted = escaped = False
    for char in text:
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest


def parse_expression(text: str) -> Node | None:
    """Parse a label expression; None for an empty one. Raise ``QueryError`` (400) with the
    column of a syntax error, and for expressions too long or too deeply nested."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise QueryError(
            f"The expression is {len(text):,} characters long; at most "
            f"{MAX_EXPRESSION_LENGTH:,} are allowed.",
            field="q",
            code="expression_too_long",
        )
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as error:
        raise _describe(error, text) from None
    # The transformer recurses; refuse deep trees before it could hit the recursion limit.
    if max(_depth(tree) - 2, _parenthesis_depth(text)) > MAX_NESTING:
        raise QueryError(
            f"The expression is nested more than {MAX_NESTING} levels deep.",
            field="q",
            code="expression_too_deep",
        )
    try:
        return _ToNodes().transform(tree)
    except VisitError as error:
        raise error.orig_exc from None


def to_text(node: Node | None) -> str:
    """The canonical text of an expression (parses back to the same tree)."""
    if node is None:
        return ""
    if isinstance(node, LabelTerm):
        return node.key if node.value is None else f"{node.key}:{_quote(node.value)}"
    if isinstance(node, AttributeTerm):
        return f"@{node.name}" if node.value is None else f"@{node.name}:{_quote(node.value)}"
    if isinstance(node, Not):
        inner = to_text(node.item)
        return f"not ({inner})" if isinstance(node.item, And | Or) else f"not {inner}"
    if isinstance(node, And):
        return " and ".join(and_operand_text(item) for item in node.items)
    return " or ".join(to_text(item) for item in node.items)


def and_operand_text(node: Node) -> str:
    """The text of a term of an AND (an OR needs parentheses there)."""
    return f"({to_text(node)})" if isinstance(node, Or) else to_text(node)


def conjuncts(node: Node | None) -> list[Node]:
    """The terms ANDed at the top of an expression (what the filter bar shows as chips)."""
    if node is None:
        return []
    return list(node.items) if isinstance(node, And) else [node]


def conjunction(terms: Iterable[Node]) -> Node | None:
    """The AND of terms (the inverse of ``conjuncts``)."""
    flat: list[Node] = []
    for term in terms:
        flat.extend(term.items if isinstance(term, And) else [term])
    if not flat:
        return None
    return flat[0] if len(flat) == 1 else And(tuple(flat))


# Editing an expression: the filter bar's chips and the rows' label chips change the list's
# expression through these, as functions of the tree (``conjuncts`` are the chips).


def add_term(expression: Node | None, term: Node) -> Node | None:
    """``expression and term``; the expression itself when the term is already ANDed."""
    terms = conjuncts(expression)
    return expression if term in terms else conjunction([*terms, term])


def remove_term(expression: Node | None, index: int) -> Node | None:
    """The expression without its ``index``-th ANDed term."""
    terms = _terms_with(expression, index)
    return conjunction(terms[:index] + terms[index + 1 :])


def negate_term(expression: Node | None, index: int) -> Node | None:
    """The expression with its ``index``-th ANDed term negated (or its ``not`` removed)."""
    terms = _terms_with(expression, index)
    term = terms[index]
    flipped = term.item if isinstance(term, Not) else Not(term)
    return conjunction([*terms[:index], flipped, *terms[index + 1 :]])


def or_value(expression: Node | None, index: int, value: str) -> Node | None:
    """The expression with its ``index``-th ANDed term ORed with another value of its key
    (``team:a`` → ``(team:a or team:b)``)."""
    terms = _terms_with(expression, index)
    term = terms[index]
    key = or_key(term)
    if key is None:
        raise QueryError("Only a key:value filter can be combined with another value.")
    items = term.items if isinstance(term, Or) else (term,)
    new = LabelTerm(key, value)
    if new in items:
        return expression
    return conjunction([*terms[:index], Or((*items, new)), *terms[index + 1 :]])


def or_key(term: Node) -> str | None:
    """The label key a term can be ORed on: ``k:v`` or ``(k:a or k:b)``."""
    if isinstance(term, LabelTerm) and term.value is not None:
        return term.key
    if isinstance(term, Or) and all(isinstance(item, LabelTerm) for item in term.items):
        keys = {item.key for item in term.items}
        if len(keys) == 1 and all(item.value is not None for item in term.items):
            return keys.pop()
    return None


def and_prefix(expression: Node | None) -> str:
    """What comes before a term ANDed to the expression: ``"a and b and "`` (or nothing).
    ``and_prefix(e) + and_operand_text(t)`` is the text of ``add_term(e, t)`` for a term not
    yet ANDed, with the expression written once for a page's many label chips."""
    return "".join(f"{and_operand_text(term)} and " for term in conjuncts(expression))


def _terms_with(expression: Node | None, index: int) -> list[Node]:
    terms = conjuncts(expression)
    if not 0 <= index < len(terms):
        raise QueryError("That filter chip no longer exists; start again from the list.")
    return terms


# --------------------------------------------------------------------------------------------
# Label expressions: SQL
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpressionCompiler:
    """Turns an expression tree into one ``Q`` over executions.

    The label subqueries are scoped to the list's project (``project_id``) or projects
    (``projects``, a queryset): ``label_project_kv_time``, the label index, leads with the
    project. On PostgreSQL an AND of several ``key:value`` equalities becomes one JSON
    containment test on ``Execution.labels`` served by the GIN index ``execution_labels_gin``.
    """

    project_id: int | None = None
    use_containment: bool = False
    projects: QuerySet | None = None

    @classmethod
    def for_database(
        cls, project_id: int | None, alias: str = "default", projects: QuerySet | None = None
    ) -> ExpressionCompiler:
        return cls(project_id, connections[alias].vendor == "postgresql", projects)

    def compile(self, node: Node) -> Q:
        if isinstance(node, LabelTerm):
            return Q(pk__in=self._label_rows(node.key, node.value).values("execution_id"))
        if isinstance(node, AttributeTerm):
            return self._attribute(node)
        if isinstance(node, Not):
            return ~self.compile(node.item)
        if isinstance(node, And):
            return self._and(node.items)
        return self._or(node.items)

    def _label_rows(self, key: str, value: str | None) -> QuerySet:
        return scoped_labels(self.project_id, self.projects).filter(
            key=key, **({} if value is None else {"value": value})
        )

    def _and(self, items: tuple[Node, ...]) -> Q:
        """Several equalities on distinct keys → one ``labels @> {...}`` on PostgreSQL."""
        condition = Q()
        rest = list(items)
        if self.use_containment:
            equalities: dict[str, str] = {}
            for item in items:
                if (
                    isinstance(item, LabelTerm)
                    and item.value is not None
                    and item.key not in equalities
                ):
                    equalities[item.key] = item.value
                    rest.remove(item)
            if len(equalities) >= 2:
                condition &= Q(labels__contains=equalities)
            else:
                rest = list(items)
        for item in rest:
            condition &= self.compile(item)
        return condition

    def _or(self, items: tuple[Node, ...]) -> Q:
        """Label terms → one ``IN (… UNION …)`` of label index scans (``label_scan``);
        anything else is ORed alongside."""
        terms = [item for item in items if isinstance(item, LabelTerm)]
        condition = Q(pk__in=self.label_scan(terms)) if terms else Q()
        for item in items:
            if not isinstance(item, LabelTerm):
                condition |= self.compile(item)
        return condition

    def label_scan(self, terms: Iterable[LabelTerm]) -> QuerySet:
        """The ids of the executions with any of these labels: a ``UNION`` of label index
        scans, one per key (values of the same key share one scan with ``value IN (…)``)."""
        scans = []
        for key, values in _values_by_key(terms).items():
            rows = self._label_rows(key, None)
            if values is not None:
                rows = (
                    rows.filter(value__in=values)
                    if len(values) > 1
                    else rows.filter(value=values[0])
                )
            scans.append(rows.values("execution_id"))
        return scans[0].union(*scans[1:]) if len(scans) > 1 else scans[0]

    def in_row(self, terms: Iterable[LabelTerm]) -> Q:
        """Any of these label terms, tested on the execution row's ``labels`` copy
        (``labels ->> 'team' IN (…)``, ``(labels -> 'release') IS NOT NULL``) rather than
        through the label rows: see ``executions.planner`` for when that wins.

        PostgreSQL has no statistics for these expressions and takes them as common (0.5 %
        for an equality, 99.5 % for a key), so with a ``LIMIT`` it walks the sort order's
        index and tests each row it reads, where the label rows' form would probe the label
        primary key once per row. A missing key is NULL, not a match, in both forms."""
        condition = Q()
        for key, values in _values_by_key(terms).items():
            if values is None:
                condition |= Q(_KeyPresent(KeyTransform(key, "labels")))
            else:
                condition |= Q(In(KeyTextTransform(key, "labels"), values))
        return condition

    def _releases(self) -> QuerySet:
        releases = Release.objects.all()
        if self.project_id is not None:
            releases = releases.filter(project_id=self.project_id)
        return releases

    def _attribute(self, term: AttributeTerm) -> Q:
        name, value = term.name, term.value or ""
        if name == "phase":
            return Q(phase=value.upper())  # a known phase (_check_attribute_value)
        if name == "workflow":
            return Q(workflow=value)
        if name == "user":
            return Q(launched_by=value)
        if name == "parent":
            return Q(parent_id=value)
        if name == "released":
            return Q(pk__in=self._releases().values("execution_id"))
        if name == "release":
            artifact, at, version = value.partition("@")
            releases = self._releases().filter(artifact=artifact)
            if at:
                # As the registry does: 1.2.3 is v1.2.3, and build metadata is ignored. The
                # version is SemVer (_check_attribute_value).
                normalised = release_rules.normalise_version(version)
                releases = releases.filter(release_rules.same_version(normalised))
            return Q(pk__in=releases.values("execution_id"))
        # @stage: the current version of each artifact in the stage is its latest stage event
        # for that stage, provided that event is an assignment.
        latest = (
            StageEvent.objects.filter(
                stage=value,
                release__project_id=OuterRef("release__project_id"),
                release__artifact=OuterRef("release__artifact"),
            )
            .order_by("-at", "-id")
            .values("id")[:1]
        )
        current = StageEvent.objects.filter(
            stage=value, action=StageEvent.Action.ASSIGN, id=Subquery(latest)
        )
        if self.project_id is not None:
            current = current.filter(release__project_id=self.project_id)
        return Q(pk__in=current.values("release__execution_id"))


def _values_by_key(terms: Iterable[LabelTerm]) -> dict[str, list[str] | None]:
    """The values ORed per key; None where the key alone is asked for (any value)."""
    values_by_key: dict[str, list[str] | None] = {}
    for term in terms:
        known = values_by_key.setdefault(term.key, [])
        if term.value is None or known is None:
            values_by_key[term.key] = None
        else:
            known.append(term.value)
    return values_by_key


def scoped_labels(project_id: int | None, projects: QuerySet | None = None) -> QuerySet:
    """Label rows of one project, or of these projects: the condition that lets a label
    lookup use ``label_project_kv_time`` (one index range per project)."""
    if project_id is not None:
        return Label.objects.filter(project_id=project_id)
    if projects is not None:
        return Label.objects.filter(project_id__in=projects)
    return Label.objects.all()


class _KeyPresent(Func):
    """``(labels -> 'key') IS NOT NULL``: unlike ``labels ? 'key'``, which PostgreSQL
    estimates as rare, this one it takes as common (see ``ExpressionCompiler.in_row``)."""

    template = "(%(expressions)s) IS NOT NULL"
    output_field = BooleanField()


# --------------------------------------------------------------------------------------------
# Flyte field filters
# --------------------------------------------------------------------------------------------

FILTER_FIELDS = {
    "project": "project__slug",
    "domain": "domain",
    "workflow": "workflow",
    "workflow_version": "workflow_version",
    "phase": "phase",
    "created_at": "created_at",
    "started_at": "started_at",
    "ended_at": "ended_at",
    "duration": "duration",
    "launched_by": "launched_by",
    "mode": "mode",
}
# FlyteAdmin's names for the same fields.
FILTER_ALIASES = {
    "execution_created_at": "created_at",
    "execution_updated_at": "updated_at",
    "workflow.name": "workflow",
    "workflow.version": "workflow_version",
    "workflow.project": "project",
    "workflow.domain": "domain",
    "user": "launched_by",
    "name": "id",
}
# Fields only reachable through a Flyte alias.
_ALIAS_ONLY_FIELDS = {"updated_at": "phase_occurred_at", "id": "id"}
_TIME_FIELDS = frozenset({"created_at", "started_at", "ended_at", "updated_at"})
# FlyteAdmin's integer ExecutionMode values (2, SYSTEM, has no Execboard counterpart).
_FLYTE_MODES = {"0": Mode.MANUAL, "1": Mode.SCHEDULED, "3": Mode.RELAUNCH, "4": Mode.CHILD}
FILTER_FUNCTIONS = {
    "eq": "exact",
    "ne": "exact",
    "gt": "gt",
    "gte": "gte",
    "lt": "lt",
    "lte": "lte",
    "contains": "contains",
    "value_in": "in",
    "value_not_in": "in",
}
_FILTER_RE = re.compile(r"\s*([a-z_]+)\(\s*([A-Za-z_.]+)\s*,\s*([^()]*?)\s*\)\s*\Z")


def _filter_field(name: str) -> str:
    """A field name or Flyte alias → the canonical name (``execution.`` prefix allowed)."""
    name = name.removeprefix("execution.")
    name = FILTER_ALIASES.get(name, name)
    if name not in FILTER_FIELDS and name not in _ALIAS_ONLY_FIELDS:
        raise QueryError(
            f"Unknown filter field {name!r}; fields: {', '.join(FILTER_FIELDS)} "
            f"(and Flyte's {', '.join(FILTER_ALIASES)}).",
            field="filters",
        )
    return name


def _parse_moment(text: str) -> datetime | None:
    """An RFC 3339 timestamp (UTC when it names no zone); None when it is not one."""
    try:
        moment = parse_datetime(text)
    except ValueError:  # well-formed but impossible, such as month 13
        return None
    if moment is None:
        return None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


def _filter_value(name: str, raw: str) -> Any:
    if name in _TIME_FIELDS:
        moment = _parse_moment(raw)
        if moment is None:
            raise QueryError(
                f"{name} needs an RFC 3339 timestamp such as 2026-01-31T12:00:00Z; got {raw!r}.",
                field="filters",
            )
        return moment
    if name == "duration":
        try:
            seconds = float(raw.removesuffix("s"))
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds):
            raise QueryError(f"duration is in seconds; got {raw!r}.", field="filters")
        return seconds
    if name == "phase":
        if raw.upper() not in Phase.values:
            raise QueryError(
                f"Unknown phase {raw!r}; expected one of {', '.join(Phase.values)}.",
                field="filters",
            )
        return raw.upper()
    if name == "mode":
        mode = _FLYTE_MODES.get(raw, raw.upper())
        if mode not in Mode.values:
            raise QueryError(
                f"Unknown mode {raw!r}; expected one of {', '.join(Mode.values)}.",
                field="filters",
            )
        return mode
    return raw


def parse_filters(text: str) -> Q:
    """FlyteAdmin's ``func(field,value)+func(field,value)`` → one ``Q`` (all ANDed)."""
    condition = Q()
    if not text.strip():
        return condition
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise QueryError(
            f"filters is at most {MAX_EXPRESSION_LENGTH:,} characters long.", field="filters"
        )
    for part in text.split("+"):
        match = _FILTER_RE.match(part)
        if not match:
            raise QueryError(
                f"Cannot read the filter {part.strip()!r}; write func(field,value), e.g. "
                "eq(phase,RUNNING), joined by '+'.",
                field="filters",
            )
        function, name, raw = match.groups()
        if function not in FILTER_FUNCTIONS:
            raise QueryError(
                f"Unknown filter function {function!r}; functions: {', '.join(FILTER_FUNCTIONS)}.",
                field="filters",
            )
        name = _filter_field(name)
        column = FILTER_FIELDS.get(name) or _ALIAS_ONLY_FIELDS[name]
        lookup = FILTER_FUNCTIONS[function]
        if lookup == "contains" and (name in _TIME_FIELDS or name == "duration"):
            raise QueryError(
                f"contains works on text fields, not on {name}; use gt, gte, lt or lte.",
                field="filters",
            )
        if lookup == "in":
            value: Any = [_filter_value(name, v.strip()) for v in raw.split(";") if v.strip()]
        else:
            value = _filter_value(name, raw)
        term = Q(**{f"{column}__{lookup}": value})
        condition &= ~term if function in ("ne", "value_not_in") else term
    return condition


# --------------------------------------------------------------------------------------------
# Sort and keyset cursor
# --------------------------------------------------------------------------------------------

SORT_ALIASES = {"execution_created_at": "created_at"}
_NULLABLE_SORT_KEYS = frozenset({"started_at", "ended_at", "duration"})
_SORT_VALUE = "sort_value"


def _sort_expression(key: str):
    """What a sort key orders by. ``name`` is the display name (the ``name`` label, else the
    id); it has no index and suits filtered lists."""
    if key == "name":
        return Coalesce(
            NullIf(KeyTextTransform("name", "labels"), Value("")), F("id"), output_field=TextField()
        )
    return F(key)


# Sorting by a JSON value: a label's (``label.team``), a top-level key of the user metadata
# (``meta.loss``) or of the inputs (``input.lr``). Three selected columns order the rows:
# the value's kind (0 a number, 1 anything else, 2 missing or null: missing last in both
# directions), the number, and the text.
FIELD_SORT_SOURCES = {"label": "labels", "meta": "user_metadata", "input": "inputs"}
FIELD_SORT = ("sort_kind", "sort_number", "sort_text")
MAX_FIELD_KEY_LENGTH = 200
# Quotes and backslashes are refused: SQLite's JSON paths cannot name such a key.
_FIELD_KEY_RE = re.compile(r'[^\s,"\\\x00-\x1f\x7f]+')


@dataclass(frozen=True)
class FieldSort:
    """``<source>.<key>``: a JSON value to sort by, from ``FIELD_SORT_SOURCES``."""

    source: str
    key: str

    @classmethod
    def parse(cls, name: str) -> FieldSort | None:
        """``meta.loss`` → ``FieldSort("meta", "loss")``; None for a plain sort key. A
        source with a bad key raises ``QueryError``."""
        source, dot, key = name.partition(".")
        if not dot or source not in FIELD_SORT_SOURCES:
            return None
        if not _FIELD_KEY_RE.fullmatch(key) or len(key) > MAX_FIELD_KEY_LENGTH:
            raise QueryError(
                f"{source}.<key> needs a key of 1 to {MAX_FIELD_KEY_LENGTH} characters without "
                f"spaces, commas, quotes or backslashes; got {name!r}.",
                field="sort_by.key",
            )
        if source == "label":
            try:
                validate_key(key)
            except LabelError as exc:
                raise QueryError(f"{name}: {exc.message}", field="sort_by.key") from None
        return cls(source, key)

    @property
    def name(self) -> str:
        return f"{self.source}.{self.key}"

    def expressions(self) -> dict[str, Func]:
        column = FIELD_SORT_SOURCES[self.source]
        return {name: _JsonSortValue(F(column), part=name, key=self.key) for name in FIELD_SORT}


class _JsonSortValue(Func):
    """One of ``FIELD_SORT`` for a top-level key of a JSON column: its kind, its number or
    its text, written per database (PostgreSQL's ``jsonb_typeof``, SQLite's ``json_type``)."""

    def __init__(self, column: F, *, part: str, key: str) -> None:
        output = {"sort_kind": IntegerField(), "sort_number": FloatField()}
        super().__init__(column, output_field=output.get(part, TextField()))
        self.part, self.key = part, key

    def as_postgresql(self, compiler, connection):
        column, _ = compiler.compile(self.source_expressions[0])  # a column: no params
        kind = f"jsonb_typeof({column} -> %s)"
        sql = {
            "sort_kind": f"CASE WHEN {kind} = 'number' THEN 0 "
            f"WHEN {kind} IS NULL OR {kind} = 'null' THEN 2 ELSE 1 END",
            "sort_number": f"CASE WHEN {kind} = 'number' "
            f"THEN ({column} ->> %s)::double precision END",
            "sort_text": f"CASE WHEN {kind} NOT IN ('number', 'null') THEN {column} ->> %s END",
        }[self.part]
        return sql, (self.key,) * sql.count("%s")

    def as_sqlite(self, compiler, connection):
        column, _ = compiler.compile(self.source_expressions[0])  # a column: no params
        path = compile_json_path([self.key])
        kind = f"json_type({column}, %s)"
        value = f"json_extract({column}, %s)"
        sql = {
            "sort_kind": f"CASE WHEN {kind} IN ('integer', 'real') THEN 0 "
            f"WHEN {kind} IS NULL OR {kind} = 'null' THEN 2 ELSE 1 END",
            "sort_number": f"CASE WHEN {kind} IN ('integer', 'real') THEN {value} END",
            "sort_text": f"CASE {kind} WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
            f"WHEN 'integer' THEN NULL WHEN 'real' THEN NULL WHEN 'null' THEN NULL "
            f"ELSE {value} END",
        }[self.part]
        return sql, (path,) * sql.count("%s")


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: the sort key and direction it belongs to, and the last
    row's sort value and id (the tie-breaker)."""

    key: str
    descending: bool
    value: Any
    id: str

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        raw = json.dumps([self.key, "d" if self.descending else "a", value, self.id])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        invalid = QueryError(
            "The cursor is not valid; start again from the first page.", field="cursor"
        )
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            key, direction, value, execution_id = json.loads(raw)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise invalid from None
        if not isinstance(key, str) or direction not in ("a", "d"):
            raise invalid
        if not isinstance(execution_id, str):
            raise invalid
        try:
            field_sort = FieldSort.parse(key)
        except QueryError:
            raise invalid from None
        if field_sort is None and key not in SORT_KEYS:
            raise invalid
        if field_sort is not None:
            if not _is_field_sort_value(value):
                raise invalid
        elif value is not None:
            if key in _TIME_FIELDS:
                value = _parse_moment(value) if isinstance(value, str) else None
            elif key == "duration":
                finite = isinstance(value, int | float) and math.isfinite(value)
                value = float(value) if finite else None
            elif not isinstance(value, str):
                value = None
            if value is None:
                raise invalid
        return cls(key, direction == "d", value, execution_id)

    def after(self) -> Q:
        """Rows after this cursor in its order (nulls sort last in both directions).

        For a ``FieldSort`` the kind always ascends (numbers, text, missing) and the number
        or text within it follows the direction.

        For a key that is never null the redundant bound ``value <= cursor`` (``>=``
        ascending) comes first: the OR alone cannot start an index scan, so page 21 would
        walk past the 1,000 rows of pages 1-20 instead of starting at the cursor."""
        beyond, tie = ("lt", "lt") if self.descending else ("gt", "gt")
        if FieldSort.parse(self.key) is not None:
            kind, number, text = self.value
            within = {0: ("sort_number", number), 1: ("sort_text", text)}.get(kind)
            after_in_kind = Q(**{f"id__{tie}": self.id})
            if within is not None:
                name, value = within
                after_in_kind = Q(**{f"{name}__{beyond}": value}) | Q(
                    **{name: value, f"id__{tie}": self.id}
                )
            return Q(sort_kind__gt=kind) | (Q(sort_kind=kind) & after_in_kind)
        if self.value is None:
            return Q(**{f"{_SORT_VALUE}__isnull": True, f"id__{tie}": self.id})
        condition = Q(**{f"{_SORT_VALUE}__{beyond}": self.value}) | Q(
            **{_SORT_VALUE: self.value, f"id__{tie}": self.id}
        )
        if self.key in _NULLABLE_SORT_KEYS:
            condition |= Q(**{f"{_SORT_VALUE}__isnull": True})
            return condition
        return Q(**{f"{_SORT_VALUE}__{beyond}e": self.value}) & condition


def _is_field_sort_value(value: Any) -> bool:
    """A cursor's ``[kind, number, text]``, consistent with its kind."""
    if not isinstance(value, list) or len(value) != 3:
        return False
    kind, number, text = value
    if kind == 0:
        return isinstance(number, int | float) and math.isfinite(number) and text is None
    if kind == 1:
        return number is None and isinstance(text, str)
    return kind == 2 and number is None and text is None


# --------------------------------------------------------------------------------------------
# The list query
# --------------------------------------------------------------------------------------------

TIME_RANGES = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


def _param_list(params: Mapping[str, Any], name: str) -> list[str]:
    """``phase=A,B`` and ``phase=A&phase=B`` alike."""
    raw = params.getlist(name) if hasattr(params, "getlist") else [params.get(name) or ""]
    return [item.strip() for value in raw for item in (value or "").split(",") if item.strip()]


def parse_namespace(text: str) -> LabelTerm | None:
    """A namespace is a label (``user:anne``, ``production:nightly``, any ``key:value``) or
    empty for global."""
    text = text.strip()
    if not text:
        return None
    key, colon, value = text.partition(":")
    try:
        validate_key(key)
    except LabelError as exc:
        raise QueryError(f"namespace: {exc.message}", field="namespace") from None
    return LabelTerm(key, value if colon else None)


@dataclass(frozen=True)
class ListQuery:
    """Everything a list request asks for, validated. Build it with ``from_params``."""

    expression: Node | None = None
    filters: str = ""
    domain: str | None = None
    phases: tuple[str, ...] = ()
    since: str = ""
    namespace: LabelTerm | None = None
    sort_key: str = "created_at"
    descending: bool = True
    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None
    group_by: tuple[str, ...] = ()
    filter_q: Q = field(default_factory=Q, compare=False, repr=False)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ListQuery:
        """Validate URL parameters; raise ``QueryError`` (400) naming the bad one. Unknown
        sort keys, filter fields and functions are errors, never ignored."""
        expression = parse_expression(params.get("q") or "")
        filters = params.get("filters") or ""
        filter_q = parse_filters(filters)
        domain = params.get("domain") or None
        if domain is not None and domain not in settings.EXECBOARD_DOMAINS:
            raise QueryError(
                f"Unknown domain {domain!r}; expected one of "
                f"{', '.join(settings.EXECBOARD_DOMAINS)}.",
                field="domain",
            )
        phases = tuple(p.upper() for p in _param_list(params, "phase"))
        for phase in phases:
            if phase not in Phase.values:
                raise QueryError(
                    f"Unknown phase {phase!r}; expected one of {', '.join(Phase.values)}.",
                    field="phase",
                )
        since = params.get("since") or ""
        if since and since not in TIME_RANGES:
            raise QueryError(
                f"since must be one of {', '.join(TIME_RANGES)}; got {since!r}.", field="since"
            )
        raw_key = params.get("sort_by.key") or "created_at"
        sort_key = SORT_ALIASES.get(raw_key, raw_key)
        if sort_key not in SORT_KEYS and FieldSort.parse(sort_key) is None:
            raise QueryError(
                f"Unknown sort key {raw_key!r}; expected one of {', '.join(SORT_KEYS)}, or "
                "label.<key>, meta.<key> or input.<key>.",
                field="sort_by.key",
            )
        direction = (params.get("sort_by.direction") or "DESCENDING").upper()
        if direction not in ("ASCENDING", "DESCENDING"):
            raise QueryError(
                "sort_by.direction must be ASCENDING or DESCENDING.", field="sort_by.direction"
            )
        raw_limit = str(params.get("limit") or DEFAULT_LIMIT)
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise QueryError(f"limit must be a whole number from 1 to {MAX_LIMIT}.", field="limit")
        cursor = Cursor.decode(params["cursor"]) if params.get("cursor") else None
        descending = direction == "DESCENDING"
        if cursor is not None and (cursor.key, cursor.descending) != (sort_key, descending):
            raise QueryError(
                "The cursor belongs to another sort order; start again from the first page.",
                field="cursor",
            )
        group_by = tuple(_param_list(params, "group_by"))
        if group_by and group_by not in GROUP_BY_CHOICES:
            raise QueryError(
                "group_by must be experiment, group, or experiment,group.", field="group_by"
            )
        return cls(
            expression=expression,
            filters=filters,
            domain=domain,
            phases=phases,
            since=since,
            namespace=parse_namespace(params.get("namespace") or ""),
            sort_key=sort_key,
            descending=descending,
            limit=int(raw_limit),
            cursor=cursor,
            group_by=group_by,
            filter_q=filter_q,
        )

    @property
    def has_conditions(self) -> bool:
        """True when something narrows the list beyond its project."""
        return bool(
            self.expression
            or self.filters
            or self.domain
            or self.phases
            or self.since
            or self.namespace
        )

    @property
    def field_sort(self) -> FieldSort | None:
        """The JSON value the list is sorted by (``meta.loss``), if it is sorted by one."""
        return FieldSort.parse(self.sort_key)

    def narrowed(self, queryset: QuerySet, compiler: ExpressionCompiler) -> QuerySet:
        """``queryset`` narrowed by the query's plain conditions: domain, phases, time and
        namespace (not the expression, the field filters or the cursor)."""
        if self.domain:
            queryset = queryset.filter(domain=self.domain)
        if self.phases:
            queryset = queryset.filter(phase__in=self.phases)
        if self.since:
            queryset = queryset.filter(created_at__gte=timezone.now() - TIME_RANGES[self.since])
        if self.namespace:
            queryset = queryset.filter(compiler.compile(self.namespace))
        return queryset

    def filter(self, queryset: ExecutionQuerySet, plan: Plan) -> QuerySet:
        """Every condition of the query (not the cursor) applied to ``queryset``, read as
        ``plan`` says (``executions.planner``).

        The plan's scope is the project the queryset is limited to (``project_id``), or the
        projects it is limited to (``projects``): label lookups are scoped the same way, as
        the label index requires (``scoped_labels``). ``top_level_only`` keeps only the
        executions whose parent is not itself a match (``top_level``: the page's rows)."""
        compiler = ExpressionCompiler.for_database(plan.project_id, queryset.db, plan.projects)
        narrowed = self.narrowed(queryset, compiler)
        expression = self.expression
        if plan.driver is not None:
            narrowed = narrowed.filter(
                label_rows__project_id=plan.project_id,
                label_rows__key=plan.driver.key,
                label_rows__value=plan.driver.value,
            )
            expression = conjunction(term for term in conjuncts(expression) if term != plan.driver)
        elif plan.walked:
            for term in plan.walked:
                narrowed = narrowed.filter(compiler.in_row(label_terms(term)))
            expression = conjunction(t for t in conjuncts(expression) if t not in plan.walked)
        if expression is not None:
            narrowed = narrowed.filter(compiler.compile(expression))
        narrowed = narrowed.filter(self.filter_q)
        return top_level(narrowed) if plan.top_level_only else narrowed

    def counted(self, queryset: ExecutionQuerySet, plan: Plan) -> QuerySet:
        """What ``total`` counts for the list ``filter(queryset, plan)``: the same executions,
        in the form ``plan.count_form`` names. Where the label index or the scope's index is
        counted, the sub-executions that nest under a matching parent are taken away
        (``EXCEPT`` those, found through the ``parent_id`` index) instead of testing every
        match for a listed parent."""
        if plan.count_form == "list":
            return self.filter(queryset, plan)
        if plan.count_form == "label_rows":
            return self.filter(queryset, replace(plan, walked=()))
        if plan.count_form == "scope":
            counted = queryset.order_by().values("pk")
        else:
            compiler = ExpressionCompiler.for_database(plan.project_id, queryset.db, plan.projects)
            counted = compiler.label_scan(label_terms(conjuncts(self.expression)[0]))
        if plan.top_level_only:
            matches = self.filter(queryset, replace(plan, top_level_only=False))
            nested = matches.filter(parent__isnull=False, parent__in=matches.values("pk"))
            counted = counted.difference(nested.order_by().values("pk"))
        return counted

    def ordered(self, queryset: QuerySet, plan: Plan) -> QuerySet:
        """The sort order, id as the tie-breaker, nulls last in both directions.

        ``NULLS LAST`` is spelled out only for keys that can be null: PostgreSQL's ``DESC``
        puts nulls first, and an ``ORDER BY created_at DESC NULLS LAST`` could not walk the
        ``created_at DESC`` indexes -- it would sort every matching row instead. A JSON value
        (``FieldSort``) orders by its kind first (numbers, then text, then missing) and is
        selected, for the next page's cursor."""
        field_sort = self.field_sort
        if field_sort is not None:
            queryset = queryset.annotate(**field_sort.expressions())
            if plan.sort_window:
                latest = queryset.order_by("-created_at", "-id").values("pk")[: plan.sort_window]
                queryset = queryset.filter(pk__in=Subquery(latest))
            order = [F(name).desc() if self.descending else F(name).asc() for name in FIELD_SORT]
            order[0] = F(FIELD_SORT[0]).asc()  # numbers, then text, then missing, either way
            tie = F("id").desc() if self.descending else F("id").asc()
            return queryset.order_by(*order, tie)
        sort = _sort_expression(self.sort_key)
        if plan.driver is not None:
            sort = F("label_rows__created_at")  # the joined label's copy (see filter())
        queryset = queryset.alias(**{_SORT_VALUE: sort})
        if self.descending:
            nulls_last = True if self.sort_key in _NULLABLE_SORT_KEYS else None
            return queryset.order_by(F(_SORT_VALUE).desc(nulls_last=nulls_last), F("id").desc())
        return queryset.order_by(F(_SORT_VALUE).asc(nulls_last=True), F("id").asc())

    def page(self, filtered: QuerySet, plan: Plan) -> tuple[list[Execution], Cursor | None]:
        """One keyset page of an already filtered queryset and the next page's cursor (None
        at the end). Page 1,000 costs what page 1 costs: no OFFSET."""
        queryset = self.ordered(filtered, plan)
        if self.cursor:
            queryset = queryset.filter(self.cursor.after())
        rows = list(queryset[: self.limit + 1])
        if len(rows) <= self.limit:
            return rows, None
        rows = rows[: self.limit]
        return rows, self.cursor_after(rows[-1])

    def total(
        self,
        queryset: ExecutionQuerySet,
        plan: Plan,
        rows: list[Execution],
        next_cursor: Cursor | None,
    ) -> tuple[int, bool]:
        """``(count, is_plan)`` of the list ``filter(queryset, plan)``; a first page that is
        also the last one is its own count (no query)."""
        if self.cursor is None and next_cursor is None:
            return len(rows), False
        total, is_plan, _ = count(self.counted(queryset, plan), plan.estimated_rows)
        return total, is_plan

    def page_total(
        self,
        queryset: ExecutionQuerySet,
        plan: Plan,
        rows: list[Execution],
        next_cursor: Cursor | None,
    ) -> tuple[int, bool, int]:
        """``(count, is_plan, nested)`` for the page's rows (``plan.top_level_only``): every
        match is counted, as the API and the export count them, and ``nested`` says how many
        of them the page shows under their parents (``nested_matches``): one statement."""
        every_match = replace(plan, top_level_only=False)
        nested = nested_matches(self, queryset, plan)
        if self.cursor is None and next_cursor is None:
            nested_total = nested.count()
            return len(rows) + nested_total, False, nested_total
        return count(self.counted(queryset, every_match), plan.estimated_rows, nested=nested)

    def matching_ids(self, queryset: ExecutionQuerySet, plan: Plan) -> QuerySet:
        """The ids of the list ``filter(queryset, plan)``, for a subquery: in the form it is
        counted in, as the form made for walking in order would be read whole."""
        counted = self.counted(queryset, plan)
        return counted if counted.query.values_select else counted.order_by().values("pk")

    def cursor_after(self, row: Execution) -> Cursor:
        if self.field_sort is not None:
            value = [getattr(row, name) for name in FIELD_SORT]
        elif self.sort_key == "name":
            value = row.display_name
        else:
            value = getattr(row, self.sort_key)
        return Cursor(self.sort_key, self.descending, value, row.id)


def label_terms(node: Node) -> list[LabelTerm]:
    """The label terms of a walkable term (``walkable_terms``)."""
    return list(node.items) if isinstance(node, Or) else [node]


def walkable_terms(expression: Node | None) -> list[Node]:
    """The top-level terms ``ExpressionCompiler.in_row`` can test: a key, an OR of label
    terms, and a ``key:value`` unless it is one of several (those are one GIN
    containment test)."""
    terms = conjuncts(expression)
    equalities = sum(isinstance(t, LabelTerm) and t.value is not None for t in terms)
    return [
        term
        for term in terms
        if (isinstance(term, LabelTerm) and (term.value is None or equalities == 1))
        or (isinstance(term, Or) and all(isinstance(item, LabelTerm) for item in term.items))
    ]


def count(
    filtered: QuerySet, estimate: int | None = None, *, nested: QuerySet | None = None
) -> tuple[int, bool, int]:
    """``(count, is_plan, nested)``: the count, exact up to ``EXACT_COUNT_LIMIT`` (counting
    stops there), beyond it PostgreSQL's planner estimate, which costs no scan (other
    databases count); and the exact number of ``nested`` (0 without it), counted in the same
    statement.

    On PostgreSQL the estimate comes first: when the planner expects more than
    ``ESTIMATE_TRUSTED_ABOVE`` rows, counting the first 10,001 (a join per row for a label
    filter, tens of milliseconds at 1M executions) would only confirm what it already says.
    The margin keeps lists of fewer than 10,000 exact unless the planner overestimates by
    half; with the label statistics (migration 0002) its estimates are within about 25 %.
    ``estimate``: one the caller already has for the same matches (PostgreSQL only)."""
    if estimate is None and connections[filtered.db].vendor == "postgresql":
        estimate = planner_rows(filtered)
    if estimate is not None and estimate > ESTIMATE_TRUSTED_ABOVE:
        return estimate, True, (nested.count() if nested is not None else 0)
    exact, nested_count = _counts(filtered.order_by()[: EXACT_COUNT_LIMIT + 1], nested)
    if exact <= EXACT_COUNT_LIMIT:
        return exact, False, nested_count
    if estimate is None:
        return filtered.order_by().count(), False, nested_count
    return max(estimate, EXACT_COUNT_LIMIT + 1), True, nested_count


def _counts(counted: QuerySet, nested: QuerySet | None) -> tuple[int, int]:
    """The rows of ``counted`` and of ``nested`` in one statement of two scalar
    subqueries (``nested`` None: 0, and a plain count)."""
    if nested is None:
        return counted.count(), 0
    parts = [_ids(queryset).query.sql_with_params() for queryset in (counted, nested)]
    sql = ", ".join(
        f"(SELECT COUNT(*) FROM ({part}) counted_{i})" for i, (part, _) in enumerate(parts)
    )
    with connections[counted.db].cursor() as cursor:
        cursor.execute(f"SELECT {sql}", [param for _, params in parts for param in params])
        total, nested_total = cursor.fetchone()
    return total, nested_total


def _ids(queryset: QuerySet) -> QuerySet:
    """The queryset as a one-column subquery (its ids), without an order."""
    if queryset.query.values_select or queryset.query.combinator:
        return queryset.order_by() if not queryset.query.is_sliced else queryset
    return (
        queryset.values("pk").order_by() if not queryset.query.is_sliced else queryset.values("pk")
    )


def planner_rows(*querysets: QuerySet) -> Any:
    """The rows PostgreSQL's planner expects each queryset to return (no scan): an int for
    one queryset, a tuple for several, estimated by a single ``EXPLAIN`` of their
    ``UNION ALL`` (one statement, whose ``Append`` has a plan per queryset)."""
    parts = [
        (qs if qs.query.values_select or qs.query.combinator else qs.values("pk"))
        .order_by()
        .query.sql_with_params()
        for qs in querysets
    ]
    sql = " UNION ALL ".join(f"({part})" for part, _ in parts)
    params = [param for _, part_params in parts for param in part_params]
    with connections[querysets[0].db].cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    plan = plan[0]["Plan"]
    if len(querysets) == 1:
        return int(plan["Plan Rows"])
    branches = plan.get("Plans", []) if plan["Node Type"] == "Append" else []
    if len(branches) != len(querysets):  # a branch the planner proved empty was dropped
        return tuple(planner_rows(queryset) for queryset in querysets)
    return tuple(int(branch["Plan Rows"]) for branch in branches)


@dataclass
class Group:
    """A group of the list: its label values (None: the execution lacks the key), how many
    executions it has, by phase, and for ``experiment`` then ``group`` its subgroups."""

    values: tuple[str | None, ...]
    count: int = 0
    phases: dict[str, int] = field(default_factory=dict)
    subgroups: list[Group] = field(default_factory=list)

    @property
    def value(self) -> str | None:
        return self.values[-1]

    @property
    def phase_summary(self) -> list[tuple[str, int]]:
        """Phases by count, most first (e.g. 12 SUCCEEDED, 2 FAILED, 1 RUNNING)."""
        return sorted(self.phases.items(), key=lambda item: (-item[1], item[0]))


def _sorted_groups(groups: Iterable[Group]) -> list[Group]:
    """Largest first, by value on ties; the ungrouped (None) group last."""
    return sorted(groups, key=lambda g: (g.value is None, -g.count, g.value or ""))


def group_summary(filtered: QuerySet, keys: tuple[str, ...]) -> list[Group]:
    """Counts and phase summaries per group value (nested for two keys), in one query over
    the matching executions, reading group values from the ``labels`` JSON copy."""
    columns = {f"g{i}": KeyTextTransform(key, "labels") for i, key in enumerate(keys)}
    rows = filtered.order_by().annotate(**columns).values(*columns, "phase").annotate(n=Count("pk"))
    top: dict[str | None, Group] = {}
    for row in rows:
        values = tuple(row[name] for name in columns)
        group = top.setdefault(values[0], Group(values[:1]))
        group.count += row["n"]
        group.phases[row["phase"]] = group.phases.get(row["phase"], 0) + row["n"]
        if len(values) > 1:
            sub = next((s for s in group.subgroups if s.values == values), None)
            if sub is None:
                sub = Group(values)
                group.subgroups.append(sub)
            sub.count += row["n"]
            sub.phases[row["phase"]] = sub.phases.get(row["phase"], 0) + row["n"]
    groups = _sorted_groups(top.values())
    for group in groups:
        group.subgroups = _sorted_groups(group.subgroups)
    return groups


def page_groups(query: ListQuery, top: QuerySet, plan: Plan, shown: int) -> tuple[list[Group], int]:
    """The page's groups of top-level executions (``top_level``), largest first, and how
    many executions they hold; the phase summaries are filled in for the first ``shown``.

    With one key and nothing else narrowing the project, nothing scans the executions: the
    counts come from the label index (``label_project_kv_time``, index-only), corrected
    for the sub-executions that nest under a parent of the project (``parent_id`` index),
    and the total from ``execution_project_time`` (index-only); only the shown groups'
    executions are read, through the label index, for their phases. Otherwise (a filter,
    two keys) ``group_summary`` reads the matching executions."""
    if len(query.group_by) > 1 or query.has_conditions:
        groups = group_summary(top, query.group_by)
        return groups, sum(group.count for group in groups), None
    key, project_id = query.group_by[0], plan.project_id
    labelled = Label.objects.filter(project_id=project_id, key=key)
    counts = dict(labelled.values_list("value").annotate(n=Count("*")).order_by())
    nested = (
        # parent_id IS NOT NULL spelled out: the planner then starts from the (usually few)
        # sub-executions in the parent_id index rather than probing it for every execution.
        Execution.objects.filter(
            project_id=project_id, parent__isnull=False, parent__project_id=project_id
        )
        .annotate(value=KeyTextTransform(key, "labels"))
        .values_list("value")
        .annotate(n=Count("*"))
        .order_by()
    )
    nested_total = 0
    for value, n in nested:
        nested_total += n
        if value is not None:
            counts[value] = counts.get(value, 0) - n
    total = Execution.objects.filter(project_id=project_id).count() - nested_total
    ungrouped = total - sum(counts.values())
    groups = [Group((value,), n) for value, n in counts.items() if n > 0]
    if ungrouped > 0:
        groups.append(Group((None,), ungrouped))
    groups = _sorted_groups(groups)
    _fill_phases(groups[:shown], top, labelled, key)
    return groups, total, nested_total


def _fill_phases(groups: list[Group], top: QuerySet, labelled: QuerySet, key: str) -> None:
    """Phase counts of these groups' top-level executions, found through the label index
    (one query, and one more for the executions without the key when that group is
    shown)."""
    values = [group.value for group in groups if group.value is not None]
    by_value = {group.value: group for group in groups}
    if values:
        rows = (
            top.filter(pk__in=labelled.filter(value__in=values).values("execution_id"))
            .annotate(value=KeyTextTransform(key, "labels"))
            .values_list("value", "phase")
            .annotate(n=Count("*"))
            .order_by()
        )
        for value, phase, n in rows:
            by_value[value].phases[phase] = n
    if None in by_value:
        rows = (
            top.exclude(pk__in=labelled.values("execution_id"))
            .values_list("phase")
            .annotate(n=Count("*"))
            .order_by()
        )
        by_value[None].phases = dict(rows)


def api_groups(
    query: ListQuery, queryset: ExecutionQuerySet, plan: Plan, total: int | None
) -> list[dict[str, Any]]:
    """The API's ``groups``: ``[{"value", "count"}]`` largest first, the executions without
    the key last (``value`` None, when the exact ``total`` is known); for ``experiment`` then
    ``group`` each experiment nests its ``groups``.

    One key is counted on the label index (``label_project_kv_time`` within a project: an
    index-only scan when nothing else narrows the list); two keys read the ``labels`` JSON of
    the matching executions (``group_summary``)."""
    if len(query.group_by) > 1:
        return [
            {
                "value": group.value,
                "count": group.count,
                "groups": [{"value": sub.value, "count": sub.count} for sub in group.subgroups],
            }
            for group in group_summary(query.filter(queryset, plan), query.group_by)
        ]
    rows = scoped_labels(plan.project_id, plan.projects).filter(key=query.group_by[0])
    if query.has_conditions or plan.project_id is None:
        rows = rows.filter(execution_id__in=query.matching_ids(queryset, plan))
    counts = list(rows.values("value").annotate(count=Count("*")).order_by("-count", "value"))
    grouped = sum(row["count"] for row in counts)
    if total is not None and total > grouped:
        counts.append({"value": None, "count": total - grouped})
    return counts


# --------------------------------------------------------------------------------------------
# The list page's rows and label autocomplete
# --------------------------------------------------------------------------------------------


def top_level(filtered: QuerySet) -> QuerySet:
    """The page's rows: matching executions whose parent is not itself in the list (those
    nest under their parent instead). ``parent IS NULL`` is tested first, so executions
    without a parent never run the ``EXISTS``."""
    parent_listed = filtered.filter(pk=OuterRef("parent_id"))
    return filtered.filter(Q(parent__isnull=True) | ~Exists(parent_listed))


# Columns the list page never shows: up to 256 KiB of Markdown and three JSON documents a
# row, which it would fetch and decode for nothing.
_NOT_LISTED = ("description", "inputs", "user_metadata", "error")


def list_rows(queryset: QuerySet) -> QuerySet:
    """Rows as the page shows them: without the columns it does not show (``_NOT_LISTED``),
    with their latest release (``artifact@version``), as a per-row subquery of the page's
    query rather than one more query per row."""
    latest_release = (
        Release.objects.filter(execution=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .annotate(badge=Concat("artifact", Value("@"), "version"))
        .values("badge")[:1]
    )
    return queryset.defer(*_NOT_LISTED).annotate(release_badge=Subquery(latest_release))


def nested_matches(query: ListQuery, queryset: ExecutionQuerySet, plan: Plan) -> QuerySet:
    """The matches that nest under a parent that matches too (the page shows them under
    it), found through the ``parent_id`` index from the usually few sub-executions."""
    matches = query.filter(queryset, replace(plan, top_level_only=False))
    return matches.filter(parent__isnull=False, parent__in=matches.values("pk"))


def with_children(rows: list[Execution]) -> None:
    """Attach ``child_list`` (sub-executions, oldest first) to each row: one query for any
    non-empty page, whether or not a row has children (a probe of the ``parent_id`` index
    per row), so that the page's statement count does not depend on the data."""
    parents = {row.pk: row for row in rows}
    for row in rows:
        row.child_list = []
    if not rows:
        return
    children = Execution.objects.filter(parent_id__in=list(parents)).defer(*_NOT_LISTED)
    for child in children.order_by("created_at", "id"):
        parents[child.parent_id].child_list.append(child)


AUTOCOMPLETE_LIMIT = 20
RECENT_FOR_KEYS = 1000


def label_values(project_id: int, key: str, prefix: str = "") -> list[dict[str, Any]]:
    """Values of ``key`` in the project starting with ``prefix``, most used first.

    A range scan of ``label_project_kv_time`` on ``(project, key, prefix <= value <
    successor)``: ``startswith`` alone (``LIKE``) bounds no index scan, and ``>=`` alone
    read every value after the prefix (3 in 4 of a key's rows for ``model-1``)."""
    rows = Label.objects.filter(project_id=project_id, key=key)
    if prefix:
        rows = rows.filter(value__gte=prefix, value__startswith=prefix)
        if ord(prefix[-1]) < 0x10FFFF:
            rows = rows.filter(value__lt=prefix[:-1] + chr(ord(prefix[-1]) + 1))
    return list(
        rows.values("value")
        .annotate(count=Count("*"))
        .order_by("-count", "value")[:AUTOCOMPLETE_LIMIT]
    )


def label_keys(project_id: int, prefix: str = "") -> list[dict[str, Any]]:
    """Label keys starting with ``prefix``, most used first, among the project's latest
    ``RECENT_FOR_KEYS`` executions (their ``labels`` JSON, read through the
    ``execution_project_time`` index): counting keys over every label row of a large
    project would scan it all."""
    recent = (
        Execution.objects.filter(project_id=project_id)
        .order_by("-created_at", "-id")
        .values_list("labels", flat=True)[:RECENT_FOR_KEYS]
    )
    counts: dict[str, int] = {}
    for labels in recent:
        for key in labels:
            if key.startswith(prefix):
                counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"key": key, "count": n} for key, n in ranked[:AUTOCOMPLETE_LIMIT]]
