import pytest

from instructrec_jax.data import PrepareConfig, make_synthetic, prepare
from instructrec_jax.instructions.negatives import MemoisedNegativeSampler


@pytest.fixture(scope="module")
def dataset():
    raw = make_synthetic(num_users=30, num_items=40, num_categories=5, seed=2, max_len=10)
    return prepare(raw, PrepareConfig())


def test_memoised_sampler_matches_the_data_layer(dataset):
    sampler = MemoisedNegativeSampler(dataset)
    for user_id in list(dataset.sequences)[:15]:
        for seed in (0, 1, 12345):
            for n in (1, 2, 9):
                assert sampler.sample_negatives(user_id, n, seed) == dataset.sample_negatives(
                    user_id, n, seed
                )
        excluded = sampler.sample_negatives(user_id, 3, 7, exclude=("x",))
        assert excluded == dataset.sample_negatives(user_id, 3, 7, exclude=("x",))


def test_memoised_sampler_never_returns_interacted_items(dataset):
    sampler = MemoisedNegativeSampler(dataset)
    for user_id, sequence in dataset.sequences.items():
        negatives = sampler.sample_negatives(user_id, 9, 3)
        assert len(set(negatives)) == 9
        assert not set(negatives) & set(sequence.item_ids)
