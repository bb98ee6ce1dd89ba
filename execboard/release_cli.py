"""``execboard release``, ``promote``, ``show`` and ``history``: GTO's commands over the API.

execboard release ID nn@v1.2.3 [--stage prod] [--note FILE]
execboard release ID nn --bump minor          (no version and no --bump: the patch is bumped)
execboard promote nn@v1.2.3 prod -p PROJECT
execboard unassign nn@v1.2.3 prod -p PROJECT   (the stage is then empty)
execboard show [nn] -p PROJECT
execboard history nn -p PROJECT
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import quote

from execboard.client import Client
from execboard.errors import ExecboardError
from execboard.output import write_json, write_table
from execboard.parsing import text_or_file

BUMPS = ("patch", "minor", "major")


def register(subparsers: argparse._SubParsersAction) -> None:
    release = subparsers.add_parser(
        "release", help="release a succeeded execution as a version of an artifact"
    )
    release.add_argument("execution_id", metavar="ID")
    release.add_argument(
        "ref",
        nargs="?",
        metavar="ARTIFACT[@VERSION]",
        help="nn@v1.2.3, or nn with --bump (default artifact: the workflow name)",
    )
    release.add_argument("--bump", choices=BUMPS, help="the next version after the latest")
    release.add_argument("--stage", help="also assign the release to this stage")
    release.add_argument("--note", metavar="TEXT|FILE.md|-", help="Markdown note")
    release.set_defaults(handler=release_execution)

    promote = subparsers.add_parser("promote", help="assign a release to a stage")
    promote.add_argument("ref", metavar="ARTIFACT@VERSION")
    promote.add_argument("stage", metavar="STAGE")
    promote.add_argument("-p", "--project", required=True)
    promote.set_defaults(handler=promote_release)

    unassign = subparsers.add_parser(
        "unassign", help="take a release out of a stage, leaving the stage empty"
    )
    unassign.add_argument("ref", metavar="ARTIFACT@VERSION")
    unassign.add_argument("stage", metavar="STAGE")
    unassign.add_argument("-p", "--project", required=True)
    unassign.set_defaults(handler=unassign_release)

    show = subparsers.add_parser(
        "show", help="the registry: latest version and stages of each artifact, or one's versions"
    )
    show.add_argument("artifact", nargs="?", metavar="ARTIFACT")
    show.add_argument("-p", "--project", required=True)
    show.add_argument("-o", "--output", choices=("table", "json"), default="table")
    show.set_defaults(handler=show_registry)

    history = subparsers.add_parser(
        "history", help="an artifact's registrations and stage changes, newest first"
    )
    history.add_argument("artifact", metavar="ARTIFACT")
    history.add_argument("-p", "--project", required=True)
    history.add_argument("-o", "--output", choices=("table", "json"), default="table")
    history.set_defaults(handler=show_history)


def split_ref(ref: str) -> tuple[str, str | None]:
    """``model/nn@v1.2.3`` → (``model/nn``, ``v1.2.3``); ``nn`` → (``nn``, None)."""
    artifact, at, version = ref.rpartition("@")
    if not at:
        return ref, None
    if not artifact or not version:
        raise ExecboardError(f"{ref!r} is not a release: write artifact@version, e.g. nn@v1.2.3.")
    return artifact, version


def _release_path(project: str, artifact: str, version: str) -> str:
    return f"projects/{quote(project, safe='')}/releases/{quote(artifact, safe='/')}@" + quote(
        version, safe=""
    )


def _artifact_path(project: str, artifact: str) -> str:
    return f"projects/{quote(project, safe='')}/artifacts/{quote(artifact, safe='/')}/"


def _page(client: Client, project: str, artifact: str) -> str:
    return f"{client.url}/p/{quote(project, safe='')}/artifacts/{quote(artifact, safe='/')}/"


def release_execution(client: Client, args: argparse.Namespace) -> int:
    artifact, version = split_ref(args.ref) if args.ref else (None, None)
    if version and args.bump:
        raise ExecboardError("Give a version (nn@v1.2.3) or --bump, not both.")
    project = client.get_execution(args.execution_id)["project"]
    body: dict[str, Any] = {"execution": args.execution_id}
    optional = {
        "artifact": artifact,
        "version": version,
        "bump": args.bump,
        "stage": args.stage,
        "note": text_or_file(args.note) if args.note else None,
    }
    body.update({key: value for key, value in optional.items() if value})
    release = client.request("POST", f"projects/{quote(project, safe='')}/releases/", json=body)
    where = f" in {', '.join(release['stages'])}" if release["stages"] else ""
    print(f"Released {release['artifact']}@{release['version']} ({args.execution_id}){where}.")
    print(_page(client, project, release["artifact"]))
    return 0


def _stages_path(project: str, ref: str) -> str:
    """The API path of the stages of the release ``artifact@version``."""
    artifact, version = split_ref(ref)
    if version is None:
        raise ExecboardError(f"{ref!r} names no version: write artifact@version.")
    return _release_path(project, artifact, version) + "/stages/"


def promote_release(client: Client, args: argparse.Namespace) -> int:
    path = _stages_path(args.project, args.ref)
    release = client.request("POST", path, json={"stage": args.stage})
    print(f"{release['artifact']}@{release['version']} is now in {args.stage}.")
    return 0


def unassign_release(client: Client, args: argparse.Namespace) -> int:
    path = _stages_path(args.project, args.ref) + quote(args.stage, safe="/") + "/"
    release = client.request("DELETE", path)
    print(f"{release['artifact']}@{release['version']} is no longer in {args.stage}.")
    return 0


def show_registry(client: Client, args: argparse.Namespace) -> int:
    if args.artifact:
        detail = client.request("GET", _artifact_path(args.project, args.artifact))
        if args.output == "json":
            write_json(detail)
            return 0
        write_table(
            (
                [
                    v["version"],
                    v["execution"],
                    _time(v["created_at"]),
                    v["created_by"],
                    ", ".join(v["stages"]),
                ]
                for v in detail["versions"]
            ),
            ["VERSION", "EXECUTION", "CREATED", "BY", "STAGES"],
        )
        return 0
    artifacts = client.request("GET", f"projects/{quote(args.project, safe='')}/artifacts/")[
        "results"
    ]
    if args.output == "json":
        write_json(artifacts)
        return 0
    stages: list[str] = []
    for artifact in artifacts:
        stages.extend(stage for stage in artifact["stages"] if stage not in stages)
    write_table(
        (
            [a["artifact"], a["latest"]]
            + [a["stages"].get(stage, {}).get("version", "-") for stage in stages]
            for a in artifacts
        ),
        ["ARTIFACT", "LATEST", *(stage.upper() for stage in stages)],
    )
    return 0


def show_history(client: Client, args: argparse.Namespace) -> int:
    detail = client.request("GET", _artifact_path(args.project, args.artifact))
    if args.output == "json":
        write_json(detail["history"])
        return 0
    write_table(
        (
            [_time(h["at"]), h["action"], h["version"], h["stage"] or "", h["by"]]
            for h in detail["history"]
        ),
        ["TIMESTAMP", "ACTION", "VERSION", "STAGE", "BY"],
    )
    return 0


def _time(value: str) -> str:
    """``2026-01-02T03:04:05.678+00:00`` → ``2026-01-02 03:04:05`` (times are UTC)."""
    return value[:19].replace("T", " ")
