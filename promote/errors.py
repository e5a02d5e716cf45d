"""Error types and the exit codes they map to.

Exit codes are decided only at the command-line edge (`promote.cli`); everything below raises one of these.
The codes are a contract (docs/architecture.md, "Exit codes"): 0 success, 1 failure, 2 bad input or refused
(nothing in Azure was touched), 3 changes present, 4 deploy failed and was rolled back, 5 rollback incomplete,
130 interrupted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from promote.inert import inert

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INPUT = 2
EXIT_CHANGES = 3
EXIT_ROLLED_BACK = 4
EXIT_ROLLBACK_FAILED = 5
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where it is, what it is, what to do about it."""

    file: str
    message: str
    line: int | None = None
    object: str | None = None  # "pipelines/train_mnist", a parameter name, an environment key
    hint: str | None = None

    def render(self) -> str:
        """One line for people; every part may hold untrusted text, so each is made inert (`promote.inert`)."""
        where = inert(self.file, limit=None) + (f":{self.line}" if self.line else "")
        what = f"{inert(self.object)}: " if self.object else ""
        text = f"{where}: {what}{inert(self.message, limit=None)}"
        if self.hint:
            text += f" ({inert(self.hint, limit=None)})"
        return text


class PromoteError(Exception):
    """Base of every expected error; carries its exit code."""

    exit_code = EXIT_FAILURE


_E = TypeVar("_E", bound="InputError")


class InputError(PromoteError):
    """Bad input or a refusal: nothing in Azure was touched. Holds every problem found, not only the first."""

    exit_code = EXIT_INPUT

    def __init__(self, problems: Problem | list[Problem]):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(p.render() for p in self.problems))

    @classmethod
    def single(
        cls: type[_E],
        file: str,
        message: str,
        *,
        line: int | None = None,
        object: str | None = None,
        hint: str | None = None,
    ) -> _E:
        return cls(Problem(file=file, message=message, line=line, object=object, hint=hint))


class TemplateError(InputError):
    """An ARM template that cannot be read or evaluated (bad JSON, unsupported function, missing parameter)."""


class EnvironmentFileError(InputError):
    """An environments/<env>.yaml that is invalid."""


class GitError(PromoteError):
    """A git command failed (unknown ref, not a repository)."""

    exit_code = EXIT_INPUT
