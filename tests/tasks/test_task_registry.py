"""Registered tasks and mixtures read through SeqIO: features, splits, rates, shards."""

from __future__ import annotations

import collections
import re

import numpy as np
import pytest
import seqio
from conftest import SHARED_DATASET
from instructions_fixture import DEFAULT_LAYOUT, make_record

from instructrec_jax.tasks import environment, naming, registry
from instructrec_jax.tasks.manifest import ManifestError
from instructrec_jax.tasks.vocab import VocabularyError

LENGTHS = {"inputs": 64, "targets": 16}
PREFIX = naming.dataset_prefix(SHARED_DATASET)
TYPE_PATTERN = re.compile(rb"type=(\S+) family=(\S+)")


def _origin(example):
    """(family, instruction_type) written into a fixture record's inputs."""
    instruction_type, family = TYPE_PATTERN.search(example["inputs_pretokenized"]).groups()
    return family.decode(), instruction_type.decode()


def test_registers_every_task_and_mixture(registered):
    expected_tasks = {
        f"{PREFIX}seqrec_p1_i0_t3",
        f"{PREFIX}seqrec_p1_i0_t2",
        f"{PREFIX}search_p0_i2_t3",
        f"{PREFIX}psearch_p1_i1_t3",
    }
    expected_mixtures = {
        f"{PREFIX}{suffix}"
        for suffix in (
            *("all", "seqrec", "search", "psearch", "all_but_p1_i1_t3"),
            *("all_but_p1_i0_t3", "all_but_p1_i0_t2", "all_but_p0_i2_t3"),
            *("all_but_seqrec", "all_but_search", "all_but_psearch"),
            *("ladder_1", "ladder_2", "ladder_3"),
        )
    }
    assert set(registered) == expected_tasks | expected_mixtures
    assert seqio.TaskRegistry.get(f"{PREFIX}seqrec_p1_i0_t2").splits == ("train",)
    assert seqio.TaskRegistry.get(f"{PREFIX}seqrec_p1_i0_t3").splits == (
        "train",
        "validation",
        "test",
    )
    assert not [name for name in registered if name.endswith("_rank")]  # ranking: evaluation/


def test_every_provider_goes_through_the_feature_converter(registered):
    converters = [seqio.EncDecFeatureConverter(pack=pack) for pack in (False, True)]
    for name in registered:
        provider = seqio.get_mixture_or_task(name)
        examples = provider.get_dataset(LENGTHS, split="train", shuffle=False, num_epochs=1)
        for converter in converters:  # one provider dataset, both converters
            batch = next(converter(examples, LENGTHS).batch(4).as_numpy_iterator())
            assert batch["encoder_input_tokens"].shape == (4, 64), name
            assert batch["decoder_target_tokens"].shape == (4, 16), name
            assert batch["decoder_input_tokens"][:, 0].tolist() == [0] * 4  # start = pad
            assert (batch["decoder_target_tokens"] == 1).any(axis=1).all(), f"{name}: no EOS"
            if converter.pack:
                assert batch["encoder_segment_ids"].max() >= 1, name


def test_training_task_yields_records_with_eos(registered):
    task = seqio.TaskRegistry.get(f"{PREFIX}seqrec_p1_i0_t3")
    examples = list(task.get_dataset(LENGTHS, split="train", shuffle=False).as_numpy_iterator())
    assert len(examples) == 60
    vocabulary = task.output_features["targets"].vocabulary
    by_n = {int(re.search(rb"n=(\d+)", ex["inputs_pretokenized"]).group(1)): ex for ex in examples}
    assert sorted(by_n) == list(range(60))
    record = make_record("train", "recommendation", "p1_i0_t3", 17, 5)
    assert vocabulary.decode(by_n[17]["targets"][:-1].tolist()) == record.targets
    assert by_n[17]["targets"][-1] == 1


def _mixture_origins(name, num_examples, seed=0):
    dataset = seqio.get_mixture_or_task(name).get_dataset(
        LENGTHS, split="train", shuffle=True, seed=seed, num_epochs=None, copy_pretokenized=True
    )
    return collections.Counter(_origin(ex) for ex in dataset.take(num_examples).as_numpy_iterator())


def _train_counts(keys):
    return {key: DEFAULT_LAYOUT[key]["train"] for key in keys}


@pytest.mark.parametrize("kind", ["examples", "uniform"])
def test_mixture_proportions_follow_the_rate(registered, rate_switch, kind):
    rate_switch.kind = kind
    try:
        counts = _mixture_origins(f"{PREFIX}all", 2000)
    finally:
        rate_switch.kind = "examples"
    train = _train_counts(DEFAULT_LAYOUT)
    weights = train if kind == "examples" else {key: 1 for key in train}
    total = sum(weights.values())
    for key, weight in weights.items():
        assert counts[key] / 2000 == pytest.approx(weight / total, abs=0.035), key


def test_held_out_type_never_appears_in_its_mixture(registered):
    counts = _mixture_origins(f"{PREFIX}all_but_p1_i1_t3", 600, seed=1)
    assert not [key for key in counts if key[1] == "p1_i1_t3"]
    assert len(counts) == 3
    mixture = seqio.get_mixture_or_task(f"{PREFIX}all_but_p1_i1_t3")
    assert all("p1_i1_t3" not in task.name for task in mixture.tasks)
    ladder = seqio.get_mixture_or_task(f"{PREFIX}ladder_3")
    assert all("p1_i1_t3" not in task.name for task in ladder.tasks)


def _inputs(task_name, split, shard_info=None, shuffle=False, seed=None):
    task = seqio.TaskRegistry.get(task_name)
    dataset = task.get_dataset(
        LENGTHS, split=split, shuffle=shuffle, seed=seed, shard_info=shard_info
    )
    return [ex["inputs_pretokenized"] for ex in dataset.as_numpy_iterator()]


@pytest.mark.parametrize("num_shards", [2, 3])  # 2: by file (2 files); 3: by record
def test_shards_are_disjoint_and_cover_the_split(registered, num_shards):
    name = f"{PREFIX}seqrec_p1_i0_t3"
    whole = _inputs(name, "train")
    shards = [
        _inputs(name, "train", seqio.ShardInfo(index=i, num_shards=num_shards))
        for i in range(num_shards)
    ]
    assert all(shards)
    assert sum(len(shard) for shard in shards) == len(whole)
    assert sorted(b for shard in shards for b in shard) == sorted(whole)


def test_seeded_shuffle_is_deterministic(registered):
    name = f"{PREFIX}seqrec_p1_i0_t3"
    first = _inputs(name, "train", shuffle=True, seed=5)
    assert first == _inputs(name, "train", shuffle=True, seed=5)
    assert first != _inputs(name, "train", shuffle=True, seed=6)
    assert sorted(first) == sorted(_inputs(name, "train"))


def test_reregistering_replaces_and_reset_removes(instructions_dir, vocab_path):
    dataset = "toy-again"
    prefix = naming.dataset_prefix(dataset)
    import json
    import shutil

    # Same files under another dataset name, so the shared registration stays untouched.
    copy = f"{instructions_dir}-again"
    shutil.copytree(instructions_dir, copy, dirs_exist_ok=True)
    with open(f"{copy}/manifest.json") as handle:
        raw = json.load(handle)
    raw["dataset"] = dataset
    with open(f"{copy}/manifest.json", "w") as handle:
        json.dump(raw, handle)
    first = registry.register_dataset_tasks(dataset, copy, vocab_path, rate="uniform")
    second = registry.register_dataset_tasks(
        dataset, copy, vocab_path, held_out_types=(), leave_one_out_types=()
    )
    assert f"{prefix}all_but_p1_i1_t3" in first
    assert f"{prefix}all_but_p1_i1_t3" not in second
    assert f"{prefix}all_but_p1_i1_t3" not in seqio.MixtureRegistry.names()
    removed = registry.reset_registry(prefix)
    assert sorted(removed) == sorted(second)
    assert not [n for n in seqio.TaskRegistry.names() if n.startswith(prefix)]


def test_missing_vocabulary_fails_at_registration(instructions_dir, tmp_path):
    missing = str(tmp_path / "vocab" / "spm.model")
    with pytest.raises(VocabularyError, match=re.escape(missing)):
        registry.register_dataset_tasks(SHARED_DATASET + "-x", instructions_dir, missing)


def test_missing_directory_and_files_fail_clearly(
    registered, vocab_path, instructions_dir, tmp_path
):
    with pytest.raises(ManifestError, match=r"instructions\.generate --dataset=ml-100k"):
        registry.register_dataset_tasks("ml-100k", tmp_path / "none", vocab_path)
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(instructions_dir, broken)
    (broken / "train/recommendation/p1_i0_t3/part-00001-of-00002.tfrecord").unlink()
    with pytest.raises(ManifestError, match=r"part-00001-of-00002\.tfrecord.*does not exist"):
        registry.register_dataset_tasks(SHARED_DATASET, broken, vocab_path)
    # A failed registration leaves the earlier one in place.
    assert f"{PREFIX}seqrec_p1_i0_t3" in seqio.TaskRegistry.names()
    assert f"{PREFIX}all" in seqio.MixtureRegistry.names()


def test_bad_rate_is_rejected(instructions_dir, vocab_path):
    with pytest.raises(ValueError, match="mixture rate must be one of"):
        registry.register_dataset_tasks(SHARED_DATASET, instructions_dir, vocab_path, rate="x")


def test_vocabulary_fixture_is_cached(instructions_dir, vocab_cache_dir, vocab_path):
    import os

    cached = [os.path.join(root, f) for root, _, files in os.walk(vocab_cache_dir) for f in files]
    assert any(path.endswith("spm_120/spm.model") for path in cached)
    assert np.array_equal(
        np.fromfile(vocab_path, dtype=np.uint8),
        np.fromfile(next(p for p in cached if p.endswith("spm.model")), dtype=np.uint8),
    )


def test_regenerated_instructions_get_their_own_vocabulary(instructions_dir, tmp_path):
    import json
    import shutil

    cache = tmp_path / "cache"
    first = environment.install_dataset_vocabulary(
        SHARED_DATASET, instructions_dir, vocab_size=120, cache_dir=str(cache)
    )
    regenerated = tmp_path / "regenerated"
    shutil.copytree(instructions_dir, regenerated)
    manifest_path = regenerated / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["teacher"] = "chat"  # same dataset fingerprint, other text
    manifest_path.write_text(json.dumps(manifest))
    environment.install_dataset_vocabulary(
        SHARED_DATASET, str(regenerated), vocab_size=120, cache_dir=str(cache)
    )
    environment.install_dataset_vocabulary(
        SHARED_DATASET, instructions_dir, vocab_size=120, cache_dir=str(cache), seed=1
    )
    models = sorted(cache.rglob("spm.model"))
    assert len(models) == 3, models
    again = environment.install_dataset_vocabulary(
        SHARED_DATASET, instructions_dir, vocab_size=120, cache_dir=str(cache)
    )
    assert again == first and len(sorted(cache.rglob("spm.model"))) == 3
