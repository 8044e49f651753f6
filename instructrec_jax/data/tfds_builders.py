"""TFDS builders that materialize processed datasets, so SeqIO tasks read them by name.

One ``GeneratorBasedBuilder`` per source, registered as ``instructrec_synthetic``,
``instructrec_ml100k``, ``instructrec_recbole`` and ``instructrec_amazon2018``. Each
builder config carries a ``PrepareConfig``; a config with other preprocessing settings
needs its own config name (TFDS stores data under ``<builder>/<config>/<version>``).

Splits ``train`` (every prefix -> next example of the training parts), ``validation`` and
``test`` (leave-one-out, with the fixed seeded negatives). Features of every example:

- ``user_id``: text
- ``history``, ``history_titles``: sequences of text, oldest first (<= max_history)
- ``target``, ``target_title``: text
- ``target_item_split``: the target's item-level split for product search
- ``negatives``, ``negative_titles``: sequences of text (empty for ``train``)
- ``review``: the user's review of the target ("" when none)

``info.metadata`` records the processed dataset's ``fingerprint`` and ``stats``. The
Amazon builder reads the raw files from ``manual_dir`` (``<Category>_5.json.gz`` or
``<Category>.json.gz`` and ``meta_<Category>.json.gz``); the RecBole builder reads
``<manual_dir>/<dataset_name>.inter`` and ``.item``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from instructrec_jax.data.config import PrepareConfig
from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.registry import prepare_dataset
from instructrec_jax.data.types import EvalExample, TrainExample
from instructrec_jax.tf_setup import import_tensorflow

import_tensorflow()  # configure TF (no accelerators, quiet) before TFDS imports it
import tensorflow_datasets as tfds  # noqa: E402

VERSION = tfds.core.Version("1.0.0")
SPLITS = {"train": "train", "validation": "valid", "test": "test"}


@dataclasses.dataclass(eq=False)
class InstructRecConfig(tfds.core.BuilderConfig):
    """A TFDS config: the preprocessing settings plus the raw source's arguments.

    Attributes:
      prepare: the ``PrepareConfig`` applied to the raw data.
      source: keyword arguments of the raw reader (e.g. ``category``, ``num_users``).
    """

    prepare: PrepareConfig = dataclasses.field(default_factory=PrepareConfig)
    source: dict[str, Any] = dataclasses.field(default_factory=dict)


def _features() -> tfds.features.FeaturesDict:
    text = tfds.features.Text
    return tfds.features.FeaturesDict(
        {
            "user_id": text(),
            "history": tfds.features.Sequence(text()),
            "history_titles": tfds.features.Sequence(text()),
            "target": text(),
            "target_title": text(),
            "target_item_split": text(),
            "negatives": tfds.features.Sequence(text()),
            "negative_titles": tfds.features.Sequence(text()),
            "review": text(),
        }
    )


def generate_split(dataset: ProcessedDataset, split: str) -> Iterator[tuple[str, dict]]:
    """(key, features) pairs of a TFDS split (``train``, ``validation`` or ``test``)."""
    titles = {item_id: item.title for item_id, item in dataset.catalog.items()}
    if split == "train":
        positions: dict[str, int] = {}
        for example in dataset.train_examples():
            position = positions.get(example.user_id, 0)
            positions[example.user_id] = position + 1
            yield f"{example.user_id}/{position}", example_features(dataset, titles, example)
        return
    for example in dataset.split_examples(SPLITS[split]):
        yield example.user_id, example_features(dataset, titles, example)


def example_features(
    dataset: ProcessedDataset, titles: dict[str, str], example: TrainExample | EvalExample
) -> dict[str, Any]:
    """One TFDS example (a dict of the builder's features); ``titles`` maps item id -> title."""
    negatives = list(getattr(example, "negatives", ()))
    return {
        "user_id": example.user_id,
        "history": list(example.history),
        "history_titles": [titles[i] for i in example.history],
        "target": example.target,
        "target_title": titles[example.target],
        "target_item_split": dataset.item_split[example.target],
        "negatives": negatives,
        "negative_titles": [titles[i] for i in negatives],
        "review": example.review or "",
    }


def _config_per_source(key: str, names: tuple[str, ...]) -> list[InstructRecConfig]:
    """One default-prepared config per name, named after it, reading ``source={key: name}``."""
    return [InstructRecConfig(name=name, source={key: name}) for name in names]


class _InstructRecBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Shared behaviour: features, metadata and splits of a processed dataset."""

    VERSION = VERSION
    RELEASE_NOTES = {"1.0.0": "Leave-one-out splits with seeded ties and negatives."}  # noqa: RUF012
    SOURCE_NAME = ""  # key of ``registry.READERS``

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=_features(),
            supervised_keys=None,
            metadata=tfds.core.MetadataDict(),
            description=__doc__.split("\n\n")[0],
        )

    def _reader_arguments(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        del dl_manager
        return dict(self.builder_config.source)

    def _processed(self, dl_manager: tfds.download.DownloadManager) -> ProcessedDataset:
        dataset = prepare_dataset(
            self.SOURCE_NAME, self.builder_config.prepare, **self._reader_arguments(dl_manager)
        )
        self.info.metadata["fingerprint"] = dataset.fingerprint
        self.info.metadata["stats"] = dataset.stats
        return dataset

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        dataset = self._processed(dl_manager)
        return {split: self._generate_examples(dataset, split) for split in SPLITS}

    def _generate_examples(
        self, dataset: ProcessedDataset, split: str
    ) -> Iterator[tuple[str, dict]]:
        yield from generate_split(dataset, split)


class InstructrecSynthetic(_InstructRecBuilder):
    """The synthetic dataset (``instructrec_jax.data.make_synthetic``)."""

    SOURCE_NAME = "synthetic"
    BUILDER_CONFIGS = [  # noqa: RUF012
        InstructRecConfig(name="default", description="200 users, 300 items, 8 categories"),
        InstructRecConfig(
            name="tiny",
            description="60 users, 80 items, 4 categories, 3-core (for tests)",
            prepare=PrepareConfig(k_core=3),
            source={"num_users": 60, "num_items": 80, "num_categories": 4},
        ),
    ]


class InstructrecMl100k(_InstructRecBuilder):
    """MovieLens-100K, fetched from PyPI's recbole==1.2.1 wheel."""

    SOURCE_NAME = "ml-100k"
    BUILDER_CONFIGS = [InstructRecConfig(name="default", description="5-core, 1 + 9")]  # noqa: RUF012


class InstructrecRecbole(_InstructRecBuilder):
    """Any RecBole atomic dataset from ``manual_dir`` (config ``source['dataset_name']``)."""

    SOURCE_NAME = "recbole"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put NAME.inter and NAME.item (RecBole atomic files) in manual_dir and use a config "
        "whose source has dataset_name=NAME."
    )
    BUILDER_CONFIGS = _config_per_source("dataset_name", ("ml-1m", "amazon-video-games", "steam"))

    def _reader_arguments(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        arguments = dict(self.builder_config.source)
        dataset_name = arguments.pop("dataset_name")
        arguments["path"] = str(dl_manager.manual_dir / dataset_name)
        return arguments


class InstructrecAmazon2018(_InstructRecBuilder):
    """One category of Amazon Review Data 2018 from ``manual_dir``."""

    SOURCE_NAME = "amazon2018"
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Download <Category>_5.json.gz (or <Category>.json.gz) and meta_<Category>.json.gz "
        "from https://nijianmo.github.io/amazon/ into manual_dir."
    )
    BUILDER_CONFIGS = _config_per_source("category", ("Video_Games", "CDs_and_Vinyl"))

    def _reader_arguments(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        arguments = dict(self.builder_config.source)
        arguments["manual_dir"] = str(dl_manager.manual_dir)
        return arguments
