from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from instructrec_jax.evaluation.baselines import GRU4RecConfig
from instructrec_jax.evaluation.baselines.gru4rec import GRU4Rec


def test_left_padding_does_not_change_the_state():
    model = GRU4Rec(num_items=9, embedding_size=4, hidden_size=6, num_layers=2, dropout_rate=0.0)
    params = jax.jit(model.init)(jax.random.PRNGKey(0), jnp.zeros((1, 3), jnp.int32))
    states = jax.jit(lambda item_ids: model.apply(params, item_ids, method="user_states"))
    short = states(jnp.array([[3, 4]]))
    padded = states(jnp.array([[0, 0, 0, 3, 4]]))
    np.testing.assert_allclose(short, padded, rtol=1e-6)
    other = states(jnp.array([[0, 0, 0, 4, 3]]))
    assert not np.allclose(short, other)  # the order matters


def test_config_checks_name_the_field():
    with pytest.raises(ValueError, match=r"GRU4RecConfig\.hidden_size"):
        GRU4RecConfig(hidden_size=0)
    with pytest.raises(ValueError, match=r"GRU4RecConfig\.dropout_rate"):
        GRU4RecConfig(dropout_rate=1.0)
    with pytest.raises(ValueError, match=r"GRU4RecConfig\.monitor_metric"):
        GRU4RecConfig(monitor_metric="NDCG@1")
