"""A readable line diff of two descriptions for the history (and the conflict view)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

CONTEXT_LINES = 2


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "added", "removed", "same", or "gap" (unchanged lines left out)
    text: str


def line_diff(old: str | None, new: str | None, context: int = CONTEXT_LINES) -> list[DiffLine]:
    """Changed lines with ``context`` unchanged lines around each change; runs of unchanged
    lines in between become one "gap" line saying how many were left out."""
    old_lines = (old or "").splitlines()
    new_lines = (new or "").splitlines()
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    lines: list[DiffLine] = []
    shown_until = 0  # index in old_lines up to which lines are accounted for
    for group in matcher.get_grouped_opcodes(context):
        first_old = group[0][1]
        if first_old > shown_until:
            skipped = first_old - shown_until
            lines.append(DiffLine("gap", f"{skipped} unchanged line{'s' if skipped > 1 else ''}"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(DiffLine("same", text) for text in old_lines[i1:i2])
                continue
            lines.extend(DiffLine("removed", text) for text in old_lines[i1:i2])
            lines.extend(DiffLine("added", text) for text in new_lines[j1:j2])
        shown_until = group[-1][2]
    if lines and shown_until < len(old_lines):
        skipped = len(old_lines) - shown_until
        lines.append(DiffLine("gap", f"{skipped} unchanged line{'s' if skipped > 1 else ''}"))
    return lines
