from __future__ import annotations

import numpy as np
import pytest

from instructrec_jax.data import EvalExample
from instructrec_jax.evaluation.baselines import ItemIndex
from instructrec_jax.evaluation.baselines.sequence_data import (
    encode_candidates,
    encode_histories,
    left_pad,
    training_windows,
)


def test_item_index_is_sorted_raw_ids_with_padding_zero():
    index = ItemIndex(["b", "c", "a"])
    assert index.item_ids == ("a", "b", "c")
    np.testing.assert_array_equal(index.indices(["a", "c"]), [1, 3])
    assert index.item_id(2) == "b"
    with pytest.raises(KeyError, match="'zz'"):
        index.index("zz")
    with pytest.raises(IndexError):
        index.item_id(0)


def test_left_pad_keeps_the_most_recent_items():
    np.testing.assert_array_equal(left_pad(np.array([1, 2, 3]), 5), [0, 0, 1, 2, 3])
    np.testing.assert_array_equal(left_pad(np.array([1, 2, 3, 4]), 2), [3, 4])
    np.testing.assert_array_equal(left_pad(np.array([], dtype=np.int32), 3), [0, 0, 0])


def test_windows_predict_every_target_once_from_preceding_items():
    items = [f"i{k}" for k in range(1, 8)]  # indices 1..7
    index = ItemIndex(items)
    windows = training_windows([items, ["i1"]], index, max_length=3)
    # targets 2..7 in two windows of 3; the one-item sequence has no target.
    np.testing.assert_array_equal(windows.inputs, [[4, 5, 6], [1, 2, 3]])
    np.testing.assert_array_equal(windows.targets, [[5, 6, 7], [2, 3, 4]])
    assert windows.num_targets == 6
    short = training_windows([["i3", "i5"]], index, max_length=3)
    np.testing.assert_array_equal(short.inputs, [[0, 0, 3]])
    np.testing.assert_array_equal(short.targets, [[0, 0, 5]])


def test_windows_need_a_target():
    with pytest.raises(ValueError, match="nothing to train on"):
        training_windows([["a"]], ItemIndex(["a"]), max_length=4)


def test_encoding_examples_and_unknown_items():
    index = ItemIndex(["a", "b", "c", "d"])
    example = EvalExample("u7", "test", ("a", "b", "c"), "d", ("a",))
    np.testing.assert_array_equal(encode_histories([example], index, 2), [[2, 3]])
    np.testing.assert_array_equal(encode_candidates([example], index), [[4, 1]])
    stranger = EvalExample("u8", "valid", ("a",), "nope", ("b",))
    with pytest.raises(KeyError, match=r"valid example of user 'u8'.*'nope'"):
        encode_candidates([stranger], index)
