"""The expected mistakes: bad config, bad data, data that cannot train, a model that cannot be found.

Each is raised with one line that names the file, the column or row and what to do; the CLI prints
that line and exits 2. Anything that is not an `ExpectedError` is a bug and keeps its traceback.
Kept in one module with no imports so that every stage can raise them without depending upward.
"""

from __future__ import annotations


class ExpectedError(ValueError):
    """A user-facing problem whose message is the whole story (no traceback needed)."""


class ConfigError(ExpectedError):
    """A config file that cannot be used; the message names the file and the key."""


class DataError(ExpectedError):
    """Input data that cannot be used; the message names the file, the column or row, the fix."""


class TrainingError(ExpectedError):
    """The data cannot train a model (too few outcomes, one class...); the message says why."""


class RegistryError(ExpectedError):
    """A model URI or alias that cannot be resolved; the message says what to do."""
