"""The config schema tells the page which fix each setting belongs to, and what each fix does and where it comes
from, so the run view groups its controls by fix without a list of its own (issue 13 §2)."""

from __future__ import annotations

from typing import Any

from models.config import FIXES, config_schema


def leaves(node: dict[str, Any], defs: dict[str, Any], path: str = "") -> dict[str, dict[str, Any]]:
    """{dotted path: schema node} of every leaf outside the dataset union."""
    if "$ref" in node:
        return leaves(defs[node["$ref"].rsplit("/", 1)[-1]], defs, path)
    if "properties" not in node:
        return {path: node}
    out: dict[str, dict[str, Any]] = {}
    for name, child in node["properties"].items():
        if "discriminator" not in child:
            out |= leaves(child, defs, f"{path}.{name}" if path else name)
    return out


def test_every_trick_setting_names_a_fix_the_schema_describes_with_a_paper():
    schema = config_schema()
    fields = leaves(schema, schema["$defs"])
    tricks = {path: node for path, node in fields.items() if path.startswith("tricks.")}
    assert tricks and all(node.get("fix") in schema["fixes"] for node in tricks.values()), tricks
    for fix in schema["fixes"].values():
        assert fix["title"] and fix["does"].endswith(".") and any(ch.isdigit() for ch in fix["paper"]), fix


def test_each_described_fix_has_a_setting_and_the_two_learning_rates_are_one_fix():
    schema = config_schema()
    named = {node.get("fix") for node in leaves(schema, schema["$defs"]).values()}
    assert set(FIXES) <= named  # no fix without a field that switches it
    fields = leaves(schema, schema["$defs"])
    assert fields["train.lr_g"]["fix"] == fields["train.lr_d"]["fix"] == "two_time_scale"
    assert list(schema["fixes"]) == list(FIXES)  # the order the run view shows them in
