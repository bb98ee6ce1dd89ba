from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from executions import labels as label_rules
from executions.errors import ExecboardError
from projects.models import ApiToken, Project


class Command(BaseCommand):
    help = "Issue an API token for a user (created if missing); prints the key as the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A name to recognise the token by.")
        parser.add_argument(
            "--production",
            metavar="NAMESPACE",
            default="",
            help="Make it a production token: its executions get production:NAMESPACE.",
        )
        parser.add_argument(
            "--project",
            action="append",
            default=[],
            metavar="SLUG",
            help="Limit the token to this project (repeatable; default: all the user's).",
        )
        parser.add_argument(
            "--expires-in-days", type=int, metavar="DAYS", help="The token stops working after."
        )

    def handle(self, username, name, production, project, expires_in_days, **options):
        User = get_user_model()
        try:
            User.username_validator(username)
            label_rules.validate_value("production", production)
        except ValidationError as exc:
            raise CommandError(f"Invalid username {username!r}: {exc.messages[0]}") from exc
        except ExecboardError as exc:
            raise CommandError(exc.message) from exc
        projects = list(Project.objects.filter(slug__in=project))
        missing = set(project) - {p.slug for p in projects}
        if missing:
            raise CommandError(f"No project {sorted(missing)[0]!r}.")
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1.")
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save()
            self.stdout.write(f"Created user {username}")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        token, key = ApiToken.issue(
            user=user,
            name=name,
            production_namespace=production,
            expires_at=expires_at,
            projects=projects,
        )
        self.stdout.write(f"Token {token.name} for {username} (shown once, stored hashed):")
        self.stdout.write(key)
