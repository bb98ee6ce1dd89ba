"""Fill a few projects with realistic executions so that `make run` has something to show."""

from __future__ import annotations

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from executions.models import Event, Execution, Label, Phase, Step
from executions.releases import release_create
from executions.services import namespace_label
from projects.models import DefaultLabel, Membership, Project, Role

PROJECTS = {
    "nlp-models": ("NLP models", {"team": "nlp", "cost-center": "ml-research"}),
    "vision": ("Vision", {"team": "vision"}),
    "data-pipelines": ("Data pipelines", {"team": "data-eng", "tier": "batch"}),
}
WORKFLOWS = {
    "nlp-models": ["train.wf", "evaluate.wf", "tokenize.wf"],
    "vision": ["train_detector.wf", "augment.wf"],
    "data-pipelines": ["ingest.wf", "dedupe.wf", "export.wf"],
}
USERS = ["anne", "bob", "chen", "dara"]
MODELS = ["bert", "gpt", "t5", "resnet", "vit"]
DATASETS = ["wiki-2026", "news", "imagenet", "coco", "clickstream"]
STEP_NAMES = ["load", "preprocess", "train", "evaluate", "publish"]
DESCRIPTIONS = [
    "## Learning-rate sweep\n\nTried `lr` in {1e-4, 3e-4, 1e-3}.\n\n| lr | loss |\n|---|---|\n"
    "| 1e-4 | 0.412 |\n| 3e-4 | **0.391** |\n| 1e-3 | 0.455 |\n\nNext: warmup of 500 steps.",
    "Baseline run. See [the design doc](https://example.com/design) for the setup.\n\n"
    "- batch size 64\n- 3 epochs\n- fp16",
    "Failed on the GPU node: out of memory at step 1,200.\n\n```\nRuntimeError: CUDA out of "
    "memory. Tried to allocate 2.00 GiB\n```",
    "",
    "",
]


class Command(BaseCommand):
    help = "Create demo projects, users and a few thousand executions (skips if present)."

    def add_arguments(self, parser):
        parser.add_argument("--executions", type=int, default=3000)
        parser.add_argument("--seed", type=int, default=7)

    @transaction.atomic
    def handle(self, executions, seed, **options):
        if Project.objects.filter(slug__in=PROJECTS).exists():
            self.stdout.write("Demo data already present; nothing to do.")
            return
        rng = random.Random(seed)
        User = get_user_model()
        admin, _ = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        admin.set_password("admin")
        admin.save()
        users = []
        for name in USERS:
            user, _ = User.objects.get_or_create(username=name)
            user.set_password(name)
            user.save()
            users.append(user)
        projects = []
        for slug, (title, defaults) in PROJECTS.items():
            project = Project.objects.create(
                slug=slug, name=title, description=f"Demo project **{title}**."
            )
            DefaultLabel.objects.bulk_create(
                DefaultLabel(project=project, key=k, value=v, position=i)
                for i, (k, v) in enumerate(defaults.items())
            )
            Membership.objects.bulk_create(
                Membership(user=user, project=project, role=Role.EDITOR) for user in users
            )
            projects.append(project)

        now = timezone.now()
        per_project = executions // len(projects)
        for project in projects:
            self._seed_project(rng, project, per_project, now)
        self.stdout.write(
            f"Seeded {len(projects)} projects with {per_project * len(projects)} executions. "
            "Sign in as admin/admin (or anne/anne, bob/bob, …)."
        )

    def _seed_project(self, rng, project, count, now):
        defaults = project.default_labels_dict()
        experiments = [f"exp-{project.slug[:3]}-{i:02d}" for i in range(max(count // 60, 1))]
        rows, label_rows, events, steps = [], [], [], []
        start = now - timedelta(days=60)
        for i in range(count):
            created = start + timedelta(seconds=i * (60 * 86400 / count) + rng.random() * 30)
            user = rng.choice(USERS)
            production = rng.random() < 0.15
            phase = rng.choices(
                [Phase.SUCCEEDED, Phase.FAILED, Phase.RUNNING, Phase.ABORTED, Phase.QUEUED],
                [70, 15, 8, 5, 2],
            )[0]
            labels = dict(defaults)
            labels["model"] = rng.choice(MODELS)
            labels["dataset"] = rng.choice(DATASETS)
            if rng.random() < 0.8:
                experiment = rng.choice(experiments)
                labels["experiment"] = experiment
                if rng.random() < 0.7:
                    labels["group"] = f"{experiment}-g{rng.randint(1, 4)}"
            if rng.random() < 0.3:
                labels["name"] = f"{labels['model']} lr sweep {rng.randint(1, 40)}"
            if rng.random() < 0.1:
                labels["smoke"] = ""
            key, value = namespace_label(
                launched_by=user, production_namespace="nightly" if production else ""
            )
            labels[key] = value
            started = created + timedelta(seconds=rng.randint(1, 90))
            ended = None
            if phase in (Phase.SUCCEEDED, Phase.FAILED, Phase.ABORTED):
                ended = started + timedelta(seconds=min(rng.lognormvariate(5.7, 1.2), 7 * 86400))
            parent = None
            if rows and rng.random() < 0.08:
                parent = rng.choice(rows[-20:])
            execution = Execution(
                project=project,
                domain=rng.choices(["development", "staging", "production"], [50, 20, 30])[0],
                workflow=rng.choice(WORKFLOWS[project.slug]),
                workflow_version=f"v{rng.randint(1, 4)}.{rng.randint(0, 9)}",
                inputs={"epochs": rng.randint(1, 10), "lr": rng.choice([1e-4, 3e-4, 1e-3])},
                phase=phase,
                phase_occurred_at=ended or (started if phase != Phase.QUEUED else created),
                created_at=created,
                started_at=None if phase == Phase.QUEUED else started,
                ended_at=ended,
                duration=(ended - started).total_seconds() if ended else None,
                launched_by="nightly-bot" if production else user,
                mode="CHILD" if parent else rng.choice(["MANUAL", "MANUAL", "SCHEDULED"]),
                parent=parent,
                description=rng.choice(DESCRIPTIONS),
                user_metadata={"accuracy": round(rng.uniform(0.6, 0.95), 3)} if ended else {},
                error="RuntimeError: CUDA out of memory" if phase == Phase.FAILED else "",
                labels=labels,
            )
            rows.append(execution)
            label_rows.extend(
                Label(execution=execution, key=k, value=v, project=project, created_at=created)
                for k, v in labels.items()
            )
            events.append(Event(execution=execution, phase=Phase.QUEUED, occurred_at=created))
            if phase != Phase.QUEUED:
                events.append(Event(execution=execution, phase=Phase.RUNNING, occurred_at=started))
            if ended:
                events.append(
                    Event(
                        execution=execution, phase=phase, occurred_at=ended, message=execution.error
                    )
                )
            if i % 10 == 0 and phase != Phase.QUEUED:
                steps.extend(self._steps(rng, execution, started, ended))
        Execution.objects.bulk_create(rows, batch_size=500)
        Label.objects.bulk_create(label_rows, batch_size=2000)
        Event.objects.bulk_create(events, batch_size=2000)
        Step.objects.bulk_create(steps, batch_size=1000)
        self._seed_releases(project, rows)

    def _seed_releases(self, project, executions):
        """A registry to browse: the last five succeeded runs of the project's main
        workflow released as successive minor versions, the newest in staging, the one
        before it in prod."""
        workflow = WORKFLOWS[project.slug][0]
        succeeded = [
            e for e in executions if e.workflow == workflow and e.phase == Phase.SUCCEEDED
        ][-5:]
        stages = {len(succeeded) - 1: "staging", len(succeeded) - 2: "prod"}
        for i, execution in enumerate(succeeded):
            release_create(
                project=project,
                execution=execution,
                by=execution.launched_by,
                bump="minor",
                note=f"Accuracy {execution.user_metadata.get('accuracy', '?')} on the demo set.",
                stage=stages.get(i),
            )

    def _steps(self, rng, execution, started, ended):
        moment = started
        for name in STEP_NAMES:
            length = timedelta(seconds=rng.randint(5, 600))
            step_end = moment + length
            finished = ended is None or step_end <= ended
            if ended is None and rng.random() < 0.4:
                finished = False
            yield Step(
                execution=execution,
                name=name,
                phase=(Phase.SUCCEEDED if finished else Phase.RUNNING),
                started_at=moment,
                ended_at=step_end if finished else None,
                options={"num_cpus": rng.choice([1, 2, 4])},
                user_metadata={"rows": rng.randint(1000, 100000)} if name == "load" else {},
                created_at=moment,
            )
            if not finished:
                return
            moment = step_end
