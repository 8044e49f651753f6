"""Shared, session-scoped fixtures: one generated directory, one vocabulary, one registration.

Building SeqIO/tf.data pipelines is slow, so the directory, vocabulary and registry are
made once per test process and shared. Tests that need their own registration use their
own dataset name, so they never replace these entries.
"""

from __future__ import annotations

import pytest
from instructions_fixture import write_instructions_dir

from instructrec_jax.tasks import environment, registry

SHARED_DATASET = "toy-100k"


class RateSwitch:
    """A mixture rate choice that tests can flip after registration."""

    def __init__(self) -> None:
        self.kind = "examples"

    def __call__(self) -> str:
        return self.kind


@pytest.fixture(scope="session")
def instructions_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_instructions_dir(tmp_path_factory.mktemp("instructions"), dataset=SHARED_DATASET)


@pytest.fixture(scope="session")
def vocab_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("vocab_cache"))


@pytest.fixture(scope="session")
def vocab_path(instructions_dir: str, vocab_cache_dir: str) -> str:
    return environment.install_dataset_vocabulary(
        SHARED_DATASET, instructions_dir, vocab_size=120, cache_dir=vocab_cache_dir
    )


@pytest.fixture(scope="session")
def rate_switch() -> RateSwitch:
    return RateSwitch()


@pytest.fixture(scope="session")
def registered(instructions_dir: str, vocab_path: str, rate_switch: RateSwitch) -> list[str]:
    # A small shuffle buffer: filling the default 10k buffer per task dominates test time.
    return registry.register_dataset_tasks(
        SHARED_DATASET, instructions_dir, vocab_path, rate=rate_switch, shuffle_buffer_size=64
    )
