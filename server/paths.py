"""Where a run keeps its files under the data dir. Built from the run's id (a server-made UUID), never from text a
client sent."""

from __future__ import annotations

from pathlib import Path


def run_dir(data_dir: Path | str, run_id: str) -> Path:
    """Everything a run keeps on disk: its checkpoint, its live generator weights and its image snapshots."""
    return Path(data_dir) / "runs" / run_id


def checkpoint_path(data_dir: Path | str, run_id: str) -> Path:
    """The run's newest full checkpoint (weights, optimisers, RNG): what resume and fork start from."""
    return run_dir(data_dir, run_id) / "checkpoint.pt"


def live_generator_path(data_dir: Path | str, run_id: str) -> Path:
    """The generator's weights as the worker last wrote them (every few seconds while it trains): samples of a
    live run come from here when it is newer than the checkpoint."""
    return run_dir(data_dir, run_id) / "generator.pt"


def snapshots_dir(data_dir: Path | str, run_id: str) -> Path:
    """Where an image run's sample frames are kept, one ``{step:08d}.png`` each, for scrubbing back through it."""
    return run_dir(data_dir, run_id) / "samples"
