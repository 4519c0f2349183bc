"""Errors and warnings of clusterrec's own.

Every error a user can cause derives from :class:`ClusterrecError`; the CLI turns it into one
line on stderr and exit status 2. Messages name the file, the line and what to do instead.
"""

from __future__ import annotations

__all__ = [
    "ClusterrecError",
    "ConfigError",
    "DataError",
    "DataWarning",
    "MemoryBudgetError",
]


class ClusterrecError(Exception):
    """Base class of every error clusterrec raises on purpose."""


class DataError(ClusterrecError, ValueError):
    """Input data is malformed, empty, or cannot be used as asked."""


class ConfigError(ClusterrecError, ValueError):
    """A parameter or configuration value is not accepted."""


class MemoryBudgetError(ClusterrecError, MemoryError):
    """A result would not fit in the configured memory budget."""


class DataWarning(UserWarning):
    """Something in the data was fixed or dropped on purpose; it is counted and reported."""
