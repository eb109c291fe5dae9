"""The expected mistakes: bad config, bad data, data that cannot train, a model that cannot be found.

Each is raised with one line that names the file, the column or row and what to do; the CLI prints
that line and exits 2. Anything that is not an `ExpectedError` is a bug and keeps its traceback.
Kept in one module with no imports so that every stage can raise them without depending upward.
"""

from __future__ import annotations


class ExpectedError(Exception):
    """A user-facing problem whose message is the whole story (no traceback needed).

    Not a `ValueError`: an `except ValueError` meant for a parser must never catch a user
    mistake, nor this handler a bug that happens to raise ValueError."""


class ConfigError(ExpectedError):
    """A config file that cannot be used; the message names the file and the key."""


class DataError(ExpectedError):
    """Input data that cannot be used; the message names the file, the column or row, the fix."""


class TrainingError(ExpectedError):
    """The data cannot train a model (too few outcomes, one class...); the message says why."""


class ClusterError(TrainingError):
    """The Dask cluster training runs on failed: a scheduler that does not answer, a worker lost
    or past its memory limit. The message names the address or limit and what to do."""


class RegistryError(ExpectedError):
    """A model URI or alias that cannot be resolved; the message says what to do."""


class ModelFormatError(ExpectedError):
    """A fitted model pickled in a layout this code cannot read (an older leadscore made it);
    `found` and `expected` are the format versions. The registry names the model version."""

    def __init__(self, found: int, expected: int):
        super().__init__(
            f"the model was saved by an older leadscore (format {found}, this one reads format "
            f"{expected}); retrain it with `leadscore train`"
        )
        self.found, self.expected = found, expected


def restore_pickled(obj: object, state: dict, expected: int, unversioned: int) -> None:
    """`__setstate__` of a versioned model object: refuse, in words, a state pickled in another
    layout (`unversioned`: the version of a state saved before versions were written)."""
    found = state.get("format_version", unversioned)
    if found != expected:
        raise ModelFormatError(found, expected)
    obj.__dict__.update(state)


class StorageError(ExpectedError):
    """A file, folder or store that cannot be written or read (full disk, no permission, a path
    that is a folder or sits under a file); the message names the path and the cause."""


def storage_error(path: object, err: BaseException, doing: str = "cannot write") -> StorageError:
    """One line for an OSError (or a store's error) at `path`: what failed, where and why."""
    text = str(err).strip()
    cause = getattr(err, "strerror", None) or (text.splitlines()[0] if text else type(err).__name__)
    return StorageError(f"{path}: {doing}: {cause[:300]}")
