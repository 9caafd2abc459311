"""What Concord writes to disk is readable by its own user only: directories 0700, files 0600.

The data directory holds the SQLite database, the secret key, signing keys and evidence uploads; the
recordings directory holds what people said in a mediation. ``concord serve`` and ``concord demo`` set the
process umask to 077 (every file the process, SQLite or a recorder child creates starts private) and
tighten what an older version left world-readable; the writers below also set the mode themselves, so
a file is private even in a process that did not go through the CLI (tests, an embedding app).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def private_umask() -> int:
    """Files and directories created from now on are the owner's only; returns the old umask."""
    return os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """``mkdir -p`` where every directory it creates is 0700 (Path.mkdir gives parents the umask's mode)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for p in reversed(missing):
        try:
            p.mkdir(mode=DIR_MODE)
        except FileExistsError:  # made meanwhile by another task or process
            pass
        os.chmod(p, DIR_MODE)
    return path


def private(path: Path | str) -> None:
    """Make one file the owner's only (after a library such as PyAV or SQLite created it)."""
    os.chmod(path, FILE_MODE)


def open_private(path: Path, mode: str = "wb") -> IO[Any]:
    """``open(path, mode)`` for writing, created with 0600 whatever the umask (and 0600 if it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8")


def sqlite_file(database_url: str) -> Path | None:
    """The database file of a SQLite URL (``sqlite+aiosqlite:///path``), else None."""
    if not database_url.startswith("sqlite") or ":///" not in database_url:
        return None
    raw = database_url.split(":///", 1)[1].split("?", 1)[0]
    return Path(raw) if raw and raw != ":memory:" else None


def lock_down(dirs: Iterable[Path], database_url: str = "") -> int:
    """Tighten existing trees: every directory 0700, every regular file 0600 (symlinks are left alone).

    Returns how many modes were changed. Also the SQLite file and its -wal/-shm companions, wherever they are.
    """
    changed = 0

    def fix(p: Path, want: int) -> None:
        nonlocal changed
        st = p.lstat()
        if stat.S_ISLNK(st.st_mode) or stat.S_IMODE(st.st_mode) == want:
            return
        os.chmod(p, want)
        changed += 1

    for root in dirs:
        if not root.is_dir():
            continue
        fix(root, DIR_MODE)
        for top, subdirs, files in os.walk(root):
            for d in subdirs:
                fix(Path(top) / d, DIR_MODE)
            for f in files:
                p = Path(top) / f
                if stat.S_ISREG(p.lstat().st_mode):
                    fix(p, FILE_MODE)
    db = sqlite_file(database_url)
    if db is not None:
        for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")):
            if p.exists():
                fix(p, FILE_MODE)
    return changed
