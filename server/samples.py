"""Generators rebuilt from runs' newest weights, cached until those weights change.

The server samples in its own process (a worker may be busy or gone). A run's newest weights are in its checkpoint
or, while it trains, in the generator file its worker rewrites every few seconds, whichever was written last.
Rebuilding a generator costs a file read, so it is done once per file version, not per request; a cached
generator is served without touching the database.
"""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path
from typing import Any

from models.checkpoint import GENERATOR_KEYS, load_checkpoint
from models.sampling import SCATTER_SIZE, LoadedGenerator, grid_pixels, load_generator, png_scale
from server.paths import checkpoint_path, live_generator_path

RUN_ID = re.compile(r"^[0-9a-f]{32}$")  # what server.db.tables.new_run_id makes: safe as a path component

#: The most bytes one samples request may build, whatever ``n`` says: ``n`` alone bounds nothing, since one sample
#: of an uploaded 3×128×128 dataset is 49 152 values (about 1 MB of JSON text).
#: JSON text per sampled value, rounded up: a float32 written as a double ("-0.12345678901234567, ").
JSON_BYTES_PER_VALUE = 24
FLOAT_BYTES = 4  # the sampled tensor, float32


def samples_bytes(meta: dict[str, Any], n: int, format: str) -> int:
    """What a samples response of ``n`` builds, known before sampling from the run's sample shape: the larger of the
    sampled tensor and the body (JSON text, or the PNG picture's raw pixels, which its compression only shrinks)."""
    shape = [int(d) for d in meta["sample_shape"]]
    values = n * math.prod(shape)
    if format == "json":
        body = values * JSON_BYTES_PER_VALUE
    elif meta["is_image"]:
        body = grid_pixels(n, shape, png_scale(shape[-1]))
    else:
        body = SCATTER_SIZE * SCATTER_SIZE * 3
    return max(values * FLOAT_BYTES, body)


def walk_bytes(meta: dict[str, Any], rows: int, steps: int) -> int:
    """What a latent walk's PNG of ``rows`` × ``steps`` images builds (its raw pixels, or the sampled tensor if more),
    known before sampling: ``rows`` is the number of labels of a conditional run, which its dataset decides."""
    shape = [int(d) for d in meta["sample_shape"]]
    n = rows * steps
    return max(n * math.prod(shape) * FLOAT_BYTES, grid_pixels(n, shape, png_scale(shape[-1]), columns=steps))


def largest_n(meta: dict[str, Any], format: str, limit: int, most: int) -> int:
    """The largest ``n`` ≤ ``most`` whose response stays within ``limit`` bytes (0 when not even one does)."""
    low, high = 0, most
    while low < high:  # samples_bytes grows with n
        mid = (low + high + 1) // 2
        if samples_bytes(meta, mid, format) <= limit:
            low = mid
        else:
            high = mid - 1
    return low


def newest_weights(data_dir: Path, run_id: str) -> tuple[Path, int] | None:
    """The run's file with the newest generator weights and its version (mtime), or None when it has none yet."""
    if not RUN_ID.match(run_id):
        return None
    found = []
    for path in (checkpoint_path(data_dir, run_id), live_generator_path(data_dir, run_id)):
        try:
            found.append((path.stat().st_mtime_ns, path))
        except FileNotFoundError:
            continue
    if not found:
        return None
    version, path = max(found)
    return path, version


class GeneratorCache:
    def __init__(self, max_entries: int = 16):
        self.max_entries = max_entries
        self._entries: dict[str, tuple[tuple[Path, int], LoadedGenerator]] = {}
        self._lock = threading.Lock()

    def get(self, data_dir: Path, run_id: str) -> LoadedGenerator | None:
        """The generator of the run's newest weights; None when it has none (yet). Raises CheckpointError when the
        file is unreadable."""
        newest = newest_weights(data_dir, run_id)
        if newest is None:
            return None
        with self._lock:
            cached = self._entries.get(run_id)
            if cached and cached[0] == newest:
                return cached[1]
        loaded = load_generator(load_checkpoint(newest[0], required=GENERATOR_KEYS))
        with self._lock:
            self._entries.pop(run_id, None)
            if len(self._entries) >= self.max_entries:
                self._entries.pop(next(iter(self._entries)))
            self._entries[run_id] = (newest, loaded)
        return loaded

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._entries.pop(run_id, None)
