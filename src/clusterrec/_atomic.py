"""Atomic file writes: a temporary file in the same folder, then a rename; and whole folders
(a run directory, a model folder) built beside their target and swapped into place.

An interrupted run never leaves a half-written file that a later run would trust, and a
folder the user keeps is at every moment either the old complete one or the new complete one.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it onto ``path``.

    The file gets the permissions an ordinary new file would (0666 less the umask), not the
    0600 of a temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """A fresh folder beside ``target`` to build in; on success it takes ``target``'s place
    in one step (an older ``target`` is removed after), on failure it is removed.

    A process killed at any moment leaves ``target`` as it was or complete and new: never
    half old, half new. (Where the kernel cannot exchange two folders atomically, there is a
    moment between two renames without ``target``; the old folder is then kept as
    ``.NAME.old-*`` beside it.)
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part"))
    try:
        yield work
        os.chmod(work, 0o777 & ~_umask())
        replace_directory(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def replace_directory(work: Path, target: Path) -> None:
    """Put folder ``work`` in the place of ``target`` (a folder or nothing)."""
    if not target.exists():
        os.rename(work, target)
        return
    if not target.is_dir() or target.is_symlink():
        raise FileExistsError(f"{target}: exists and is not a folder; not replaced")
    if _exchange(work, target):  # work now holds the old folder
        shutil.rmtree(work, ignore_errors=True)
        return
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
    os.rename(target, old / "old")
    os.rename(work, target)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step with Linux's renameat2(RENAME_EXCHANGE); False elsewhere."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return done == 0


def _libc() -> object:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - platforms without a C library to load
        return None
