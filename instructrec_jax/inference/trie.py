"""Prefix trie over the catalog's tokenized titles, for constrained generation.

Every path from the root to a terminal node spells one title's token ids followed by EOS,
so a decoder that only ever picks a child of its current prefix can only produce real
catalog titles (T2 matching over the whole catalog, no out-of-catalog answers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from instructrec_jax.inference.buckets import EOS_ID


class _Node:
    __slots__ = ("children", "item_ids")

    def __init__(self) -> None:
        self.children: dict[int, _Node] = {}
        self.item_ids: list[str] = []


class TitleTrie:
    """Token-id trie of titles; each title is stored EOS-terminated.

    Args:
      titles: (item_id, title token ids without EOS) pairs. Items sharing a title share
        a terminal node (``item_ids`` of that title lists all of them).
    """

    def __init__(self, titles: Iterable[tuple[str, Sequence[int]]]) -> None:
        self._root = _Node()
        self.max_length = 0
        self.num_titles = 0
        for item_id, tokens in titles:
            self.add(item_id, tokens)

    def add(self, item_id: str, tokens: Sequence[int]) -> None:
        """Insert one title (token ids without EOS; EOS is appended here)."""
        path = [int(t) for t in tokens]
        if not path:
            raise ValueError(f"item {item_id!r}: empty title tokens")
        if EOS_ID in path or 0 in path:
            raise ValueError(f"item {item_id!r}: title tokens must not contain padding or EOS")
        node = self._root
        for token in [*path, EOS_ID]:
            node = node.children.setdefault(token, _Node())
        node.item_ids.append(item_id)
        self.max_length = max(self.max_length, len(path) + 1)
        self.num_titles += 1

    def _node(self, prefix: Sequence[int]) -> _Node | None:
        node = self._root
        for token in prefix:
            child = node.children.get(int(token))
            if child is None:
                return None
            node = child
        return node

    def allowed_next(self, prefix: Sequence[int]) -> list[int]:
        """Token ids that extend ``prefix`` towards some title ([] if it leads nowhere)."""
        node = self._node(prefix)
        return [] if node is None else sorted(node.children)

    def items_for(self, tokens: Sequence[int]) -> tuple[str, ...]:
        """Item ids whose title is exactly ``tokens`` (EOS-terminated), else ()."""
        node = self._node(tokens)
        return () if node is None else tuple(node.item_ids)
