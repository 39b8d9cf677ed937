"""How files people rely on are written, shared by every layer that writes them.

* Whole files are replaced atomically (:func:`atomic_write`): a temporary file beside the
  target, fsynced, then renamed over it, so a reader sees the old file or the new one.
* Every file is created with mode ``0o666`` less the user's umask (the same policy as
  ``open()`` and the shell), including the temporary files of atomic writes, which
  ``tempfile.mkstemp`` would create as ``0o600``.
* Appends (:func:`open_append`) never follow a symbolic link: a run directory someone
  else prepared cannot turn our writes onto another file.
* A write that fails because the disk is full (or a quota is used up, or the file system
  is read-only) raises :class:`~tuirecipe.errors.StorageError` naming the file, and
  leaves nothing half-written behind.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from tuirecipe.errors import StorageError

FILE_MODE = 0o666  # less the umask, as open() does

# Errors of the storage, not of our code or of the user's inputs.
_STORAGE_ERRNOS = {
    errno.ENOSPC: "no space left on device (the disk is full)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for the file system",
    errno.EROFS: "the file system is read-only",
}


def is_storage_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the storage refused a write (full, quota, read-only)."""
    return isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS


def storage_error(exc: OSError, path: Path | str) -> StorageError:
    """``exc`` (a storage error) as a one-line :class:`StorageError` naming ``path``."""
    words = _STORAGE_ERRNOS.get(exc.errno or 0) or exc.strerror or str(exc)
    error = StorageError(f"cannot write: {words}", source=str(path))
    error.errno = exc.errno
    error.strerror = exc.strerror
    error.filename = str(path)
    return error


@contextmanager
def storage_errors_named(path: Path | str) -> Iterator[None]:
    """Turn a storage error raised inside the block into a :class:`StorageError` naming
    ``path`` (OS errors from a ``write`` carry no file name)."""
    try:
        yield
    except StorageError:
        raise
    except OSError as exc:
        if not is_storage_error(exc):
            raise
        raise storage_error(exc, path) from exc


def _create_temp_beside(path: Path) -> tuple[int, Path]:
    """A new, empty file beside ``path`` (hidden, unique) opened for writing, created
    with the umask's mode like any other file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, FILE_MODE), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))


def atomic_write(path: Path | str, fill: Callable[[BinaryIO], object]) -> None:
    """Replace ``path`` with what ``fill(handle)`` writes, atomically: readers see the old
    file or the new one, never half; a failure (a full disk included) leaves the old file
    as it was and no temporary file behind."""
    path = Path(path)
    with storage_errors_named(path):
        fd, tmp = _create_temp_beside(path)
        try:
            with os.fdopen(fd, "wb") as handle:
                fill(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda handle: handle.write(data))


def temp_path_beside(path: Path | str) -> Path:
    """An empty temporary file beside ``path`` for writers that need a file name (pandas,
    pyarrow); rename it over ``path`` when complete, unlink it on failure."""
    path = Path(path)
    with storage_errors_named(path):
        fd, tmp = _create_temp_beside(path)
    os.close(fd)
    return tmp


def open_append(path: Path | str) -> int:
    """A file descriptor appending to ``path`` (created with the umask's mode when
    missing). A symbolic link at ``path`` is refused with a :class:`StorageError` rather
    than followed."""
    path = Path(path)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    if not nofollow and path.is_symlink():  # no O_NOFOLLOW here: check, then open
        raise StorageError(_LINK_WORDS, source=str(path))
    try:
        with storage_errors_named(path):
            return os.open(path, flags | nofollow, FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP and path.is_symlink():
            raise StorageError(_LINK_WORDS, source=str(path)) from exc
        raise


_LINK_WORDS = "is a symbolic link; tuirecipe does not write run files through links"


def append_all(fd: int, data: bytes, path: Path | str) -> None:
    """Append ``data`` to the file open at ``fd`` (see :func:`open_append`) in full or not
    at all: after a failed write (the disk full midway) the file is cut back to where it
    was, so no half line is left for readers (a file has one appending writer at a time:
    the worker, or a reader recording that the worker is gone). Raises
    :class:`StorageError` naming ``path`` for storage errors."""
    start = os.fstat(fd).st_size
    view = memoryview(data)
    try:
        with storage_errors_named(path):
            while view:
                written = os.write(fd, view)
                view = view[written:]
    except BaseException:
        try:
            os.ftruncate(fd, start)
        except OSError:
            pass
        raise
