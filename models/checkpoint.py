"""Checkpoints: one file holds the config beside the weights, so the file alone rebuilds the run.

Everything in it is tensors, numbers, strings, lists and dicts, so it loads with ``torch.load(weights_only=True)``
and a checkpoint from an untrusted source can never execute code. There is one loader for every use: resume,
fork, sampling.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch

from models.atomic import write_atomically
from models.config import ConfigError, RunConfig, apply_patch, flatten_patch, parse_config
from models.trainer import CHECKPOINT_FORMAT, Trainer

# Every key Trainer.state_dict writes; resuming reads them all.
STATE_KEYS = (
    "config",
    "data",
    "step",
    "generator",
    "discriminator",
    "opt_g",
    "opt_d",
    "rng",
    "rng_device",
    "replay",
    "noise_set_at",
    "change_log",
)
# What sampling needs: a generator file (``save_generator``) holds only these.
GENERATOR_KEYS = ("config", "data", "step", "generator")


class CheckpointError(ValueError):
    """The file is not a readable ganplay checkpoint (corrupt, truncated, foreign or from a newer version)."""


def save_checkpoint(trainer: Trainer, path: Path | str) -> Path:
    """Write atomically: a crash mid-write leaves the previous checkpoint, never a half-written one. Serialised in
    memory first, so a full disk fails the write with ENOSPC rather than torch's zip writer's "unexpected pos"."""
    buffer = io.BytesIO()
    torch.save(trainer.state_dict(), buffer)
    return write_atomically(Path(path), lambda f: f.write(buffer.getbuffer()))


def save_generator(trainer: Trainer, path: Path | str) -> Path:
    """The generator's weights with what rebuilds it (config, data description, step), written atomically: a few
    percent of a full checkpoint (no discriminator, optimisers or replay buffer), so it can be written every few
    seconds and samples of a live run never wait for the next full checkpoint."""
    state = {
        "format": CHECKPOINT_FORMAT,
        "config": trainer.config.model_dump(mode="json"),
        "data": trainer.meta,
        "step": trainer.step_count,
        "generator": trainer.generator.state_dict(),
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return write_atomically(Path(path), lambda f: f.write(buffer.getbuffer()))


def load_checkpoint(
    path: Path | str, map_location: str | torch.device = "cpu", required: tuple[str, ...] = STATE_KEYS
) -> dict[str, Any]:
    """The checkpoint's contents, checked; raises CheckpointError rather than a pickle or zip traceback.
    ``required=GENERATOR_KEYS`` also reads a generator file (or takes only what sampling needs from a checkpoint)."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except Exception as e:  # torch raises RuntimeError, pickle errors, zip errors, EOFError...
        # One line: torch's unpickling message spans many lines and advises weights_only=False, which is unsafe here.
        detail = (
            "corrupt, or holds objects other than tensors and plain data"
            if isinstance(e, pickle.UnpicklingError)
            else (str(e).strip().splitlines() or [""])[0]
        )
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__}: {detail})") from None
    if not isinstance(state, dict) or "format" not in state:
        raise CheckpointError(f"{path}: not a ganplay checkpoint")
    if state["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {state['format']}, this version reads {CHECKPOINT_FORMAT}")
    missing = [key for key in required if key not in state]
    if missing:
        raise CheckpointError(f"{path}: not a ganplay checkpoint (missing {', '.join(missing)})")
    try:
        state["config"] = parse_config(state["config"])
    except ConfigError as e:
        raise CheckpointError(f"{path}: invalid config: {e}") from None
    return state


def trainer_from_checkpoint(
    state: dict[str, Any],
    data_dir: Path | str = "data",
    overrides: dict[str, Any] | None = None,
    device: str | None = None,
    **trainer_options: Any,
) -> Trainer:
    """Resume (no overrides) bit-identically, or fork: any field may change, and the networks carry over when
    their shapes still fit; optimisers and the random stream then restart from the fork's config. ``device``
    places the run without counting as an override (whoever runs it decides where); ``trainer_options`` go to the
    ``Trainer``."""
    config: RunConfig = state["config"]
    if overrides:
        config = apply_patch(config, overrides, live_only=False)
    trainer = Trainer(config, data_dir, device=device, **trainer_options)
    try:
        trainer.load_state_dict(state, weights_only=bool(overrides))
    except RuntimeError as e:  # size mismatch or missing layers: the fork changed the networks' shape
        changed = sorted(k for k in flatten_patch(overrides or {}) if k.startswith(("model.", "tricks.pack")))
        raise ConfigError(
            [
                {
                    "field": changed[0] if changed else "model",
                    "reason": f"changes the networks' shape, so the parent's weights cannot carry over "
                    f"({str(e).splitlines()[0]})",
                }
            ]
        ) from None
    return trainer
