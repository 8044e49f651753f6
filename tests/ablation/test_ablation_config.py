"""Arms from gin dicts: checks, overrides, what each arm ablates."""

from __future__ import annotations

import pytest

from instructrec_jax.ablation.config import AblationConfig


def test_config_rejects_bad_arms():
    with pytest.raises(ValueError, match="unknown fields \\['lr'\\]"):
        AblationConfig(arms={"all": {"mixture": "m", "lr": 1.0}}, reference="all")
    with pytest.raises(ValueError, match="reference 'x' is not an arm"):
        AblationConfig(arms={"all": {"mixture": "m"}}, reference="x")
    with pytest.raises(ValueError, match="names no 'mixture'"):
        AblationConfig(arms={"all": {}}, reference="all")


def test_arm_reads_what_it_ablates_from_its_mixture():
    config = AblationConfig(
        dataset="ml-100k",
        arms={
            "all": {"mixture": "instructrec_{dataset}_all"},
            "held": {"mixture": "instructrec_{dataset}_all_but_p1_i1_t3"},
            "family_out": {"mixture": "instructrec_{dataset}_all_but_search"},
            "ladder": {"mixture": "instructrec_{dataset}_ladder_4", "train_steps": 9},
            "search": {"mixture": "instructrec_{dataset}_search"},
        },
    )
    assert config.arm("held").held_out_type == "p1_i1_t3"
    assert config.arm("held").mixture == "instructrec_ml100k_all_but_p1_i1_t3"
    assert config.arm("family_out").held_out_type is None
    assert config.arm("ladder").ladder_size == 4
    assert config.arm("ladder").settings["train_steps"] == 9
    assert config.arm("all").settings["train_steps"] == config.train_steps
    assert config.arm("search").trained_family == "product_search"
