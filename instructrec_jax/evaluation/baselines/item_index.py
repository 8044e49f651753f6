"""Raw item ids <-> contiguous integer ids for embedding tables.

The order is the sorted raw ids of the catalog, never the order in which items appear
along user sequences (that assignment leaks the held-out items). Index 0 is reserved for
padding; catalog items get 1..num_items.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

PADDING_INDEX = 0


class ItemIndex:
    """Bijection between a catalog's raw ids and 1..num_items (0 = padding).

    Attributes:
      item_ids: raw ids in index order; ``item_ids[i]`` has index ``i + 1``.
    """

    def __init__(self, item_ids: Iterable[str]) -> None:
        ordered = tuple(sorted(item_ids))
        if not ordered:
            raise ValueError("cannot index an empty catalog")
        if len(set(ordered)) != len(ordered):
            raise ValueError("item ids must be unique")
        self.item_ids = ordered
        self._index = {item: position + 1 for position, item in enumerate(ordered)}

    @property
    def num_items(self) -> int:
        """Number of catalog items (the embedding table has ``num_items + 1`` rows)."""
        return len(self.item_ids)

    def index(self, item_id: str) -> int:
        """The integer id of ``item_id`` (1..num_items).

        Raises:
          KeyError: the item is not in the catalog the index was built from.
        """
        try:
            return self._index[item_id]
        except KeyError:
            raise KeyError(
                f"item {item_id!r} is not in the catalog this model was trained on "
                f"({self.num_items} items)"
            ) from None

    def indices(self, item_ids: Sequence[str]) -> np.ndarray:
        """Int32 array [len(item_ids)] of integer ids."""
        return np.array([self.index(item) for item in item_ids], dtype=np.int32)

    def item_id(self, index: int) -> str:
        """The raw id of integer id ``index`` (1..num_items)."""
        if not 1 <= index <= self.num_items:
            raise IndexError(f"item index {index} is outside 1..{self.num_items}")
        return self.item_ids[index - 1]

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._index
