"""A test-sized ablation: 3 arms of flan_t5_tiny on a 60-user synthetic dataset."""

from __future__ import annotations

from pathlib import Path

from instructrec_jax.ablation.config import AblationConfig

ARMS = {
    "all": {"mixture": "instructrec_{dataset}_all"},
    "ladder_1": {"mixture": "instructrec_{dataset}_ladder_1", "learning_rate": 5e-3},
    "all_but_p1_i1_t3": {"mixture": "instructrec_{dataset}_all_but_p1_i1_t3"},
}


def small_config(work_dir: str | Path) -> AblationConfig:
    """One training step per arm, 8 test users, 2 validation users, sequential and
    personalized search (which evaluates the held-out p1_i1_t3)."""
    return AblationConfig(
        work_dir=str(work_dir),
        dataset="synthetic",
        dataset_kwargs={"num_users": 60, "num_items": 60, "num_categories": 3, "seed": 0},
        vocab_size=300,
        workers=1,
        shuffle_buffer_size=32,
        arms=ARMS,
        reference="all",
        train_steps=1,
        batch_size=8,
        warmup_steps=1,
        input_length=128,
        target_length=32,
        scenarios=("sequential", "personalized_search"),
        max_test_examples=8,
        max_valid_examples=2,
        baselines=("popularity",),
        bootstrap_resamples=200,
    )
