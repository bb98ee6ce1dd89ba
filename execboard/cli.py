"""The ``execboard`` command line.

Each command module offers ``register(subparsers)``, which adds its parsers and sets
``handler=fn`` with ``fn(client: Client, args: argparse.Namespace) -> int`` (the exit status).
``main`` builds the client from ``--url``/``--token`` or the environment and turns every
``ExecboardError`` (missing token, unreachable server, an API error's message) into one line
on stderr and exit status 1 (or the parser's ``error_status`` default), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from execboard import __version__, release_cli, run
from execboard.api import check_namespace
from execboard.client import Client
from execboard.config import DEFAULT_URL, TOKEN_VAR, URL_VAR
from execboard.errors import ExecboardError
from execboard.fields import CLI_CSV_COLUMNS, CLI_TABLE_COLUMNS, SORT_KEYS, format_duration
from execboard.output import FORMATS, write_csv, write_fields, write_json, write_table
from execboard.parsing import labels_expression, parse_label, parse_labels, text_or_file


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="execboard",
        description="Report any command or pipeline to Execboard as an execution, and query it.",
    )
    parser.add_argument("--url", help=f"the server (default: ${URL_VAR} or {DEFAULT_URL})")
    parser.add_argument("--token", help=f"an API token (default: ${TOKEN_VAR})")
    parser.add_argument("--version", action="version", version=f"execboard {__version__}")
    parser.set_defaults(error_status=1)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run.register(subparsers)
    register(subparsers)
    release_cli.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(Client(url=args.url, token=args.token), args)
    except ExecboardError as error:
        print(f"execboard: error: {error}", file=sys.stderr)
        return args.error_status
    except KeyboardInterrupt:
        print("execboard: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`execboard get executions | head`); don't complain at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """get, label and describe."""
    get = subparsers.add_parser("get", help="show executions").add_subparsers(
        dest="what", required=True, metavar="WHAT"
    )
    listing = get.add_parser("executions", help="list a project's executions")
    listing.add_argument("-p", "--project", required=True)
    listing.add_argument("-d", "--domain")
    listing.add_argument(
        "--filter.labels",
        dest="filter_labels",
        action="append",
        default=[],
        metavar="KEY:VALUE",
        help="only executions with this label (repeatable; AND)",
    )
    listing.add_argument("--q", metavar="EXPR", help="label expression: 'team:nlp and not smoke'")
    listing.add_argument(
        "--filters", metavar="FLYTE", help="field filters: 'eq(phase,FAILED)+gte(duration,60)'"
    )
    listing.add_argument(
        "--sort",
        metavar="KEY",
        help=f"sort key: {', '.join(SORT_KEYS)}, or label.<key>, meta.<key>, input.<key> "
        "(default: created_at)",
    )
    listing.add_argument("--asc", action="store_true", help="ascending (default: descending)")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--namespace", help="only this namespace, e.g. user:anne (default: all)")
    listing.add_argument("-o", "--output", choices=FORMATS, default="table")
    listing.set_defaults(handler=get_executions)

    one = get.add_parser("execution", help="show one execution")
    one.add_argument("execution_id", metavar="ID")
    one.add_argument("--namespace", help="fail unless the execution is in this namespace")
    one.add_argument("-o", "--output", choices=("table", "json"), default="table")
    one.set_defaults(handler=get_execution)

    label = subparsers.add_parser("label", help="add or remove labels").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    add = label.add_parser("add", help="add or change labels")
    add.add_argument("execution_id", metavar="ID")
    add.add_argument("labels", nargs="+", metavar="KEY:VALUE")
    add.set_defaults(handler=label_add)
    remove = label.add_parser("rm", help="remove labels")
    remove.add_argument("execution_id", metavar="ID")
    remove.add_argument(
        "labels", nargs="+", metavar="KEY[:VALUE]", help="with a value, only if it has that value"
    )
    remove.set_defaults(handler=label_rm)

    describe = subparsers.add_parser("describe", help="replace an execution's description")
    describe.add_argument("execution_id", metavar="ID")
    describe.add_argument("description", metavar="TEXT|FILE.md|-", help="Markdown text or file")
    describe.set_defaults(handler=describe_execution)


def get_executions(client: Client, args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise ExecboardError("--limit must be at least 1.")
    labels = [parse_label(text) for text in args.filter_labels]
    query = {
        "project": args.project,
        "domain": args.domain,
        "q": labels_expression(labels, args.q),
        "filters": args.filters,
        "sort_key": args.sort,
        "ascending": args.asc,
        "namespace": args.namespace,
    }
    rows = list(client.iter_executions(limit=args.limit, **query))
    if args.output == "json":
        write_json(rows)
    elif args.output == "csv":
        write_csv(
            ({**row, "labels": json.dumps(row["labels"], ensure_ascii=False)} for row in rows),
            CLI_CSV_COLUMNS,
        )
    else:
        write_table(
            ([_cell(row, field) for _, field in CLI_TABLE_COLUMNS] for row in rows),
            [header for header, _ in CLI_TABLE_COLUMNS],
        )
    return 0


def get_execution(client: Client, args: argparse.Namespace) -> int:
    execution = client.get_execution(args.execution_id)
    if args.namespace:
        check_namespace(execution, args.namespace, hint="Leave out --namespace to see it.")
    if args.output == "json":
        write_json(execution)
        return 0
    write_fields(
        [
            ("id", execution["id"]),
            ("name", execution["display_name"]),
            ("project", execution["project"]),
            ("domain", execution["domain"]),
            ("workflow", _joined(execution["workflow"], execution["workflow_version"])),
            ("phase", execution["phase"]),
            ("created", _time(execution["created_at"])),
            ("started", _time(execution["started_at"])),
            ("ended", _time(execution["ended_at"])),
            ("duration", format_duration(execution["duration"])),
            ("launched by", execution["launched_by"]),
            ("mode", execution["mode"]),
            ("parent", execution["parent"]),
            ("labels", _labels(execution["labels"])),
            ("error", execution["error"]),
            ("metadata", _compact(execution["user_metadata"])),
            ("inputs", _compact(execution["inputs"])),
            ("url", execution["url"]),
            ("description", execution["description"]),
        ]
    )
    return 0


def label_add(client: Client, args: argparse.Namespace) -> int:
    execution = client.set_labels(args.execution_id, parse_labels(args.labels))
    print(_labels(execution["labels"]))
    return 0


def label_rm(client: Client, args: argparse.Namespace) -> int:
    """Check every label first, so that a wrong one removes nothing."""
    wanted = [parse_label(text) for text in args.labels]
    current = client.get_execution(args.execution_id)["labels"]
    for text, (key, value) in zip(args.labels, wanted, strict=True):
        if key not in current:
            raise ExecboardError(f"Execution {args.execution_id} has no label {key!r}.")
        if ":" in text and current[key] != value:
            raise ExecboardError(
                f"Label {key} of execution {args.execution_id} is {current[key]!r}, "
                f"not {value!r}; nothing removed."
            )
    execution = None
    for key, _ in wanted:
        execution = client.remove_label(args.execution_id, key)
    print(_labels(execution["labels"]))
    return 0


def describe_execution(client: Client, args: argparse.Namespace) -> int:
    text = text_or_file(args.description)
    version = client.get_execution(args.execution_id)["description_version"]
    execution = client.update_description(args.execution_id, text, version=version)
    if execution["description_version"] == version:
        print(f"Description of {execution['id']} unchanged (version {version}).")
    else:
        print(
            f"Description of {execution['id']} saved (version {execution['description_version']})."
        )
    return 0


def _cell(row: dict[str, Any], field: str) -> Any:
    """A table cell: times, durations and labels as text; a run not yet started shows when it
    was created."""
    if field == "started_at":
        return _time(row["started_at"] or row["created_at"])
    if field == "duration":
        return format_duration(row["duration"])
    if field == "labels":
        return _labels(row["labels"])
    return row[field]


def _labels(labels: dict[str, str]) -> str:
    """``k:v`` pairs by key (the server's order is not stable across databases)."""
    return " ".join(f"{key}:{value}" if value else key for key, value in sorted(labels.items()))


def _time(value: str | None) -> str:
    """``2026-01-02T03:04:05.678+00:00`` → ``2026-01-02 03:04:05`` (times are UTC)."""
    return value[:19].replace("T", " ") if value else ""


def _joined(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if value else ""
