"""Tests of models.checkpoint and models.sampling: a checkpoint is plain data that ``torch.load(weights_only=True)``
reads, every unreadable file is a CheckpointError, saving is atomic, and sampling from a checkpoint is
deterministic, label-aware and drawn as a PNG that suits the data."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
import torch
from PIL import Image

from models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, trainer_from_checkpoint
from models.config import RunConfig, parse_config
from models.metrics import TIMING_METRICS
from models.presets import preset_config
from models.sampling import FAKE_RGB, REAL_RGB, load_generator, sample, samples_png
from models.trainer import Trainer

SMALL_RING = {
    "steps": 3,
    "dataset": {"kind": "ring", "modes": 8, "n": 1000},
    "model": {"hidden": 16, "z_dim": 4},
    "train": {"batch_size": 32},
    "stream": {"eval_samples": 100},
}


def small_ring_trainer(data_dir: Path, steps: int = 3) -> Trainer:
    trainer = Trainer(parse_config(SMALL_RING), data_dir)
    for _ in range(steps):
        trainer.step()
    return trainer


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory) -> tuple[Trainer, Path]:
    """A small ring trainer after 3 steps, and its checkpoint."""
    root = tmp_path_factory.mktemp("ring")
    trainer = small_ring_trainer(root)
    return trainer, save_checkpoint(trainer, root / "run" / "checkpoint.pt")


@pytest.fixture(scope="module")
def digits_cgan(tmp_path_factory) -> Path:
    """A conditional digits run's checkpoint. It is saved before any step: the first step measures quality with a
    classifier that takes minutes to train, and sampling needs only the generator's weights and shapes."""
    root = tmp_path_factory.mktemp("digits")
    trainer = Trainer(preset_config("digits-cgan", {"steps": 2}), root)
    return save_checkpoint(trainer, root / "checkpoint.pt")


def png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    picture = Image.open(io.BytesIO(data))
    assert picture.format == "PNG"
    picture.load()  # decodes every byte, so a truncated PNG fails here
    return picture


# ----------------------------------------------------------------------------------------- the file


def test_checkpoint_loads_with_plain_torch_load_weights_only(ring_run):
    trainer, path = ring_run
    state = torch.load(path, weights_only=True)
    assert isinstance(state, dict)
    assert state["step"] == 3
    assert state["config"] == trainer.config.model_dump(mode="json")
    for name, tensor in trainer.generator.state_dict().items():
        assert torch.equal(state["generator"][name], tensor)


def test_load_checkpoint_returns_the_validated_config_and_step(ring_run):
    trainer, path = ring_run
    state = load_checkpoint(path)
    assert isinstance(state["config"], RunConfig)
    assert state["config"] == trainer.config
    assert state["step"] == 3


def _truncated(tmp: Path, good: Path) -> Path:
    data = good.read_bytes()
    (tmp / "truncated.pt").write_bytes(data[: len(data) // 2])
    return tmp / "truncated.pt"


def _random_bytes(tmp: Path, good: Path) -> Path:
    (tmp / "random.pt").write_bytes(random.Random(0).randbytes(4096))
    return tmp / "random.pt"


def _empty(tmp: Path, good: Path) -> Path:
    (tmp / "empty.pt").write_bytes(b"")
    return tmp / "empty.pt"


def _not_a_dict(tmp: Path, good: Path) -> Path:
    torch.save([torch.zeros(3), 1, "two"], tmp / "list.pt")
    return tmp / "list.pt"


def _foreign_dict(tmp: Path, good: Path) -> Path:
    torch.save({"state_dict": {"w": torch.zeros(3)}}, tmp / "foreign.pt")
    return tmp / "foreign.pt"


def _format_only(tmp: Path, good: Path) -> Path:
    torch.save({"format": 1}, tmp / "format_only.pt")
    return tmp / "format_only.pt"


def _newer_format(tmp: Path, good: Path) -> Path:
    state = torch.load(good, weights_only=True)
    torch.save(state | {"format": 99}, tmp / "newer.pt")
    return tmp / "newer.pt"


def _invalid_config(tmp: Path, good: Path) -> Path:
    state = torch.load(good, weights_only=True)
    torch.save(state | {"config": state["config"] | {"seed": -1}}, tmp / "bad_config.pt")
    return tmp / "bad_config.pt"


def _missing(tmp: Path, good: Path) -> Path:
    return tmp / "missing.pt"


def _directory(tmp: Path, good: Path) -> Path:
    return tmp


@pytest.mark.parametrize(
    "make",
    [
        _truncated,
        _random_bytes,
        _empty,
        _not_a_dict,
        _foreign_dict,
        _format_only,
        _newer_format,
        _invalid_config,
        _missing,
        _directory,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_unreadable_checkpoint_raises_checkpoint_error_only(make, ring_run, tmp_path):
    path = make(tmp_path, ring_run[1])
    with pytest.raises(Exception) as info:
        load_checkpoint(path)
    assert info.type is CheckpointError, f"{info.type.__name__}: {info.value}"
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message  # fit for one line of CLI output


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    trainer = small_ring_trainer(tmp_path / "data", steps=1)
    run = tmp_path / "run"
    save_checkpoint(trainer, run / "checkpoint.pt")
    trainer.step()
    save_checkpoint(trainer, run / "checkpoint.pt")  # overwrites in place
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt"]
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 2


class _Unpicklable:
    """Stands in for a trainer whose state cannot be written (a crash half-way through torch.save)."""

    def state_dict(self):
        return {"weights": torch.zeros(1000), "oops": lambda: None}


def test_failed_save_keeps_the_previous_checkpoint_and_leaves_no_temp_files(ring_run, tmp_path):
    good = ring_run[1]
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(good.read_bytes())
    with pytest.raises(Exception):  # noqa: B017 - whatever pickling raises, it must propagate
        save_checkpoint(_Unpicklable(), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
    assert target.read_bytes() == good.read_bytes()


# ----------------------------------------------------------------------------------------- sampling


def test_same_seed_gives_identical_samples_and_another_seed_different(ring_run):
    loaded = load_generator(load_checkpoint(ring_run[1]))
    a, b, c = sample(loaded, 64, seed=5), sample(loaded, 64, seed=5), sample(loaded, 64, seed=6)
    assert a.shape == (64, 2)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_checkpoint_samples_equal_the_trainers_own_samples(ring_run):
    trainer, path = ring_run
    loaded = load_generator(load_checkpoint(path))
    assert loaded.step == 3
    assert torch.equal(sample(loaded, 32, seed=1), trainer.sample(32, seed=1).cpu())


def test_conditional_run_samples_the_label_asked_for(digits_cgan):
    loaded = load_generator(load_checkpoint(digits_cgan))
    threes = sample(loaded, 16, seed=0, label=3)
    assert threes.shape == (16, 1, 8, 8)
    assert torch.equal(threes, sample(loaded, 16, seed=0, label=3))
    assert not torch.equal(threes, sample(loaded, 16, seed=0, label=4))


@pytest.mark.parametrize("label", [10, -1, 99])
def test_label_out_of_range_raises_value_error_naming_label(digits_cgan, label):
    loaded = load_generator(load_checkpoint(digits_cgan))
    with pytest.raises(ValueError, match=r"^label: must lie in \[0, 9\]"):
        sample(loaded, 4, seed=0, label=label)


def test_label_on_a_non_conditional_run_raises_value_error_naming_label(ring_run):
    loaded = load_generator(load_checkpoint(ring_run[1]))
    with pytest.raises(ValueError, match=r"^label: .*not conditional"):
        sample(loaded, 4, seed=0, label=0)


@pytest.mark.parametrize("n", [0, -3])
def test_sampling_fewer_than_one_raises_value_error_naming_n(ring_run, n):
    loaded = load_generator(load_checkpoint(ring_run[1]))
    with pytest.raises(ValueError, match=r"^n: "):
        sample(loaded, n, seed=0)


@pytest.mark.parametrize("n, rows, cols", [(16, 4, 4), (10, 3, 4), (1, 1, 1)])
def test_image_samples_png_is_a_grid_of_n_tiles(digits_cgan, n, rows, cols):
    loaded = load_generator(load_checkpoint(digits_cgan))
    picture = png(samples_png(loaded, sample(loaded, n, seed=0)))
    scale = 64 // 8  # 8 px digits are drawn 8× larger
    tile = 8 + 1  # each tile and its 1 px border
    assert picture.size == ((cols * tile + 1) * scale, (rows * tile + 1) * scale)
    assert picture.mode == "L"


def test_2d_samples_png_is_a_scatter_plot(ring_run):
    loaded = load_generator(load_checkpoint(ring_run[1]))
    picture = png(samples_png(loaded, sample(loaded, 200, seed=0)))
    assert picture.size == (512, 512)
    colours = {colour for _, colour in picture.convert("RGB").getcolors(maxcolors=512 * 512)}
    assert (255, 255, 255) in colours  # background
    assert FAKE_RGB in colours  # sample dots
    assert REAL_RGB in colours  # mode-centre rings


# ----------------------------------------------------------------------------------------- resume and fork


def test_fork_keeps_the_parents_step_and_weights_with_new_settings(ring_run, tmp_path):
    parent, path = ring_run
    fork = trainer_from_checkpoint(load_checkpoint(path), tmp_path, overrides={"train": {"lr_g": 0.01}})
    assert fork.step_count == parent.step_count == 3
    assert fork.config.train.lr_g == 0.01
    assert fork.config.model_dump(exclude={"train": {"lr_g"}}) == parent.config.model_dump(exclude={"train": {"lr_g"}})
    assert all(group["lr"] == 0.01 for group in fork.opt_g.param_groups)
    for net in ("generator", "discriminator"):
        theirs = getattr(parent, net).state_dict()
        for name, tensor in getattr(fork, net).state_dict().items():
            assert torch.equal(tensor, theirs[name]), f"{net}.{name}"
    fork.step()
    assert fork.step_count == 4


def test_resume_without_overrides_continues_bit_for_bit(tmp_path):
    original = small_ring_trainer(tmp_path, steps=2)
    path = save_checkpoint(original, tmp_path / "checkpoint.pt")
    resumed = trainer_from_checkpoint(load_checkpoint(path), tmp_path)
    for _ in range(2):
        expected, got = original.step(), resumed.step()
        for timing in TIMING_METRICS:
            expected.pop(timing, None)
            got.pop(timing, None)
        assert got == expected
    for name, tensor in original.generator.state_dict().items():
        assert torch.equal(resumed.generator.state_dict()[name], tensor)
