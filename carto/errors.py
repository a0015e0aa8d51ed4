"""The project's exceptions: messages say what is wrong and how to fix it."""

from __future__ import annotations


class CartoError(Exception):
    """Base class of every error the project raises on purpose."""


class InputError(CartoError, ValueError):
    """A user's input (file, argument, value) cannot be used as it is."""


class ValidationError(InputError):
    """Several problems found in one input; ``problems`` lists them all."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class StoreError(CartoError):
    """The database cannot be opened, migrated or written."""


class PermissionDenied(CartoError):
    """The acting user's role does not allow this operation."""


class StaleVersion(StoreError):
    """The data changed (a commit) since the version a page is drawing: read again at the new one."""


class DatabaseInUse(StoreError):
    """Another process (the dashboard, a CLI command) holds the database file."""


class DiskFull(StoreError):
    """A write met a full disk. ``reopen``: the database must be reopened (restart) before the next write."""

    def __init__(self, message: str, *, reopen: bool = False) -> None:
        super().__init__(message)
        self.reopen = reopen


class EditConflict(StoreError):
    """A record changed since the version an edit (or an undo) was prepared against: reload and redo."""
