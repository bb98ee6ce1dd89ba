from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from executions import labels as label_rules
from executions.errors import ExecboardError
from projects.models import SLUG_VALIDATOR, Project


class Command(BaseCommand):
    help = "Create a project (or update its name and default labels)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")
        parser.add_argument(
            "--default-label",
            action="append",
            default=[],
            metavar="KEY:VALUE",
            help="A default label every new execution starts with (repeatable).",
        )

    @transaction.atomic
    def handle(self, slug, name, default_label, **options):
        try:
            SLUG_VALIDATOR(slug)
            pairs = [label_rules.parse_label(text) for text in default_label]
            defaults = dict(pairs)
            if len(defaults) < len(pairs):
                keys = [key for key, _ in pairs]
                repeated = sorted({key for key in keys if keys.count(key) > 1})
                raise CommandError(f"Each default label key once; repeated: {', '.join(repeated)}.")
            label_rules.validate_labels(defaults)
            label_rules.check_count(defaults)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from exc
        except ExecboardError as exc:
            raise CommandError(exc.message) from exc
        project, created = Project.objects.get_or_create(slug=slug, defaults={"name": name or slug})
        if name and project.name != name:
            project.name = name
            project.save(update_fields=["name"])
        if default_label:
            project.replace_default_labels(defaults)
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} project {project.slug}")
