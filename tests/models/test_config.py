"""Tests of models.config: defaults validate, the schema flags every leaf live or fixed, live patches are the
only ones a running run accepts, and every refusal names the field and the reason."""

from __future__ import annotations

from typing import Any

import pytest

from models.config import (
    ConfigError,
    RunConfig,
    apply_patch,
    config_schema,
    live_paths,
    parse_config,
)

# ----------------------------------------------------------------------------------------- helpers


def schema_leaves(node: dict[str, Any], defs: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """(dotted path, schema node) of every leaf field; a union of models (the dataset) is walked per variant."""
    if "$ref" in node:
        return schema_leaves(defs[node["$ref"].rsplit("/", 1)[-1]], defs, path)
    if "properties" in node:
        out = []
        for name, child in node["properties"].items():
            out += schema_leaves(child, defs, f"{path}.{name}" if path else name)
        return out
    variants = node.get("oneOf") or node.get("allOf") or []
    if variants and all("$ref" in v for v in variants):
        out = []
        for variant in variants:
            out += schema_leaves(variant, defs, path)
        return out
    return [(path, node)]


def refused(call: Any) -> list[dict[str, str]]:
    with pytest.raises(ConfigError) as info:
        call()
    assert info.value.errors, "a ConfigError must name at least one field"
    return info.value.errors


def fields(errors: list[dict[str, str]]) -> list[str]:
    return [e["field"] for e in errors]


# ----------------------------------------------------------------------------------------- defaults and schema


def test_defaults_validate_and_survive_a_json_round_trip():
    default = RunConfig()
    assert parse_config({}) == default
    assert parse_config(default.model_dump(mode="json")) == default


def test_schema_marks_every_leaf_field_live_true_or_false():
    schema = config_schema()
    leaves = schema_leaves(schema, schema["$defs"])
    assert len(leaves) > 40  # the walk really reached the nested models and every dataset variant
    unflagged = [path for path, node in leaves if not isinstance(node.get("live"), bool)]
    assert unflagged == []


def test_schema_live_flags_agree_with_live_paths():
    schema = config_schema()
    live_in_schema = {path for path, node in schema_leaves(schema, schema["$defs"]) if node["live"]}
    assert live_in_schema == live_paths()


@pytest.mark.parametrize(
    "path",
    [
        "tricks.unroll_steps",
        "train.lr_d",
        "train.lr_g",
        "train.loss",
        "steps",
        "tricks.instance_noise.std",
        "tricks.label_smoothing",
        "train.betas",
    ],
)
def test_training_knobs_are_live(path):
    assert path in live_paths()


@pytest.mark.parametrize(
    "path",
    [
        "seed",
        "device",
        "model.arch",
        "model.z_dim",
        "tricks.pack",
        "dataset",
        "dataset.kind",
        "dataset.n",
        "dataset.modes",
    ],
)
def test_fields_that_shape_the_run_are_not_live(path):
    assert path not in live_paths()


def test_no_dataset_field_is_live():
    assert not [p for p in live_paths() if p.startswith("dataset")]


# ----------------------------------------------------------------------------------------- live patches


@pytest.mark.parametrize(
    "patch",
    [
        {"tricks": {"unroll_steps": 5}, "train": {"lr_d": 0.001}},
        {"tricks.unroll_steps": 5, "train.lr_d": 0.001},
        {"tricks": {"unroll_steps": 5}, "train.lr_d": 0.001},
    ],
    ids=["nested", "dotted", "mixed"],
)
def test_apply_patch_accepts_nested_and_dotted_live_patches(patch):
    new = apply_patch(RunConfig(), patch)
    assert new.tricks.unroll_steps == 5
    assert new.train.lr_d == 0.001


def test_apply_patch_returns_a_new_config_and_leaves_the_old_unchanged():
    old = RunConfig()
    before = old.model_dump()
    new = apply_patch(old, {"tricks": {"instance_noise": {"std": 0.3}}, "train.lr_g": 0.01})
    assert new is not old
    assert old.model_dump() == before
    assert (new.tricks.instance_noise.std, new.train.lr_g) == (0.3, 0.01)
    # everything the patch did not name is carried over
    assert new.model_dump(exclude={"tricks": {"instance_noise"}, "train": {"lr_g"}}) == old.model_dump(
        exclude={"tricks": {"instance_noise"}, "train": {"lr_g"}}
    )


def test_refused_patch_leaves_the_old_config_unchanged():
    old = RunConfig()
    before = old.model_dump()
    refused(lambda: apply_patch(old, {"train.lr_d": 0.001, "tricks.pack": 2}))
    assert old.model_dump() == before


def test_patching_a_non_live_field_is_refused_with_a_fork_hint():
    errors = refused(lambda: apply_patch(RunConfig(), {"tricks": {"pack": 2}}))
    assert fields(errors) == ["tricks.pack"]
    assert "fork" in errors[0]["reason"]


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"seed": 1}, "seed"),
        ({"model": {"arch": "dcgan"}}, "model.arch"),
        ({"model.hidden": 32}, "model.hidden"),
        ({"dataset": {"n": 500}}, "dataset.n"),
        ({"dataset": {"kind": "grid"}}, "dataset"),
    ],
)
def test_every_non_live_field_is_refused_in_a_live_patch(patch, field):
    errors = refused(lambda: apply_patch(RunConfig(), patch))
    assert fields(errors) == [field]
    assert "fork" in errors[0]["reason"]


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"nosuchfield": 1}, "nosuchfield"),
        ({"tricks": {"nosuch": 1}}, "tricks.nosuch"),
        ({"train.lr": 0.1}, "train.lr"),
    ],
)
def test_patching_an_unknown_field_says_no_such_field(patch, field):
    errors = refused(lambda: apply_patch(RunConfig(), patch))
    assert errors == [{"field": field, "reason": "no such field"}]


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"train": {"lr_d": -1}}, "train.lr_d"),
        ({"train.lr_g": 2}, "train.lr_g"),
        ({"tricks": {"unroll_steps": 99}}, "tricks.unroll_steps"),
        ({"tricks.label_smoothing": 0.9}, "tricks.label_smoothing"),
        ({"train.loss": "nosuchloss"}, "train.loss"),
        ({"train.batch_size": "many"}, "train.batch_size"),
        ({"train.betas": [0.5, 1.0]}, "train.betas"),
        ({"tricks.instance_noise.std": -0.1}, "tricks.instance_noise.std"),
    ],
)
def test_out_of_limit_value_is_refused_naming_the_field(patch, field):
    errors = refused(lambda: apply_patch(RunConfig(), patch))
    assert fields(errors) == [field]
    assert errors[0]["reason"]


def test_every_bad_field_of_a_patch_is_reported():
    errors = refused(lambda: apply_patch(RunConfig(), {"train.lr_d": -1, "tricks.unroll_steps": 99}))
    assert sorted(fields(errors)) == ["train.lr_d", "tricks.unroll_steps"]


@pytest.mark.parametrize("patch", [{}, {"tricks": {}}], ids=["empty", "empty-nested"])
def test_empty_patch_is_refused(patch):
    errors = refused(lambda: apply_patch(RunConfig(), patch))
    assert errors == [{"field": "patch", "reason": "empty patch"}]


def test_live_patch_that_breaks_a_cross_field_rule_is_refused():
    hinge = parse_config({"train": {"loss": "hinge"}})
    errors = refused(lambda: apply_patch(hinge, {"tricks.label_smoothing": 0.1}))
    assert fields(errors) == ["tricks.label_smoothing"]


def test_config_error_message_names_field_and_reason():
    with pytest.raises(ConfigError) as info:
        apply_patch(RunConfig(), {"tricks.pack": 2})
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("tricks.pack: ")


# ----------------------------------------------------------------------------------------- forks (live_only=False)


def test_fork_patch_replaces_the_dataset_kind_wholesale():
    new = apply_patch(RunConfig(), {"dataset": {"kind": "grid"}}, live_only=False)
    assert new.dataset.kind == "grid"
    assert new.dataset.side == 5  # the grid's own defaults, none of the ring's fields


def test_fork_patch_replaces_the_dataset_kind_in_dotted_form_too():
    new = apply_patch(RunConfig(), {"dataset.kind": "grid", "dataset.side": 3}, live_only=False)
    assert (new.dataset.kind, new.dataset.side) == ("grid", 3)


def test_fork_patch_edits_one_field_of_the_same_dataset_kind():
    new = apply_patch(RunConfig(), {"dataset": {"n": 500}}, live_only=False)
    assert (new.dataset.kind, new.dataset.n, new.dataset.modes) == ("ring", 500, 8)


def test_fork_patch_changes_non_live_fields():
    new = apply_patch(RunConfig(), {"seed": 7, "model": {"hidden": 32}, "tricks.pack": 4}, live_only=False)
    assert (new.seed, new.model.hidden, new.tricks.pack) == (7, 32, 4)


def test_fork_patch_still_validates():
    errors = refused(lambda: apply_patch(RunConfig(), {"tricks.pack": 3}, live_only=False))
    assert fields(errors) == ["train.batch_size"]
    errors = refused(lambda: apply_patch(RunConfig(), {"nosuchfield": 1}, live_only=False))
    assert fields(errors) == ["nosuchfield"]


# ----------------------------------------------------------------------------------------- cross-field rules


@pytest.mark.parametrize(
    "data, field",
    [
        ({"model": {"conditional": True}}, "model.conditional"),
        ({"model": {"arch": "dcgan"}}, "model.arch"),
        ({"train": {"batch_size": 255}, "tricks": {"pack": 2}}, "train.batch_size"),
        ({"train": {"loss": "hinge"}, "tricks": {"label_smoothing": 0.1}}, "tricks.label_smoothing"),
        ({"train": {"loss": "wasserstein_gp"}, "tricks": {"label_smoothing": 0.1}}, "tricks.label_smoothing"),
        (
            {
                "dataset": {"kind": "digits"},
                "model": {"conditional": True},
                "train": {"batch_size": 64},
                "tricks": {"pack": 2},
            },
            "tricks.pack",
        ),
    ],
    ids=[
        "conditional-on-ring",
        "dcgan-on-ring",
        "batch-not-multiple-of-pack",
        "smoothing-with-hinge",
        "smoothing-with-wgan",
        "pack-with-conditional",
    ],
)
def test_cross_field_rule_names_the_offending_field(data, field):
    errors = refused(lambda: parse_config(data))
    assert fields(errors) == [field]
    assert errors[0]["reason"]
    assert not errors[0]["reason"].startswith(field)  # the field is split off the message, not repeated


@pytest.mark.parametrize(
    "data",
    [
        {"dataset": {"kind": "digits"}, "model": {"conditional": True}},
        {"dataset": {"kind": "digits"}, "model": {"arch": "dcgan"}},
        {"train": {"batch_size": 256}, "tricks": {"pack": 4}},
        {"train": {"loss": "least_squares"}, "tricks": {"label_smoothing": 0.1}},
    ],
    ids=["conditional-digits", "dcgan-digits", "pack-divides-batch", "smoothing-with-lsgan"],
)
def test_consistent_combinations_are_accepted(data):
    parse_config(data)


# ----------------------------------------------------------------------------------------- extra=forbid


@pytest.mark.parametrize(
    "data, field",
    [
        ({"bogus": 1}, "bogus"),
        ({"model": {"bogus": 1}}, "model.bogus"),
        ({"train": {"bogus": 1}}, "train.bogus"),
        ({"tricks": {"instance_noise": {"bogus": 1}}}, "tricks.instance_noise.bogus"),
        ({"stream": {"bogus": 1}}, "stream.bogus"),
        ({"dataset": {"kind": "ring", "bogus": 1}}, "dataset.bogus"),
        ({"dataset": {"kind": "digits", "modes": 8}}, "dataset.modes"),
    ],
)
def test_unknown_keys_are_rejected_anywhere(data, field):
    errors = refused(lambda: parse_config(data))
    assert fields(errors) == [field]
    assert "extra" in errors[0]["reason"].lower()


def test_unknown_dataset_kind_is_rejected():
    errors = refused(lambda: parse_config({"dataset": {"kind": "nosuch"}}))
    assert fields(errors) == ["dataset"]
    assert "nosuch" in errors[0]["reason"]
