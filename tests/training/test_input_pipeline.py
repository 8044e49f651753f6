"""The host input pipeline: resumable training batches, padded evaluation batches."""

from __future__ import annotations

import numpy as np
import pytest
import training_tiny_task

from instructrec_jax.training import input_pipeline
from instructrec_jax.training.input_pipeline import DatasetConfig, HostShard

LENGTHS = {"inputs": 16, "targets": 8}
ONE_HOST = HostShard(index=0, count=1, rows=8)


def _train_data(**overrides: object) -> DatasetConfig:
    fields = dict(shuffle=True, seed=3, pack=True)
    fields.update(overrides)
    return DatasetConfig(training_tiny_task.TASK_NAME, LENGTHS, **fields)


def test_training_batches_restarted_at_a_step_are_the_uninterrupted_ones():
    uninterrupted = input_pipeline.train_batches(_train_data(), ONE_HOST, start_step=0)
    first_five = [next(uninterrupted) for _ in range(5)]
    restarted = input_pipeline.train_batches(_train_data(), ONE_HOST, start_step=3)
    for expected in first_five[3:]:
        batch = next(restarted)
        assert batch.keys() == expected.keys()
        for name, values in expected.items():
            np.testing.assert_array_equal(batch[name], values)


def test_training_batches_depend_on_the_seed():
    seed_3 = next(input_pipeline.train_batches(_train_data(), ONE_HOST, start_step=0))
    seed_4 = next(input_pipeline.train_batches(_train_data(seed=4), ONE_HOST, start_step=0))
    assert not np.array_equal(seed_3["encoder_input_tokens"], seed_4["encoder_input_tokens"])


def test_evaluation_batches_pad_to_the_requested_count_with_zero_weight_rows():
    data = DatasetConfig(training_tiny_task.TASK_NAME, LENGTHS, split="validation")
    batches = input_pipeline.eval_batches(data, HostShard(index=0, count=1, rows=12), 4)
    # 32 validation examples in rows of 12: 12 + 12 + 8 real rows, then one empty batch.
    assert len(batches) == 4
    weights = [batch["decoder_loss_weights"] for batch in batches]
    assert [w.shape for w in weights] == [(12, LENGTHS["targets"])] * 4
    assert [int((w.sum(axis=1) > 0).sum()) for w in weights] == [12, 12, 8, 0]


@pytest.mark.parametrize("option", ["shuffle", "pack"])
def test_evaluation_refuses_shuffled_or_packed_reading(option):
    data = DatasetConfig(training_tiny_task.TASK_NAME, LENGTHS, "validation", **{option: True})
    with pytest.raises(ValueError, match=f"{option}=True"):
        input_pipeline.eval_batches(data, ONE_HOST, 1)
