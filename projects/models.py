"""Projects, their curated default labels, membership roles and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}\Z"
SLUG_RE = re.compile(SLUG_PATTERN)
SLUG_VALIDATOR = RegexValidator(
    SLUG_PATTERN,
    "A project slug is 1-63 lowercase letters, digits or '-', starting with a letter or digit.",
)


class ProjectQuerySet(models.QuerySet):
    def visible_to(self, user) -> ProjectQuerySet:
        """Projects the user may read: all for superusers (and everyone under
        EXECBOARD_PUBLIC_READ), otherwise those where the user has any role."""
        if settings.EXECBOARD_PUBLIC_READ or (user.is_authenticated and user.is_superuser):
            return self.all()
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)

    def with_default_labels(self) -> ProjectQuerySet:
        """Projects with ``default_labels_json``, their default labels as one JSON object read
        in the project's own statement (the list page hides them from its rows and may not
        spend a statement of its own on them)."""
        return self.annotate(default_labels_json=_DefaultLabelsJson())


class _DefaultLabelsJson(models.Func):
    """The project's default labels as a JSON object ``{key: value}`` (a correlated
    subquery; ``{}`` for none)."""

    output_field = models.JSONField()
    _source = "FROM projects_defaultlabel d WHERE d.project_id = projects_project.id"

    def as_postgresql(self, compiler, connection):
        return f"(SELECT COALESCE(jsonb_object_agg(d.key, d.value), '{{}}') {self._source})", ()

    def as_sqlite(self, compiler, connection):
        return f"(SELECT COALESCE(json_group_object(d.key, d.value), '{{}}') {self._source})", ()


class Project(models.Model):
    slug = models.CharField(max_length=63, unique=True, validators=[SLUG_VALIDATOR])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown.")
    created_at = models.DateTimeField(default=timezone.now)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def default_labels_dict(self) -> dict[str, str]:
        """The curated defaults as an ordered mapping (uses ``with_default_labels``'s or the
        prefetch cache when present)."""
        if hasattr(self, "default_labels_json"):
            return dict(self.default_labels_json)
        return {label.key: label.value for label in self.default_labels.all()}

    @transaction.atomic
    def replace_default_labels(self, labels: dict[str, str]) -> None:
        """Make ``labels`` (already validated) the defaults, in their order. Executions keep
        the labels they were created with."""
        self.default_labels.all().delete()
        DefaultLabel.objects.bulk_create(
            DefaultLabel(project=self, key=key, value=value, position=position)
            for position, (key, value) in enumerate(labels.items())
        )


class DefaultLabel(models.Model):
    """A key:value pair every new execution of the project starts with (launch labels win)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="default_labels")
    key = models.CharField(max_length=317)
    value = models.CharField(max_length=256, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "key"], name="default_label_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.key}:{self.value}" if self.value else self.key


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    ADMIN = "admin", "Admin"


ROLE_RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3}


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} of {self.project}"


def hash_token_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def password_fingerprint(user) -> str:
    """A keyed digest of the user's password hash, like Django's session auth hash: a
    token stamped with it stops working as soon as the password changes."""
    return salted_hmac("execboard.api-token", user.password, algorithm="sha256").hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True, user__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )

    def for_key(self, key: str) -> ApiToken | None:
        """The usable token with this key: not revoked, not expired, its user active and
        the user's password unchanged since the token was issued."""
        token = self.active().select_related("user").filter(key_hash=hash_token_key(key)).first()
        if token is None or not token.matches_password():
            return None
        return token

    def revoke(self) -> int:
        return self.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


class ApiToken(models.Model):
    """An API key. Only its SHA-256 is stored; the key itself is shown once, at creation.

    A production token stamps the executions it creates with `production:<namespace>`
    instead of `user:<username>`. A token with projects is limited to them. A token ends
    when it is revoked, when it expires, when its user is deactivated and when its user's
    password changes (``password_fingerprint``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=8, editable=False)
    production_namespace = models.CharField(
        max_length=256,
        blank=True,
        help_text="Set to make this a production token: its executions get production:<this>.",
    )
    projects = models.ManyToManyField(
        Project, blank=True, help_text="Limit the token to these projects (empty: all)."
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    password_fingerprint = models.CharField(max_length=64, editable=False, default="")

    objects = ApiTokenQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @staticmethod
    def generate_key() -> str:
        return "eb_" + secrets.token_urlsafe(30)

    def set_key(self, key: str) -> None:
        """Store the key's hash and bind the token to the user's current password."""
        self.key_hash = hash_token_key(key)
        self.key_prefix = key[:8]
        self.password_fingerprint = password_fingerprint(self.user)

    def matches_password(self) -> bool:
        return constant_time_compare(self.password_fingerprint, password_fingerprint(self.user))

    @classmethod
    def issue(
        cls,
        *,
        user,
        name: str,
        production_namespace: str = "",
        expires_at=None,
        projects=(),
    ) -> tuple[ApiToken, str]:
        """Create a token and return it with its key (the only time the key is known)."""
        key = cls.generate_key()
        token = cls(
            user=user, name=name, production_namespace=production_namespace, expires_at=expires_at
        )
        token.set_key(key)
        token.save()
        if projects:
            token.projects.set(projects)
        return token, key

    @property
    def is_production(self) -> bool:
        return bool(self.production_namespace)
