"""Files that are either wholly written or not there: checkpoints, caches, uploads."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    """``write`` fills a temp file beside ``path``, which then replaces ``path`` in one rename: a crash mid-write
    leaves the previous file (or none), never a half-written one that a reader would take for good."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; these files are shared like any other
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_partial_writes(folder: Path) -> list[Path]:
    """Delete the temp files ``write_atomically`` leaves when its process is killed mid-write (nothing reads them,
    but they hold disk). Only for a folder whose writer is known to be dead. Returns what it removed."""
    removed = [p for p in Path(folder).glob(".*.tmp") if p.is_file()]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed
