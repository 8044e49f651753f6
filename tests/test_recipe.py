"""The settings the demo and the ablation share (instructrec_jax/recipe.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from instructrec_jax.ablation.config import ARM_OVERRIDABLE, AblationConfig
from instructrec_jax.demo import DemoConfig
from instructrec_jax.recipe import TRAINING_SETTINGS, RecipeConfig, TrainingSettings


def test_demo_and_ablation_share_the_recipe_fields_and_defaults():
    shared = {field.name for field in dataclasses.fields(RecipeConfig)} - {"work_dir"}
    demo, ablation = DemoConfig(), AblationConfig()
    for name in shared:
        assert getattr(demo, name) == getattr(ablation, name), name
    assert (demo.work_dir, ablation.work_dir) == ("demo_output", "ablation_output")
    assert ARM_OVERRIDABLE == TRAINING_SETTINGS
    assert set(TRAINING_SETTINGS) < shared


def test_an_arm_trains_with_its_overrides_and_the_shared_rest():
    config = AblationConfig(
        dataset="synthetic",
        train_steps=40,
        arms={"all": {"mixture": "m"}, "fast": {"mixture": "m", "learning_rate": 3e-3}},
    )
    fast = config.arm("fast").training
    assert fast == dataclasses.replace(TrainingSettings(), train_steps=40, learning_rate=3e-3)
    train = fast.train_config(Path("/tmp/m"), "mix", fast.model_config(256), 7, False)
    assert (train.train_steps, train.learning_rate, train.seed) == (40, 3e-3, 7)
    assert train.task_feature_lengths == {"inputs": 256, "targets": 32}
    assert (train.checkpoint_period, train.log_period, train.eval_period) == (10, 2, 0)
    assert train.model.vocab_size == 256 and train.mixture_or_task_name == "mix"
    assert not train.progress_bar
