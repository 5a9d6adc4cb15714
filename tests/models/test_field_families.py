"""The config schema tells the page which model families read each setting (``families``), derived from the one list
of GAN tricks the validator refuses elsewhere and D's own settings, so the page offers a VAE its β and no unrolling,
without a list of its own (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest

from models.config import D_SETTINGS, FAMILIES, GAN_TRICKS_ON, ConfigError, config_schema, parse_config
from tests.models.test_fix_groups import leaves


@pytest.fixture(scope="module")
def fields() -> dict[str, dict[str, Any]]:
    schema = config_schema()
    return leaves(schema, schema["$defs"])


def test_every_gan_trick_with_its_sub_settings_and_every_setting_of_d_is_offered_to_the_gan_alone(fields):
    assert set(GAN_TRICKS_ON) | set(D_SETTINGS) <= set(fields)
    for path in [*GAN_TRICKS_ON, *D_SETTINGS]:
        assert fields[path].get("families") == ["gan"], path
    # Sub-settings share their trick's fix: unroll_lr and unroll_order go with unroll_steps, anneal_steps with σ.
    tricks = {path: node for path, node in fields.items() if path.startswith("tricks.")}
    assert {path for path, node in tricks.items() if node.get("families") != ["gan"]} == set()
    assert len(tricks) > len([p for p in GAN_TRICKS_ON if p.startswith("tricks.")])


def test_each_family_s_own_settings_are_offered_to_it_and_the_shared_ones_to_every_family(fields):
    assert fields["train.kl_weight"]["families"] == ["vae"]
    assert fields["model.decoder_std"]["families"] == ["vae"]
    assert fields["model.bins"]["families"] == ["made"]
    for path in ("steps", "seed", "train.lr_g", "train.batch_size", "train.optimizer", "model.family", "model.hidden"):
        assert "families" not in fields[path], path  # every family reads it
    assert "stream.max_steps_per_second" in fields and "families" not in fields["stream.max_steps_per_second"]
    for path, node in fields.items():
        assert set(node.get("families", FAMILIES)) <= set(FAMILIES) and node.get("families", FAMILIES), path


# A value that switches each GAN trick on.
ON = {
    "tricks.label_smoothing": 0.1,
    "tricks.instance_noise.std": 0.3,
    "tricks.unroll_steps": 3,
    "tricks.feature_matching.enabled": True,
    "tricks.replay.size": 8,
    "tricks.pack": 2,
    "tricks.r1_gamma": 1.0,
}


def nested(path: str, value: Any) -> dict[str, Any]:
    *parents, leaf = path.split(".")
    out: dict[str, Any] = {leaf: value}
    for part in reversed(parents):
        out = {part: out}
    return out


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "gan"])
def test_a_trick_the_schema_withholds_from_a_family_is_one_its_config_refuses(fields, family):
    assert set(ON) == set(GAN_TRICKS_ON)
    for path, value in ON.items():
        assert family not in fields[path]["families"]
        parse_config({"model": {"family": "gan"}, **nested(path, value)})  # the GAN takes it
        with pytest.raises(ConfigError, match=path.replace(".", r"\.")):
            parse_config({"model": {"family": family}, **nested(path, value)})


def test_every_fix_is_offered_to_the_families_that_read_all_its_settings(fields):
    fixes = config_schema()["fixes"]
    # Each of the chapter's fixes acts on D; two time-scales also holds lr_g, which every family reads.
    assert {key: fix["families"] for key, fix in fixes.items()} == {key: ["gan"] for key in fixes}
    assert "families" not in fields["train.lr_g"] and fields["train.lr_g"]["fix"] == "two_time_scale"
