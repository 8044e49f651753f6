"""Names of the registered SeqIO tasks and mixtures (docs/architecture.md, "Tasks: names").

- task: ``instructrec_<dataset>_<family>_<instruction_type>``, e.g.
  ``instructrec_ml100k_seqrec_p1_i0_t3``.
- mixtures: ``instructrec_<dataset>_all``, ``instructrec_<dataset>_<family>``,
  ``instructrec_<dataset>_all_but_<instruction_type>``,
  ``instructrec_<dataset>_all_but_<family short name>`` (leave one family out),
  ``instructrec_<dataset>_ladder_<n>``.

``dataset`` is the short name: lower case, no dashes or other punctuation (``ml-100k`` ->
``ml100k``).
"""

from __future__ import annotations

import re

PREFIX = "instructrec"
FAMILY_SHORT_NAMES: dict[str, str] = {
    "recommendation": "seqrec",
    "product_search": "search",
    "personalized_search": "psearch",
}


def dataset_short_name(dataset: str) -> str:
    """``ml-100k`` -> ``ml100k``; ``Video_Games`` -> ``videogames``."""
    short = re.sub(r"[^a-z0-9]", "", dataset.lower())
    if not short:
        raise ValueError(f"dataset name {dataset!r} has no letters or digits")
    return short


def family_short_name(family: str) -> str:
    """``recommendation`` -> ``seqrec`` etc.; raises for an unknown family."""
    try:
        return FAMILY_SHORT_NAMES[family]
    except KeyError:
        raise ValueError(
            f"unknown family {family!r}; expected one of {sorted(FAMILY_SHORT_NAMES)}"
        ) from None


def dataset_prefix(dataset: str) -> str:
    """``instructrec_<dataset short name>_``: every task and mixture of the dataset starts so."""
    return f"{PREFIX}_{dataset_short_name(dataset)}_"


def task_name(dataset: str, family: str, instruction_type: str) -> str:
    """Training/eval task (inputs -> targets) of one instruction type."""
    return f"{dataset_prefix(dataset)}{family_short_name(family)}_{instruction_type}"


def all_mixture_name(dataset: str) -> str:
    """Every training type of the dataset."""
    return f"{dataset_prefix(dataset)}all"


def family_mixture_name(dataset: str, family: str) -> str:
    """Every training type of one family."""
    return f"{dataset_prefix(dataset)}{family_short_name(family)}"


def leave_one_out_mixture_name(dataset: str, held_out_type: str) -> str:
    """Every training type except ``held_out_type``."""
    return f"{dataset_prefix(dataset)}all_but_{held_out_type}"


def leave_one_family_out_mixture_name(dataset: str, family: str) -> str:
    """Every training type outside ``family`` (``..._all_but_seqrec`` etc.)."""
    return f"{dataset_prefix(dataset)}all_but_{family_short_name(family)}"


def ladder_mixture_name(dataset: str, num_types: int) -> str:
    """The first ``num_types`` tasks of the diversity ladder."""
    return f"{dataset_prefix(dataset)}ladder_{num_types}"


def custom_mixture_name(dataset: str, name: str) -> str:
    """``instructrec_<dataset>_<name>``: a mixture a gin file defines by its member tasks."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_]*", name):
        raise ValueError(f"custom mixture name {name!r}: use lowercase letters, digits and '_'")
    return f"{dataset_prefix(dataset)}{name}"
