"""Names of a package that live in its modules and are imported on first use (PEP 562).

Keeps ``import clusterrec`` (and so the command line) fast: PyTorch, scikit-learn and
matplotlib are imported only when a name that needs them is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_names(
    package: str, where: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``where`` maps a name to its module."""

    def __getattr__(name: str) -> object:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        globals_of_package = importlib.import_module(package).__dict__
        globals_of_package[name] = value  # later look-ups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(where) | set(importlib.import_module(package).__dict__))

    return __getattr__, __dir__
