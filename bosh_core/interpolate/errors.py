"""Errors of interpolation: their text is the reference CLI's, word for word."""

from __future__ import annotations

from collections.abc import Sequence

from bosh_core.errors import BoshError

__all__ = [
    "ErrorList",
    "InterpolateError",
    "MissingIndexError",
    "MissingMapKeyError",
    "OperationFailedError",
    "OpsFileError",
    "PatchError",
    "PointerError",
    "UnresolvedVariablesError",
    "WrappedError",
    "one_line",
]


class InterpolateError(BoshError):
    """An ops file, a variable or a path could not be applied; ``str()`` is what bosh prints."""


class PointerError(InterpolateError):
    """A go-patch path (``/instance_groups/name=web?/jobs/-``) cannot be parsed."""


class OpsFileError(InterpolateError):
    """An ops file does not hold a list of valid operations; nothing was applied."""


class PatchError(InterpolateError):
    """An operation could not be applied to a document: the path and what was found.

    ``path`` is the path up to the step that failed, when the failure is at one step.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class MissingMapKeyError(PatchError):
    """A path names a map key that is not there."""


class MissingIndexError(PatchError):
    """A path names an array index past either end of the array."""


class OperationFailedError(PatchError):
    """An operation of an ops file failed: its description, then the cause's text."""

    def __init__(self, description: str, cause: InterpolateError) -> None:
        super().__init__(f"Error '{description}': {cause}")
        self.description = description
        self.cause = cause


class WrappedError(InterpolateError):
    """What was being done, then why it failed (the reference's bosh-utils ComplexError).

    The CLI prints the context, a colon, and the cause indented on the next line;
    :func:`one_line` gives Go's ``Error()`` text instead (``context: cause``), which is
    what the reference shows where it embeds an error in a one-line message.
    """

    def __init__(self, context: str, cause: BaseException) -> None:
        self.context = context
        self.cause = cause
        super().__init__(_multiline(context, cause))


class ErrorList(InterpolateError):
    """Errors reported together (bosh-utils MultiError): printed as a bulleted list."""

    def __init__(self, errors: Sequence[BaseException]) -> None:
        self.errors = tuple(errors)
        super().__init__(_multiline(None, self))


class UnresolvedVariablesError(ErrorList):
    """``--var-errs``/``--var-errs-unused``: variables not found, or given and not used."""

    def __init__(self, *, missing: Sequence[str] = (), unused: Sequence[str] = ()) -> None:
        self.missing = tuple(missing)
        self.unused = tuple(unused)
        groups = [
            ("Expected to find variables", self.missing),
            ("Expected to use variables", self.unused),
        ]
        super().__init__(
            [
                WrappedError(title, ErrorList([InterpolateError(name) for name in names]))
                for title, names in groups
                if names
            ]
        )


def one_line(error: BaseException) -> str:
    """Go's ``err.Error()`` of `error`: wrapped errors joined with ``: ``, lists by lines."""
    if isinstance(error, WrappedError):
        return f"{error.context}: {one_line(error.cause)}"
    if isinstance(error, ErrorList):
        return "\n".join(one_line(sibling) for sibling in error.errors)
    return str(error)


def _multiline(context: str | None, cause: BaseException) -> str:
    """The reference CLI's MultilineError layout (bosh-cli ui/fmt)."""
    if context is not None:
        return f"{context}:\n{_indented(cause, prefix='  ', bullet='')}"
    return _indented(cause, prefix="", bullet="")


def _indented(error: BaseException, *, prefix: str, bullet: str) -> str:
    first = prefix + bullet
    prefix += " " * len(bullet)
    if isinstance(error, WrappedError):
        return f"{first}{error.context}:\n{_indented(error.cause, prefix=prefix + '  ', bullet='')}"
    if isinstance(error, ErrorList):
        return "\n".join(_indented(sibling, prefix=prefix, bullet="- ") for sibling in error.errors)
    return first + str(error)
