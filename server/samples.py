"""Generators rebuilt from runs' newest checkpoints, cached until the checkpoint changes.

The server samples in its own process (a worker may be busy or gone); rebuilding a generator costs a file read,
so it is done once per checkpoint version, not per request.
"""

from __future__ import annotations

import threading
from pathlib import Path

from models.checkpoint import load_checkpoint
from models.sampling import LoadedGenerator, load_generator


class GeneratorCache:
    def __init__(self, max_entries: int = 16):
        self.max_entries = max_entries
        self._entries: dict[Path, tuple[int, LoadedGenerator]] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> LoadedGenerator:
        """The generator of the checkpoint at ``path`` (FileNotFoundError when there is none yet)."""
        version = path.stat().st_mtime_ns
        with self._lock:
            cached = self._entries.get(path)
            if cached and cached[0] == version:
                return cached[1]
        loaded = load_generator(load_checkpoint(path))
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[path] = (version, loaded)
        return loaded
