"""Label rules of SPEC §2: key and value syntax, the count limit, reserved namespace keys,
default labels merged with launch labels, and the automatic namespace label."""

from __future__ import annotations

import pytest

from executions import labels as label_rules
from executions.labels import LabelError
from executions.models import Label
from tests.factories import ProjectFactory, make_execution, make_token


def _error(call, *args, **kwargs) -> str:
    with pytest.raises(LabelError) as info:
        call(*args, **kwargs)
    return info.value.message


@pytest.mark.parametrize(
    "key",
    [
        "team",
        "a",
        "Team_2.x-y",
        "x" * 63,
        "example.com/team",
        "k8s.io/app",
        "a-b.c-d/e",
        ("p" * 63 + ".") * 3 + "p" * 61 + "/name",  # a prefix of exactly 253 characters
    ],
)
def test_a_valid_key_is_accepted(key):
    assert label_rules.validate_key(key) == key


def test_an_empty_key_is_refused():
    assert _error(label_rules.validate_key, "") == "A label key cannot be empty."


def test_a_key_name_longer_than_63_characters_is_refused():
    key = "x" * 64
    assert _error(label_rules.validate_key, key) == (
        f"Label key {key!r}: the name is 64 characters long, at most 63 are allowed."
    )


@pytest.mark.parametrize("key", ["-team", "team-", "_team", "te am", "tëam", "team!", "a/"])
def test_a_key_name_with_bad_characters_is_refused(key):
    assert _error(label_rules.validate_key, key) == (
        f"Label key {key!r}: a key name starts and ends with a letter or digit and contains "
        "only letters, digits, '-', '_' and '.'."
    )


@pytest.mark.parametrize(
    "key",
    [
        "/team",
        "Example.com/team",
        "example..com/team",
        "-example.com/team",
        "exa_mple.com/team",
        "a/b/team",
        "p" * 254 + "/team",
    ],
)
def test_a_key_prefix_that_is_not_a_dns_subdomain_is_refused(key):
    assert _error(label_rules.validate_key, key) == (
        f"Label key {key!r}: the prefix before '/' must be a DNS subdomain (lowercase letters, "
        "digits, '-' and '.', at most 253 characters)."
    )


@pytest.mark.parametrize(
    "value",
    ["", "nlp", "v" * 256, "lr sweep 3", "http://x.org/a:b", "données ✓", "日本語", "👩\u200d🔬"],
)
def test_a_printable_value_of_at_most_256_characters_is_accepted(value):
    assert label_rules.validate_value("k", value) == value


def test_a_value_longer_than_256_characters_is_refused():
    assert _error(label_rules.validate_value, "k", "v" * 257) == (
        "Label 'k': the value is 257 characters long, at most 256 are allowed."
    )


@pytest.mark.parametrize(
    ("value", "codepoint"),
    [
        ("a\nb", "U+000A"),
        ("a\tb", "U+0009"),
        ("\x00", "U+0000"),
        ("\x7f", "U+007F"),
        ("evil\u202etxt", "U+202E"),
        ("line\u2028break", "U+2028"),
    ],
)
def test_a_value_with_a_control_character_is_refused(value, codepoint):
    assert _error(label_rules.validate_value, "k", value) == (
        f"Label 'k': the value contains the control or unprintable character {codepoint}."
    )


@pytest.mark.parametrize("value", [3, 1.5, True, ["a"], {"a": "b"}])
def test_a_value_that_is_not_a_string_is_refused(value):
    message = _error(label_rules.validate_value, "k", value)
    assert message == "Label 'k': the value must be a string."


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("team:nlp", ("team", "nlp")),
        ("smoke", ("smoke", "")),
        ("smoke:", ("smoke", "")),
        ("url:http://x.org:8080/a", ("url", "http://x.org:8080/a")),
        ("example.com/tier:gold", ("example.com/tier", "gold")),
    ],
)
def test_the_text_form_splits_at_the_first_colon(text, parsed):
    assert label_rules.parse_label(text) == parsed


@pytest.mark.parametrize("key", ["user", "production"])
def test_the_namespace_keys_are_reserved(key):
    assert _error(label_rules.validate_labels, {key: "x"}) == (
        f"The label key {key!r} is reserved for namespaces and set by Execboard itself."
    )


def test_labels_must_be_an_object():
    assert _error(label_rules.validate_labels, ["team:nlp"]) == (
        "Labels must be an object of key to value."
    )


def test_a_null_value_is_a_plain_tag():
    assert label_rules.validate_labels({"smoke": None}) == {"smoke": ""}


def test_the_count_limit_counts_labels_but_not_namespace_labels(settings):
    settings.EXECBOARD_MAX_LABELS = 2
    label_rules.check_count(["a", "b", "user", "production"])
    assert _error(label_rules.check_count, ["a", "b", "c", "user"]) == (
        "An execution can have at most 2 labels (project defaults included); this one would have 3."
    )


def test_the_count_limit_defaults_to_16(db):
    project = ProjectFactory()
    make_execution(project, labels={f"k{i}": "" for i in range(16)})
    with pytest.raises(LabelError, match="at most 16 labels"):
        make_execution(project, labels={f"k{i}": "" for i in range(17)})


# Effective labels at creation


def test_effective_labels_are_the_defaults_overridden_by_the_launch_labels(db):
    project = ProjectFactory()
    project.default_labels.create(key="team", value="nlp", position=0)
    project.default_labels.create(key="tier", value="gold", position=1)
    execution = make_execution(project, labels={"tier": "silver", "model": "bert"})
    expected = {"team": "nlp", "tier": "silver", "model": "bert", "user": "anne"}
    assert execution.labels == expected
    rows = Label.objects.filter(execution=execution).values_list("key", "value")
    assert dict(rows) == expected


def test_later_changes_to_the_defaults_do_not_rewrite_old_executions(db):
    project = ProjectFactory()
    project.default_labels.create(key="team", value="nlp")
    old = make_execution(project)
    project.default_labels.update(value="vision")
    new = make_execution(project)
    old.refresh_from_db()
    assert old.labels["team"] == "nlp"
    assert new.labels["team"] == "vision"
    assert Label.objects.get(execution=old, key="team").value == "nlp"


def test_the_count_limit_includes_the_project_defaults(db, settings):
    settings.EXECBOARD_MAX_LABELS = 3
    project = ProjectFactory()
    project.default_labels.create(key="team", value="nlp")
    project.default_labels.create(key="tier", value="gold")
    with pytest.raises(LabelError) as info:
        make_execution(project, labels={"model": "bert", "dataset": "wiki"})
    assert info.value.message == (
        "An execution can have at most 3 labels (project defaults included); this one would have 4."
    )
    assert not project.executions.exists()


def test_overriding_a_default_does_not_count_twice_and_the_namespace_label_is_free(db, settings):
    settings.EXECBOARD_MAX_LABELS = 3
    project = ProjectFactory()
    project.default_labels.create(key="team", value="nlp")
    project.default_labels.create(key="tier", value="gold")
    execution = make_execution(project, labels={"tier": "silver", "model": "bert"})
    assert execution.labels == {"team": "nlp", "tier": "silver", "model": "bert", "user": "anne"}


# Namespace labels


def test_an_execution_carries_the_user_namespace_label_of_whoever_launched_it(db):
    execution = make_execution(ProjectFactory(), launched_by="bob")
    assert execution.labels["user"] == "bob"
    assert "production" not in execution.labels


def test_an_execution_created_with_a_production_token_carries_the_production_label(
    project, editor, anon_api
):
    key = make_token(editor, production_namespace="nightly")
    anon_api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = anon_api.post(
        "/api/v1/executions/",
        {"project": project.slug, "domain": "development", "workflow": "train.wf"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["labels"] == {"production": "nightly"}
    assert response.json()["launched_by"] == editor.username


def test_an_execution_created_with_a_personal_token_carries_the_user_label(api, project):
    response = api.post(
        "/api/v1/executions/",
        {"project": project.slug, "domain": "development", "workflow": "train.wf"},
        format="json",
    )
    assert response.json()["labels"] == {"user": "anne"}
