from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from projects.models import ApiToken


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

    def handle(self, username, name, production, **options):
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save()
            self.stdout.write(f"Created user {username}")
        token, key = ApiToken.issue(user=user, name=name, production_namespace=production)
        self.stdout.write(f"Token {token.name} for {username} (shown once, stored hashed):")
        self.stdout.write(key)
