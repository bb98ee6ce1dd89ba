from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from projects.models import Membership


class Command(BaseCommand):
    help = "Take away a user's role on a project."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("project", help="The project's slug.")

    def handle(self, username, project, **options):
        deleted, _ = Membership.objects.filter(
            user__username=username, project__slug=project
        ).delete()
        if not deleted:
            raise CommandError(f"{username} has no role on {project}.")
        self.stdout.write(f"Revoked {username}'s role on {project}")
