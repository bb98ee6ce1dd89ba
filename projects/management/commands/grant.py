from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from projects.models import Membership, Project, Role


class Command(BaseCommand):
    help = "Give a user a role on a project (replacing any role they had there)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("project", help="The project's slug.")
        parser.add_argument("role", choices=Role.values)

    def handle(self, username, project, role, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"No project {project!r}.")
        _, created = Membership.objects.update_or_create(
            user=user, project=target, defaults={"role": role}
        )
        verb = "Granted" if created else "Changed to"
        self.stdout.write(f"{verb} {role} for {username} on {target.slug}")
