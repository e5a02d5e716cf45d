"""`promote diff --from A --to B` once both sides are read: a fast path where one can prove its answer equal to the
slow path's, else the slow path, which is the definition.

Two fast paths, one per kind of side: `promote.quickdiff` for folders ADF published (templates split per resource,
only what differs evaluated), `promote.collabdiff` for two collaboration roots (built in memory, only what differs
evaluated). Each raises `Fallback` when it cannot prove its answer; any other failure on a fast path also runs the
slow path, so the user always gets the slow path's answer or the slow path's error. Choosing between them lives
here, above both, so that neither fast path imports the other's caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from promote.collabdiff import is_collaboration_side, quick_collaboration_diff
from promote.desired import SideInput, evaluate_side
from promote.diff import Diff, diff_factories
from promote.quickdiff import Fallback, quick_diff

__all__ = ["VersionDiff", "diff_versions", "slow_diff"]


@dataclass
class VersionDiff:
    """A diff of two versions, the warnings each side produced (old side first), and which path computed it."""

    diff: Diff
    warnings: list[str]
    fallback: str | None  # None: a fast path answered; otherwise why the slow path ran


def diff_versions(before: SideInput, after: SideInput) -> VersionDiff:
    """What `promote diff --from A --to B` computes once both sides are read: a fast path, else the slow one."""
    try:
        if is_collaboration_side(before.files) and is_collaboration_side(after.files):
            diff, warnings = quick_collaboration_diff(before, after)  # two collaboration roots: built, then diffed
        else:
            diff, warnings = quick_diff(before, after)
    except Fallback as why:
        reason = str(why)
    except Exception as exc:  # any failure: the slow path answers, or raises its own error
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    else:
        return VersionDiff(diff, warnings, None)
    return slow_diff(before, after, fallback=reason)


def slow_diff(before: SideInput, after: SideInput, *, fallback: str | None = "slow path requested") -> VersionDiff:
    """Both sides parsed and evaluated whole, then diffed: the reference the fast paths must equal."""
    old = evaluate_side(before)
    new = evaluate_side(after)
    diff = diff_factories(old.factory, new.factory, from_label=old.label, to_label=new.label)
    return VersionDiff(diff, old.warnings + new.warnings, fallback)
