"""Exceptions. An overcommitted pool is a :class:`~haplan.Report`, never an
exception: these are for input that cannot be read and questions that do
not fit the pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple, Union

__all__ = [
    "HaplanError",
    "InvalidChangesError",
    "InvalidExportError",
    "InvalidPoolError",
    "InvalidShapeError",
    "PoolImportWarning",
    "Problem",
    "QueryError",
]


@dataclass(frozen=True)
class Problem:
    """One problem in a pool file, a list of what-if changes or a headroom
    VM shape.

    ``path`` is the JSON path of the offending value, e.g.
    ``"vms[3].demand.memory_mib"``, ``"changes[2].name"`` or
    ``"--vm.vcpus"`` (empty for the document itself);
    ``line`` and ``column`` (1-based) are set for JSON syntax errors,
    invalid UTF-8 and duplicate keys (where the second one is).
    ``str(problem)`` is the line the command line prints for it.
    """

    path: str
    message: str
    line: Optional[int] = None
    column: Optional[int] = None

    def __str__(self) -> str:
        out = ""
        if self.line is not None and self.column is not None:
            out += f"line {self.line}, column {self.column}: "
        if self.path:
            out += f"{self.path}: "
        return out + self.message


ProblemLike = Union[Problem, Tuple[str, str, Optional[int], Optional[int]]]


class HaplanError(Exception):
    """Base class of every error haplan raises."""


class _ProblemsError(HaplanError, ValueError):
    """Input that was rejected, with every problem found in it.

    ``source`` is the file (or other source) the input was read from, when
    one was named; ``problems`` lists at most 50 problems, ``omitted`` says
    how many more there were."""

    message: str
    problems: List[Problem]
    source: Optional[str]
    omitted: int

    def __init__(
        self,
        message: str,
        problems: Iterable[ProblemLike],
        source: Optional[str] = None,
        omitted: int = 0,
    ) -> None:
        self.message = message
        self.problems = [p if isinstance(p, Problem) else Problem(*p) for p in problems]
        self.source = source
        self.omitted = omitted
        super().__init__(message, self.problems)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Tuple[type, Tuple[str, List[Problem], Optional[str], int]]:
        return (type(self), (self.message, self.problems, self.source, self.omitted))


class InvalidPoolError(_ProblemsError):
    """A pool that was rejected, with every problem found in it.

    Nothing is half-read: either the whole pool is accepted or nothing is.
    ``str(error)`` is the message the command line prints (without its
    ``haplan:`` prefix): a summary line, then one line per problem.
    ``problems`` lists them as :class:`Problem` values.
    """


class InvalidChangesError(_ProblemsError):
    """What-if changes that were rejected (:meth:`haplan.Pool.whatif`),
    with every problem found in them, each at the change that causes it:
    ``changes[2].name: unknown VM "db9"`` (``docs/whatif.md``).

    Nothing is applied: either every change applies and leaves a valid
    pool, or this is raised. ``str(error)`` is the message ``haplan whatif``
    prints (without its ``haplan:`` prefix); ``problems`` lists them as
    :class:`Problem` values.
    """


class InvalidShapeError(_ProblemsError):
    """The VM shape of :meth:`haplan.Pool.headroom` was rejected, with every
    problem found in it, each at its path as ``haplan headroom`` names it:
    the demand is ``--vm`` (``--vm.memory_mib: must not be negative, found
    -1``, ``--vm.cpus: unknown resource "cpus"; ...``), the names
    ``--storage[i]`` and ``--networks[i]`` (``--storage[0]: must not be
    empty``).

    ``str(error)`` is the message ``haplan headroom`` prints (without its
    ``haplan:`` prefix); ``problems`` lists them as :class:`Problem`
    values.
    """


class QueryError(HaplanError, ValueError):
    """A question that does not fit the pool (the pool itself is valid),
    e.g. a failure set naming an unknown host or a host in maintenance, or
    a headroom VM so small that more than 100000 of them could fit."""


class TimeLimitError(HaplanError, TimeoutError):
    """The time limit of a question ran out before anything was proved:
    the set-up of a very large pool, or making a very large answer (the
    search stops early enough to leave the answer a reserve, as the
    command line does), did not finish within 10 % + 1 s of it. (When it
    runs out during the search, the answer is a report with proved bounds
    instead, ``exact`` false.)"""


class InvalidExportError(HaplanError, ValueError):
    """A platform's export could not be imported (:func:`haplan.import_pool`):
    a file that is not an export of that platform, a value missing or
    wrong, files that together lack something the pool needs, or a pool
    haplan's loader refuses. Nothing is imported.

    ``str(error)`` is the message ``haplan import`` prints (without its
    ``haplan:`` prefix), e.g. ``resources.json: [3].maxmem: missing``;
    ``file`` and ``field`` name the file and the field when the error is
    about one (else ``None``).
    """

    def __init__(self, message: str, file: Optional[str] = None, field: Optional[str] = None) -> None:
        super().__init__(message)
        self.file = file
        self.field = field

    def __reduce__(self) -> Tuple[type, Tuple[str, Optional[str], Optional[str]]]:
        return (type(self), (str(self), self.file, self.field))


class PoolImportWarning(UserWarning):
    """What a platform's export does not say, and the import did about it
    (:func:`haplan.import_pool`): ``code`` is the warning's code in
    ``docs/import.md`` (``cpu-not-modelled``, ``rounded``, ...)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code
