"""Editing an execution in the Django admin goes through the services and leaves history."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from executions.models import Change, Execution, Label
from executions.services import MAX_DESCRIPTION_BYTES, description_update, labels_update
from tests.factories import UserFactory, make_execution

pytestmark = pytest.mark.django_db


class _FormFields(HTMLParser):
    """The fields a browser would submit from the admin's change form."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "checkbox"):
            self.fields[name] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea:
            # HTML drops the newline right after <textarea>; Django's widget writes one.
            self.fields[self._textarea] = self.fields[self._textarea].removeprefix("\n")
            self._textarea = None


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def execution(project):
    return make_execution(project, labels={"team": "nlp", "model": "bert"}, description="old text")


def change_url(execution: Execution) -> str:
    return reverse("admin:executions_execution_change", args=[execution.pk])


def open_form(client, execution: Execution) -> dict[str, str]:
    response = client.get(change_url(execution))
    assert response.status_code == 200
    parser = _FormFields()
    parser.feed(response.content.decode())
    return parser.fields


def submit(client, execution: Execution, fields: dict[str, str]):
    return client.post(change_url(execution), fields)


def test_the_admin_shows_the_description_and_editable_labels_but_not_namespace_labels(
    admin_client, execution
):
    fields = open_form(admin_client, execution)
    assert fields["description"] == "old text"
    assert fields["labels_text"].splitlines() == ["team:nlp", "model:bert"]
    assert "user:anne" not in fields["labels_text"]


def test_editing_the_description_in_the_admin_saves_a_new_version_with_history(
    admin_client, execution
):
    fields = open_form(admin_client, execution)
    fields["description"] = "new text\r\nsecond line"
    response = submit(admin_client, execution, fields)
    assert response.status_code == 302
    execution.refresh_from_db()
    assert execution.description == "new text\nsecond line"
    assert execution.description_version == 1
    change = Change.objects.get(execution=execution)
    assert (change.by, change.field, change.old, change.new) == (
        "root",
        "description",
        "old text",
        "new text\nsecond line",
    )


def test_editing_labels_in_the_admin_adds_changes_and_removes_with_history(admin_client, execution):
    fields = open_form(admin_client, execution)
    fields["labels_text"] = "team:vision\r\nsmoke\r\n"
    response = submit(admin_client, execution, fields)
    assert response.status_code == 302
    execution.refresh_from_db()
    assert execution.labels == {"team": "vision", "smoke": "", "user": "anne"}
    rows = set(Label.objects.filter(execution=execution).values_list("key", "value"))
    assert rows == {("team", "vision"), ("smoke", ""), ("user", "anne")}
    history = {(c.key, c.old, c.new, c.by) for c in Change.objects.filter(execution=execution)}
    assert history == {
        ("team", "nlp", "vision", "root"),
        ("smoke", None, "", "root"),
        ("model", "bert", None, "root"),
    }


def test_saving_the_admin_form_unchanged_leaves_no_history(admin_client, execution):
    fields = open_form(admin_client, execution)
    fields["description"] = fields["description"].replace("\n", "\r\n")
    response = submit(admin_client, execution, fields)
    assert response.status_code == 302
    assert not Change.objects.filter(execution=execution).exists()
    execution.refresh_from_db()
    assert execution.description_version == 0


@pytest.mark.parametrize(
    ("labels_text", "message"),
    [
        ("bad key:x", "Line 1"),
        ("team:nlp\nuser:bob", "reserved for namespaces"),
        ("team:nlp\nteam:vision", "given twice"),
        ("\n".join(f"k{i}:v" for i in range(17)), "at most 16 labels"),
    ],
)
def test_bad_labels_in_the_admin_show_an_error_and_change_nothing(
    admin_client, execution, labels_text, message
):
    fields = open_form(admin_client, execution)
    fields["labels_text"] = labels_text
    fields["description"] = "also changed"
    response = submit(admin_client, execution, fields)
    assert response.status_code == 200
    assert message in response.content.decode()
    execution.refresh_from_db()
    assert execution.labels == {"team": "nlp", "model": "bert", "user": "anne"}
    assert execution.description == "old text"
    assert not Change.objects.filter(execution=execution).exists()


def test_a_too_large_description_in_the_admin_is_refused(admin_client, execution):
    fields = open_form(admin_client, execution)
    fields["description"] = "x" * (MAX_DESCRIPTION_BYTES + 1)
    response = submit(admin_client, execution, fields)
    assert response.status_code == 200
    assert "at most 262,144 (256 KiB)" in response.content.decode()
    execution.refresh_from_db()
    assert execution.description == "old text"


def test_the_admin_does_not_overwrite_a_description_saved_meanwhile(admin_client, execution):
    fields = open_form(admin_client, execution)
    description_update(execution_id=execution.pk, text="theirs", expected_version=0, by="bob")
    fields["description"] = "mine"
    response = submit(admin_client, execution, fields)
    assert response.status_code == 200
    assert "Someone changed the description" in response.content.decode()
    execution.refresh_from_db()
    assert (execution.description, execution.description_version) == ("theirs", 1)
    assert Change.objects.filter(execution=execution).count() == 1


def test_the_admin_does_not_undo_a_label_change_made_meanwhile(admin_client, execution):
    fields = open_form(admin_client, execution)
    labels_update(execution_id=execution.pk, by="bob", set_labels={"team": "vision"})
    response = submit(admin_client, execution, fields)
    assert response.status_code == 200
    assert "Someone changed the labels" in response.content.decode()
    execution.refresh_from_db()
    assert execution.labels["team"] == "vision"
    assert Change.objects.filter(execution=execution).count() == 1


def test_the_admin_history_inline_lists_the_changes(admin_client, execution):
    labels_update(execution_id=execution.pk, by="bob", set_labels={"stage": "eval"})
    response = admin_client.get(change_url(execution))
    assert "stage" in response.content.decode()
    assert "bob" in response.content.decode()


def test_the_admin_cannot_add_or_delete_executions(admin_client, execution):
    assert admin_client.get(reverse("admin:executions_execution_add")).status_code == 403
    delete = reverse("admin:executions_execution_delete", args=[execution.pk])
    assert admin_client.get(delete).status_code == 403
