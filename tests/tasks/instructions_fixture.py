"""Write small generated-instructions directories (manifest contract) for the task tests.

Each record's ``inputs`` names its split, family, type and position
(``"... type=<type> family=<family> split=<split> n=<i> ..."``) so tests can tell where an
example came from after it went through SeqIO.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from instructrec_jax.instructions.records import InstructionRecord, to_tf_example_bytes
from instructrec_jax.tf_setup import import_tensorflow

TITLES = [f"Movie {name} ({1990 + k})" for k, name in enumerate("ABCDEFGHIJKLMNOPQRST")]

# (family, instruction_type) -> {split: num_records}
DEFAULT_LAYOUT: dict[tuple[str, str], dict[str, int]] = {
    ("recommendation", "p1_i0_t3"): {"train": 60, "valid": 6, "test": 6},
    ("recommendation", "p1_i0_t2"): {"train": 30},
    ("product_search", "p0_i2_t3"): {"train": 20, "valid": 4, "test": 4},
    ("personalized_search", "p1_i1_t3"): {"train": 10, "valid": 5, "test": 5},
}


def make_record(
    split: str, family: str, instruction_type: str, n: int, num_candidates: int
) -> InstructionRecord:
    """Record ``n`` of one (split, family, type); rank splits get candidates."""
    history = ", ".join(TITLES[(n + j) % len(TITLES)] for j in range(3))
    target = TITLES[(n * 7 + 3) % len(TITLES)]
    candidate_ids: tuple[str, ...] = ()
    candidate_titles: tuple[str, ...] = ()
    positive_index = -1
    if split != "train":
        positive_index = n % num_candidates
        others = [t for t in TITLES if t != target]
        titles = [others[(n + 2 * j) % len(others)] for j in range(num_candidates - 1)]
        titles.insert(positive_index, target)
        candidate_titles = tuple(titles)
        candidate_ids = tuple(f"item{TITLES.index(t)}" for t in titles)
    inputs = (
        f"The user watched {history}. type={instruction_type} family={family} "
        f"split={split} n={n}. Which movie next?"
    )
    return InstructionRecord(
        inputs=inputs,
        targets=target,
        instruction_type=instruction_type,
        template_id=f"T{n % 3}",
        family=family,
        split=split,
        user_id=f"u{n}",
        target_item_id=f"item{TITLES.index(target)}",
        candidate_item_ids=candidate_ids,
        candidate_titles=candidate_titles,
        positive_index=positive_index,
    )


def write_instructions_dir(
    directory: str | os.PathLike[str],
    dataset: str = "ml-100k",
    layout: Mapping[tuple[str, str], Mapping[str, int]] = DEFAULT_LAYOUT,
    files_per_entry: int = 2,
    num_candidates: int = 5,
) -> str:
    """Write TFRecords + manifest.json under ``directory``; return it as a string."""
    tf = import_tensorflow()
    directory = os.fspath(directory)
    splits: dict[str, dict[str, object]] = {}
    for (family, instruction_type), counts in layout.items():
        for split, num_records in counts.items():
            relative_dir = os.path.join(split, family, instruction_type)
            os.makedirs(os.path.join(directory, relative_dir), exist_ok=True)
            files = [
                os.path.join(relative_dir, f"part-{k:05d}-of-{files_per_entry:05d}.tfrecord")
                for k in range(files_per_entry)
            ]
            for k, relative in enumerate(files):
                with tf.io.TFRecordWriter(os.path.join(directory, relative)) as writer:
                    for n in range(k, num_records, files_per_entry):
                        record = make_record(split, family, instruction_type, n, num_candidates)
                        writer.write(to_tf_example_bytes(record))
            splits.setdefault(split, {})[f"{family}/{instruction_type}"] = {
                "family": family,
                "instruction_type": instruction_type,
                "files": files,
                "num_records": num_records,
                "template_ids": ["T0", "T1", "T2"],
            }
    manifest = {
        "format_version": 1,
        "dataset": dataset,
        "dataset_fingerprint": "abc123",
        "seed": 0,
        "teacher": "heuristic",
        "max_input_tokens": 512,
        "token_counter": "whitespace",
        "splits": splits,
    }
    with open(os.path.join(directory, "manifest.json"), "w") as handle:
        json.dump(manifest, handle, indent=2)
    return directory
