from __future__ import annotations

import numpy as np

from instructrec_jax.evaluation.baselines.train_loop import (
    EarlyStopping,
    gather_rows,
    shuffled_batches,
)


def test_shuffled_batches_cover_rows_once_with_fixed_size():
    batches = list(shuffled_batches(10, 4, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [4, 4, 4]
    flat = np.concatenate(batches)
    assert sorted(flat[flat >= 0].tolist()) == list(range(10))
    assert (flat < 0).sum() == 2


def test_gather_rows_fills_masked_rows_with_padding():
    users = np.array([5, 6, 7])
    windows = np.array([[1, 2], [3, 4], [5, 6]])
    got_users, got_windows = gather_rows((users, windows), np.array([2, -1, 0]))
    np.testing.assert_array_equal(got_users, [7, 0, 5])
    np.testing.assert_array_equal(got_windows, [[5, 6], [0, 0], [1, 2]])


def test_early_stopping_keeps_the_best_check_and_stops_after_patience():
    stopper = EarlyStopping("HR@1", patience=2)
    assert not stopper.should_stop(1, {"HR@1": 0.2}, {"w": np.array(1.0)})
    assert not stopper.should_stop(2, {"HR@1": 0.5}, {"w": np.array(2.0)})
    assert not stopper.should_stop(3, {"HR@1": 0.5}, {"w": np.array(3.0)})  # a tie is no gain
    assert stopper.should_stop(4, {"HR@1": 0.4}, {"w": np.array(4.0)})
    assert stopper.best.epoch == 2 and float(stopper.best.params["w"]) == 2.0
