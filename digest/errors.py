"""The exceptions a user can meet, and the exit codes the command line maps them to.

    DigestError                 base of everything below
    ├── InputError              bad input file or record: one Problem per line (exit 2)
    ├── ConfigError             bad settings.yaml: one Problem per key path (exit 2)
    ├── ServiceError            a service (database, HTTP, SMTP) could not be reached (exit 3)
    └── DeliveryError           an adapter's failure, with the provider's answer (secrets masked)

A run that finished with failed deliveries is not an exception: it exits 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in an input, located well enough to fix it.

    `where` is the file (or URL) and `record` the record in it (`items[3]`, `line 7`); either may
    be empty for problems of a whole file or of a settings key path.
    """

    where: str
    record: str
    field: str
    message: str

    def __str__(self) -> str:
        location = ":".join(part for part in (self.where, self.record) if part)
        subject = f"{self.field}: {self.message}" if self.field else self.message
        return f"{location}: {subject}" if location else subject


class DigestError(Exception):
    exit_code = 1


class ProblemsError(DigestError):
    """An error made of one or more Problems, printed one per line."""

    exit_code = 2

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class InputError(ProblemsError):
    """Input files or records that do not validate; nothing was written."""


class ConfigError(ProblemsError):
    """settings.yaml does not validate; `where` is the file, `field` the key path."""


class ServiceError(DigestError):
    """A service the run needs could not be reached."""

    exit_code = 3


class DeliveryError(DigestError):
    """A delivery adapter failed; `response` is the provider's answer, secrets masked."""

    def __init__(self, message: str, *, status: str = "failed", response: str | None = None):
        self.status = status
        self.response = response
        super().__init__(f"{message}: {response}" if response else message)
