"""Atomic output: a file is either its old content or its complete new content.

Every file lactobiome writes goes through :func:`write_file_atomic` (or its two shorthands,
:func:`write_text_atomic` and :func:`write_bytes_atomic`): the content is written to a
temporary name in the target's own folder and then renamed over the target with
:func:`os.replace`, which is atomic on POSIX and Windows when both names are on one file
system.

* The new file gets the mode a plain ``open(path, "w")`` would give it: the mode of the file
  it replaces, or ``0o666`` less the user's umask for a new file (``0o644`` under umask
  ``022``; not the ``0o600`` of :func:`tempfile.mkstemp`).
* A target that is a symbolic link stays a link: the file it points to is written.
* On any failure, :class:`KeyboardInterrupt` included, the temporary file (or folder) is
  removed and the target is left as it was.
* A writer may produce a folder instead of a file (a Zarr store): the old folder is moved
  aside, the new one renamed into place and the old one deleted.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

__all__ = ["resolve_target", "write_bytes_atomic", "write_file_atomic", "write_text_atomic"]


def resolve_target(out: str | os.PathLike[str]) -> Path:
    """The path that writing ``out`` really replaces: symbolic links followed.

    Parameters
    ----------
    out
        The path a caller asked to write.

    Returns
    -------
    pathlib.Path
        ``out`` with every symbolic link resolved (a dangling link gives the path it points
        to), absolute.
    """
    return Path(os.path.realpath(os.fspath(out)))


def _temporary_name(target: Path) -> Path:
    """A fresh hidden name beside ``target`` (not created)."""
    return target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove the temporary files of ``target`` left by a writer that was killed.

    A temporary name carries its writer's process id; one whose process no longer runs (a
    SIGKILL, a power cut) is litter, however large (a killed merge left a 43 MB file). Those of
    a live writer are kept. Returns what was removed.
    """
    removed = []
    for path in target.parent.glob(f".{target.name}.tmp-*-*"):
        try:
            pid = int(path.name[len(f".{target.name}.tmp-"):].split("-")[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            _remove(path)
            removed.append(path)
    return removed


def _remove(path: Path) -> None:
    """Remove a file, link or folder if it exists; never raises."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def _swap_in(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` over ``target``; a folder replaces a folder by moving the old one aside."""
    if not (tmp.is_dir() and not tmp.is_symlink()) or not os.path.lexists(target):
        os.replace(tmp, target)
        return
    old = _temporary_name(target)
    os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    _remove(old)


def write_file_atomic(
    out: str | os.PathLike[str], writer: Callable[[Path], object], *, fsync: bool = False
) -> Path:
    """Write ``out`` by calling ``writer`` on a temporary path beside it, then renaming.

    Parameters
    ----------
    out
        The file (or folder) to write. Its parent folders are created. If it is a symbolic
        link, the file the link points to is written and the link is kept.
    writer
        Called once with the temporary path (which does not exist yet); it must create that
        path, as a file (e.g. ``lambda tmp: ds.to_netcdf(tmp)``) or a folder (a Zarr store).
        Its return value is ignored.
    fsync
        Flush the new file to disk before the rename (for files a crash must not lose).

    Returns
    -------
    pathlib.Path
        The path written (``out`` with links resolved).

    Raises
    ------
    FileNotFoundError
        If ``writer`` returned without creating the temporary path.
    BaseException
        Whatever ``writer`` or the rename raised; the temporary path is removed first and the
        old ``out`` is untouched.
    """
    target = resolve_target(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = _temporary_name(target)
    try:
        writer(tmp)
        if not os.path.lexists(tmp):
            raise FileNotFoundError(f"{out}: the writer did not create its temporary file {tmp}")
        if tmp.is_file():
            _settle_file(tmp, target, fsync)
        _swap_in(tmp, target)
    except BaseException:
        _remove(tmp)
        raise
    return target


def _settle_file(tmp: Path, target: Path, fsync: bool) -> None:
    """Give ``tmp`` the mode of the file it replaces (if any) and optionally flush it."""
    try:
        old_mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        old_mode = None
    if old_mode is not None:
        os.chmod(tmp, old_mode)
    if fsync:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes_atomic(data: bytes, out: str | os.PathLike[str], *, fsync: bool = True) -> Path:
    """Write ``data`` to ``out`` atomically (see :func:`write_file_atomic`).

    Parameters
    ----------
    data
        The whole new content.
    out
        The target file.
    fsync
        Flush to disk before the rename (default: yes, these files are small).

    Returns
    -------
    pathlib.Path
        The path written.
    """

    def write(tmp: Path) -> None:
        # O_EXCL: never write through a file or link someone else put at the temporary name;
        # 0o666 lets the umask decide the mode, as for any new file
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)

    return write_file_atomic(out, write, fsync=fsync)


def write_text_atomic(
    text: str,
    out: str | os.PathLike[str],
    *,
    encoding: str = "utf-8",
    fsync: bool = True,
) -> Path:
    """Write ``text`` to ``out`` atomically, with ``\\n`` line endings as given.

    Parameters
    ----------
    text
        The whole new content (written as is: no newline translation).
    out
        The target file.
    encoding
        Text encoding (UTF-8 by default).
    fsync
        Flush to disk before the rename.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    return write_bytes_atomic(text.encode(encoding), out, fsync=fsync)
