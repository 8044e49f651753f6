"""Manifest parsing: the contract's fields, and errors that name the file and field."""

from __future__ import annotations

import json

import pytest
from instructions_fixture import write_instructions_dir

from instructrec_jax.tasks import manifest as manifest_lib

LAYOUT = {("recommendation", "p1_i0_t3"): {"train": 4, "valid": 2}}


@pytest.fixture()
def directory(tmp_path):
    return write_instructions_dir(tmp_path, layout=LAYOUT, files_per_entry=1)


def _rewrite(directory, edit):
    path = f"{directory}/manifest.json"
    with open(path) as handle:
        raw = json.load(handle)
    edit(raw)
    with open(path, "w") as handle:
        json.dump(raw, handle)


def test_entries_have_absolute_files_and_counts(directory):
    parsed = manifest_lib.load_manifest(directory, "ml-100k")
    entry = parsed.entry("train", "recommendation/p1_i0_t3")
    assert entry.num_records == 4 and entry.template_ids == ("T0", "T1", "T2")
    assert entry.files == (
        f"{directory}/train/recommendation/p1_i0_t3/part-00000-of-00001.tfrecord",
    )
    assert parsed.task_keys() == ["recommendation/p1_i0_t3"]
    assert parsed.entry("test", "recommendation/p1_i0_t3") is None


def test_missing_directory_says_how_to_generate(tmp_path):
    with pytest.raises(
        manifest_lib.ManifestError, match=r"instructions\.generate --dataset=ml-100k"
    ):
        manifest_lib.load_manifest(tmp_path / "absent", "ml-100k")


def test_default_location_follows_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTRUCTREC_DATA_DIR", str(tmp_path))
    assert manifest_lib.default_instructions_dir("ml-100k") == f"{tmp_path}/instructions/ml-100k"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda raw: raw.update(dataset="games"), "dataset is 'games', expected 'ml-100k'"),
        (lambda raw: raw.update(format_version=9), "format_version 9"),
        (lambda raw: raw["splits"].update(dev={}), "unknown splits"),
        (
            lambda raw: raw["splits"]["train"]["recommendation/p1_i0_t3"].update(family="ads"),
            r"splits.train.recommendation/p1_i0_t3: family 'ads'",
        ),
        (
            lambda raw: raw["splits"]["train"]["recommendation/p1_i0_t3"].update(
                instruction_type="p9_i0_t3"
            ),
            "does not match",
        ),
        (
            lambda raw: raw["splits"]["valid"]["recommendation/p1_i0_t3"].pop("num_records"),
            r"splits.valid.recommendation/p1_i0_t3: missing field 'num_records'",
        ),
    ],
)
def test_contract_violations_name_the_field(directory, edit, message):
    _rewrite(directory, edit)
    with pytest.raises(manifest_lib.ManifestError, match=message):
        manifest_lib.load_manifest(directory, "ml-100k")


def test_invalid_json_names_the_line(directory):
    with open(f"{directory}/manifest.json", "w") as handle:
        handle.write('{\n  "format_version": 1,\n  oops\n}')
    with pytest.raises(
        manifest_lib.ManifestError, match=r"manifest\.json: not valid JSON .* line 3 "
    ):
        manifest_lib.load_manifest(directory)
