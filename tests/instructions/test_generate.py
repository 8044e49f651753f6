import json
import os

import pytest

from instructrec_jax.data import PrepareConfig, make_synthetic, prepare
from instructrec_jax.instructions import generate as generate_module
from instructrec_jax.instructions.cli import generate_main
from instructrec_jax.instructions.generate import GenerateConfig, generate
from instructrec_jax.instructions.records import feature_spec, from_tf_example_bytes
from instructrec_jax.instructions.shards import read_tfrecord_payloads
from instructrec_jax.tf_setup import import_tensorflow

CONFIG = GenerateConfig(seed=5, train_shards=3, eval_shards=2, workers=1)


@pytest.fixture(scope="module")
def dataset():
    raw = make_synthetic(num_users=30, num_items=40, num_categories=5, seed=1, max_len=10)
    return prepare(raw, PrepareConfig())


def _tree(directory):
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _records(out_dir, files):
    return [
        from_tf_example_bytes(raw)
        for name in files
        for raw in read_tfrecord_payloads(out_dir / name)
    ]


def test_files_are_readable_by_tensorflow(generated):
    out_dir, _ = generated
    tf = import_tensorflow()
    manifest = json.loads((out_dir / "manifest.json").read_text())
    entry = manifest["splits"]["valid"]["recommendation/p1_i0_t3"]
    dataset = tf.data.TFRecordDataset([str(out_dir / f) for f in entry["files"]])
    parsed = list(dataset.map(lambda x: tf.io.parse_single_example(x, feature_spec())))
    assert len(parsed) == entry["num_records"]
    first = parsed[0]
    assert tf.sparse.to_dense(first["candidate_titles"]).shape == (10,)
    assert int(first["positive_index"]) >= 0


@pytest.fixture(scope="module")
def generated(dataset, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("instructions")
    stats = generate(dataset, out_dir, CONFIG, progress=False)
    return out_dir, stats


def test_manifest_follows_the_contract(dataset, generated):
    out_dir, stats = generated
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["format_version"] == 1
    assert manifest["dataset"] == dataset.name
    assert manifest["dataset_fingerprint"] == dataset.fingerprint
    assert (manifest["seed"], manifest["teacher"]) == (5, "heuristic")
    assert (manifest["max_input_tokens"], manifest["token_counter"]) == (512, "whitespace")
    assert set(manifest["splits"]) == {"train", "valid", "test"}
    total = 0
    for split, entries in manifest["splits"].items():
        for key, entry in entries.items():
            assert key == f"{entry['family']}/{entry['instruction_type']}"
            shards = 3 if split == "train" else 2
            assert len(entry["files"]) == shards
            assert entry["files"][0] == f"{split}/{key}/part-00000-of-0000{shards}.tfrecord"
            records = _records(out_dir, entry["files"])
            assert len(records) == entry["num_records"] > 0
            assert sorted({r.template_id for r in records}) == sorted(entry["template_ids"])
            assert {(r.split, r.family, r.instruction_type) for r in records} == {
                (split, entry["family"], entry["instruction_type"])
            }
            total += len(records)
    assert stats["total"]["num_records"] == total
    saved = json.loads((out_dir / "stats.json").read_text())
    assert saved == stats
    assert (
        sum(saved["splits"]["train"]["by_type"].values()) == saved["splits"]["train"]["num_records"]
    )
    assert 0 <= saved["total"]["truncation_rate"] <= 1


def test_eval_records_use_the_fixed_candidates(dataset, generated):
    out_dir, _ = generated
    manifest = json.loads((out_dir / "manifest.json").read_text())
    valid = manifest["splits"]["valid"]
    assert set(valid["recommendation/p1_i0_t3"]["template_ids"]) == {"A7", "A8", "A9", "A10", "A13"}
    assert set(valid["personalized_search/p1_i1_t3"]["template_ids"]) == {
        "C10",
        "C11",
        "C12",
        "C13",
    }
    by_user = {e.user_id: e for e in dataset.valid}
    for record in _records(out_dir, valid["recommendation/p1_i0_t3"]["files"]):
        example = by_user[record.user_id]
        assert sorted(record.candidate_item_ids) == sorted(example.candidates)
        assert record.candidate_item_ids[record.positive_index] == example.target
    product = _records(out_dir, valid["product_search/p0_i2_t3"]["files"])
    assert product
    for record in product:
        assert dataset.item_split[record.target_item_id] == "valid"
        assert len(set(record.candidate_item_ids)) == 10
        assert record.candidate_item_ids[record.positive_index] == record.target_item_id
        assert record.user_id == ""


def test_train_records_targets_and_negatives(dataset, generated):
    out_dir, _ = generated
    manifest = json.loads((out_dir / "manifest.json").read_text())
    train = manifest["splits"]["train"]
    families = {entry["family"] for entry in train.values()}
    assert families == {"recommendation", "product_search", "personalized_search"}
    for key, entry in train.items():
        for record in _records(out_dir, entry["files"]):
            seen = set(dataset.sequences[record.user_id].item_ids)
            if entry["family"] == "product_search":
                assert dataset.item_split[record.target_item_id] == "train"
            if record.instruction_type.endswith("_t3"):
                assert len(record.candidate_item_ids) == 10
                assert record.targets == dataset.catalog[record.target_item_id].title
                negatives = set(record.candidate_item_ids) - {record.target_item_id}
                assert not negatives & seen, key
            if "_t0" in record.instruction_type:
                assert record.targets == ("Yes" if record.positive_index == 0 else "No")
                if record.targets == "No":
                    assert record.candidate_item_ids[0] not in seen


def test_same_seed_is_byte_identical_across_worker_counts(dataset, generated, tmp_path):
    out_dir, _ = generated
    parallel = tmp_path / "parallel"
    generate(dataset, parallel, GenerateConfig(**{**CONFIG.__dict__, "workers": 2}), progress=False)
    assert _tree(parallel) == _tree(out_dir)
    other = tmp_path / "other_seed"
    generate(dataset, other, GenerateConfig(**{**CONFIG.__dict__, "seed": 6}), progress=False)
    assert _tree(other) != _tree(out_dir)


def test_rerun_skips_complete_units_and_redoes_broken_ones(dataset, generated, tmp_path):
    out_dir, _ = generated
    copy = tmp_path / "copy"
    for name, data in _tree(out_dir).items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    reference = _tree(copy)
    part = copy / "train/recommendation/p1_i0_t3/part-00001-of-00003.tfrecord"
    kept = copy / "train/recommendation/p1_i0_t3/part-00000-of-00003.tfrecord"
    os.utime(kept, (1, 1))
    part.write_bytes(b"corrupted")  # a damaged file: its unit must be redone
    (copy / "_units/valid-00000-of-00002.json").unlink()  # an interrupted unit
    generate(dataset, copy, CONFIG, progress=False)
    assert _tree(copy) == reference
    assert os.stat(kept).st_mtime == 1  # the complete unit was skipped, not rewritten


def test_a_changed_rerun_stopped_midway_leaves_no_stale_manifest(
    dataset, generated, tmp_path, monkeypatch
):
    out_dir, _ = generated
    copy = tmp_path / "copy"
    for name, data in _tree(out_dir).items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    real_write_unit = generate_module.write_unit
    written = []

    def write_one_unit_then_stop(*args, **kwargs):
        if written:
            raise KeyboardInterrupt
        written.append(args[1])
        return real_write_unit(*args, **kwargs)

    monkeypatch.setattr(generate_module, "write_unit", write_one_unit_then_stop)
    with pytest.raises(KeyboardInterrupt):
        generate(dataset, copy, GenerateConfig(**{**CONFIG.__dict__, "seed": 6}), progress=False)
    assert len(written) == 1
    # Seed-5 and seed-6 parts now sit side by side: no manifest may vouch for them.
    assert not (copy / "manifest.json").exists()
    assert not (copy / "stats.json").exists()


def test_generate_cli_writes_manifest_and_stats(tmp_path, capsys):
    out_dir = tmp_path / "cli"
    args = [
        "--dataset=synthetic",
        f"--data-dir={tmp_path / 'data'}",
        "--dataset-arg=num_users=25",
        "--dataset-arg=num_items=40",
        f"--out={out_dir}",
        "--workers=1",
        "--train-shards=2",
        "--eval-shards=1",
        "--templates=A7,A11,B7,C10,D2",
        "--per-example=recommendation=2,product_search=1,personalized_search=1",
        "--no-progress",
    ]
    assert generate_main(args) == 0
    manifest = json.loads((out_dir / "manifest.json").read_text())
    stats = json.loads((out_dir / "stats.json").read_text())
    assert set(manifest["splits"]["train"]) >= {
        "recommendation/p1_i0_t3",
        "recommendation/p1_i0_t0",
        "product_search/p0_i1_t1",
    }
    assert set(manifest["splits"]["valid"]) == {
        "recommendation/p1_i0_t3",
        "recommendation/p1p2_i0_t3",
        "product_search/p0_i1_t3",
        "product_search/p0_i2_t3",
        "personalized_search/p1p2_i0_t3",
        "personalized_search/p1_i1_t3",
        "personalized_search/p1_i2_t3",
        "personalized_search/p1p2_i1_t3",
        "personalized_search/p1p2_i2_t3",
    }
    assert stats["total"]["num_records"] > 0
    assert "wrote" in capsys.readouterr().err
