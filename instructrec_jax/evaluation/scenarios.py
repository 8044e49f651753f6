"""The paper's evaluation scenarios and the examples each one is evaluated on.

- ``sequential``: sequential recommendation ⟨P1, I0, T3⟩ (recommendation templates).
- ``personalized_search``: ⟨P1, P2/I1/I2, T3⟩, the query being an explicit preference
  (``p1p2_i0_t3``), a vague intention (``p1_i1_t3``) or a specific one (``p1_i2_t3``).
- ``product_search``: ⟨P0, I1/I2, T3⟩ on the unseen-item split: only examples whose target
  item was held out of training (``item_split`` says ``valid`` / ``test``).
- ``sequential_pointwise`` (extra, not in the paper's tables): ⟨P1, I0, T0⟩, candidates
  ranked by the Yes-vs-No log-odds of one instruction each.
"""

from __future__ import annotations

import dataclasses

from instructrec_jax.data.processed import ProcessedDataset
from instructrec_jax.data.types import EvalExample, SplitName


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One evaluation scenario.

    Attributes:
      name: identifier used in file names and reports.
      family: template family (``records.FAMILIES``).
      instruction_types: the T3 instruction types evaluated, one result each.
      unseen_items_only: keep only examples whose target is in the item split of the
        evaluated split (product search on unseen items).
    """

    name: str
    family: str
    instruction_types: tuple[str, ...]
    unseen_items_only: bool = False


SCENARIOS: dict[str, Scenario] = {
    "sequential": Scenario("sequential", "recommendation", ("p1_i0_t3",)),
    "personalized_search": Scenario(
        "personalized_search", "personalized_search", ("p1p2_i0_t3", "p1_i1_t3", "p1_i2_t3")
    ),
    "product_search": Scenario(
        "product_search", "product_search", ("p0_i1_t3", "p0_i2_t3"), unseen_items_only=True
    ),
    "sequential_pointwise": Scenario("sequential_pointwise", "recommendation", ("p1_i0_t0",)),
}


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``; a clear error lists the known names."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {sorted(SCENARIOS)}") from None


def scenario_examples(
    dataset: ProcessedDataset,
    scenario: Scenario,
    split: SplitName,
    max_examples: int | None = None,
) -> list[EvalExample]:
    """The split's leave-one-out examples for ``scenario`` (first ``max_examples`` users)."""
    examples = dataset.split_examples(split)
    if scenario.unseen_items_only:
        examples = [e for e in examples if dataset.item_split.get(e.target) == split]
    if max_examples is not None:
        examples = examples[:max_examples]
    return list(examples)
