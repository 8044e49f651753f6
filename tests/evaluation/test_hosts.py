"""Hosts: round-robin shard ownership and, in one process, gathering as concatenation."""

from __future__ import annotations

import numpy as np
import pytest

from instructrec_jax.evaluation.hosts import Hosts


def test_shards_are_dealt_round_robin_and_every_shard_has_one_owner():
    hosts = [Hosts(index, 3) for index in range(3)]
    owned = [[i for i in range(8) if host.owns(i)] for host in hosts]
    assert owned == [[0, 3, 6], [1, 4, 7], [2, 5]]
    assert [host.is_writer for host in hosts] == [True, False, False]
    with pytest.raises(ValueError, match="process index 3 is not in"):
        Hosts(3, 3)


def test_one_process_gathers_its_own_parts():
    parts = [np.array([3, 1]), np.array([2]), np.array([5, 4, 1])]
    got = Hosts().gather_ranks(parts, [2, 1, 3])
    np.testing.assert_array_equal(got, [3, 1, 2, 5, 4, 1])
    assert got.dtype == np.int64
    order = []
    with Hosts().writer_first("nothing to wait for"):
        order.append("ran")
    assert order == ["ran"]
