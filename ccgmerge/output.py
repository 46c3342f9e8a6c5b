"""Safe output files: atomic writes, an output folder replaced as one set, and
CSV cells that a spreadsheet will not run as formulas.

* :func:`atomic_write` writes one file through a temporary file in the same
  folder (flushed, ``fsync``-ed, then ``os.replace``), so a full disk or a
  crash never leaves a file cut short: the old file stays until the new one is
  complete.
* :func:`prepare_folder` creates an output folder and proves that a file can be
  written there, so an unwritable ``--out`` is reported before a long solve.
* :func:`replace_files` writes a set of files (``plan.csv``, ``groups.csv``,
  ``summary.json``) into a temporary folder ``DIR/.tmp-XXXX`` first; only when
  every file is complete and synced does it move them into ``DIR`` and remove
  the stale files of the previous run that the new run does not write. If
  anything fails on the way, ``DIR`` is put back as it was, so it holds either
  the complete previous set or the complete new one, never a mix.
* :func:`csv_safe` neutralises spreadsheet formula injection in text cells.

Examples
--------
>>> import pandas as pd
>>> csv_safe(pd.DataFrame({"name": ["=HYPERLINK()", "Leeds", "-1"], "margin": [-5, 2, 3]}))["name"].tolist()
["'=HYPERLINK()", 'Leeds', '-1']
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pandas as pd

from ccgmerge.errors import CCGMergeError

__all__ = ["OutputError", "atomic_write", "csv_safe", "prepare_folder", "remove_created", "replace_files", "TMP_PREFIX"]

#: Name prefix of the temporary files and folders written before a replace.
TMP_PREFIX = ".tmp-"
#: A cell starting with one of these is run as a formula by Excel, LibreOffice or Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class OutputError(CCGMergeError, OSError):
    """An output folder or file cannot be written (names it and says how to fix it)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, data: str | bytes, prefix: str = TMP_PREFIX) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same
    folder, flushed and synced, then ``os.replace``. On any failure (a full
    disk) the temporary file is removed and ``path`` is untouched. ``prefix`` names
    the temporary file (a sweep puts its PID in it)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=path.suffix + ".part")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _is_formula(value) -> bool:
    return (isinstance(value, str) and value.startswith(FORMULA_STARTS)
            and not _NUMBER.match(value.strip()))


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot run as spreadsheet formulas.

    A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return gets a leading ``'`` (the spreadsheet convention for "this is text"),
    so ``=HYPERLINK(...)`` is shown, not run. Numbers are never changed: numeric
    columns are left alone, and so is a text cell that is a plain number
    (``-5``, ``+44``, ``1e3``). Reading such a file back gives the ``'``-prefixed
    text.
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            mask = s.map(_is_formula).astype(bool)
            if mask.any():
                out[col] = s.where(~mask, "'" + s.astype(str))
    return out


def _explain(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full; free some space or choose another --out folder"
    if exc.errno == errno.EDQUOT:
        return "the disk quota is exhausted; free some space or choose another --out folder"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied; choose a folder you can write to"
    if exc.errno == errno.EROFS:
        return "the file system is read-only; choose another --out folder"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return "a file stands where a folder is needed; choose another --out folder"
    return "choose another --out folder"


def prepare_folder(folder: str | os.PathLike) -> Path | None:
    """Create ``folder`` (and its parents) if needed and prove a file can be
    written in it; return the topmost folder created (None if ``folder``
    existed), for :func:`remove_created` after a failed run.

    Raises
    ------
    OutputError
        ``folder`` is a file, cannot be created, or refuses a test write
        (permission, read-only file system, full disk): the message names it.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder; give a folder for the outputs.")
    top = None
    for p in [folder, *folder.parents]:
        if p.exists():
            break
        top = p
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        remove_created(folder, top)
        raise OutputError(f"cannot create the output folder {folder}: {exc.strerror or exc}; {_explain(exc)}.") from None
    try:  # a page of test data, synced, then removed
        fd, probe = tempfile.mkstemp(dir=folder, prefix=TMP_PREFIX, suffix=".probe")
        try:
            os.write(fd, b"ccgmerge write test\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        remove_created(folder, top)
        raise OutputError(f"cannot write in the output folder {folder}: {exc.strerror or exc}; {_explain(exc)}.") from None
    return top


def remove_created(folder: str | os.PathLike, top: str | os.PathLike | None) -> None:
    """Remove ``folder`` and its parents up to ``top`` (what :func:`prepare_folder`
    created), as long as they are empty; nothing when ``top`` is None."""
    if top is None:
        return
    p, top = Path(folder), Path(top)
    while True:
        try:
            p.rmdir()
        except OSError:
            return
        if p == top or p.parent == p:
            return
        p = p.parent


def replace_files(folder: str | os.PathLike, writers: Mapping[str, Callable[[Path], object]],
                  stale: Iterable[str] = ()) -> list[Path]:
    """Replace a set of files in ``folder`` as one step.

    Parameters
    ----------
    folder : path
        The output folder (created if needed).
    writers : mapping file name -> callable
        Each callable writes its file to the path it is given (a path inside a
        temporary folder ``folder/.tmp-XXXX``).
    stale : file names
        Files of a previous run to remove when the new set does not include
        them (``plan.csv`` and ``groups.csv`` after an infeasible run).

    Returns the paths written. On failure (a full disk, a permission error)
    the temporary folder is removed, ``folder`` keeps exactly the files it had,
    and :class:`OutputError` names the folder and the cause.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=folder))
    done: list[tuple[str, bool]] = []  # (name, had an old file)
    names = list(writers)
    drop = [n for n in stale if n not in writers and (folder / n).exists()]
    try:
        try:
            for name in names:  # 1. every new file, complete and synced, in the temporary folder
                writers[name](tmp / name)
                with open(tmp / name, "rb") as fh:
                    os.fsync(fh.fileno())
            _fsync_dir(tmp)
            backup = tmp / "previous"
            backup.mkdir()
            for name in names + drop:  # 2. hard links to the previous files, to roll back
                if (folder / name).exists():
                    try:
                        os.link(folder / name, backup / name)
                    except OSError:
                        shutil.copy2(folder / name, backup / name)
        except OSError as exc:
            raise OutputError(f"cannot write the results to {folder}: {exc.strerror or exc}; {_explain(exc)}. "
                              f"The files already in {folder} are unchanged.") from None
        try:  # 3. the switch: renames and unlinks only
            for name in names:
                had = (folder / name).exists()
                os.replace(tmp / name, folder / name)
                done.append((name, had))
            for name in drop:
                os.unlink(folder / name)
                done.append((name, True))
            _fsync_dir(folder)
        except OSError as exc:
            for name, had in reversed(done):  # put the previous set back
                try:
                    if had:
                        os.replace(backup / name, folder / name)
                    else:
                        os.unlink(folder / name)
                except OSError:
                    pass
            raise OutputError(f"cannot replace the results in {folder}: {exc.strerror or exc}; {_explain(exc)}. "
                              f"The previous files in {folder} were restored.") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [folder / n for n in names]
