"""Iterative k-core filtering of a user-item bipartite graph, to a fixed point."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


def k_core(
    pairs: Iterable[tuple[str, str]], user_threshold: int, item_threshold: int
) -> set[tuple[str, str]]:
    """Largest subset of ``pairs`` where every user has >= ``user_threshold`` pairs and
    every item >= ``item_threshold`` pairs.

    Removing a user can push an item below its threshold and vice versa; nodes are
    peeled with a work queue until nothing changes, which yields the unique maximal
    such subgraph (the same result as repeating "drop all small nodes" rounds).

    Args:
      pairs: distinct (user_id, item_id) edges.
      user_threshold: minimum degree of a kept user.
      item_threshold: minimum degree of a kept item.

    Returns:
      The surviving (user_id, item_id) pairs (possibly empty).
    """
    items_of_user: dict[str, set[str]] = {}
    users_of_item: dict[str, set[str]] = {}
    for user_id, item_id in pairs:
        items_of_user.setdefault(user_id, set()).add(item_id)
        users_of_item.setdefault(item_id, set()).add(user_id)

    queue: deque[tuple[bool, str]] = deque()
    queue.extend((True, u) for u, items in items_of_user.items() if len(items) < user_threshold)
    queue.extend((False, i) for i, users in users_of_item.items() if len(users) < item_threshold)
    while queue:
        is_user, node = queue.popleft()
        own, other, other_threshold = (
            (items_of_user, users_of_item, item_threshold)
            if is_user
            else (users_of_item, items_of_user, user_threshold)
        )
        neighbours = own.pop(node, None)
        if neighbours is None:  # already removed
            continue
        for neighbour in neighbours:
            linked = other.get(neighbour)
            if linked is None:
                continue
            linked.discard(node)
            if len(linked) == other_threshold - 1:  # just fell below: peel it once
                queue.append((not is_user, neighbour))
    return {(u, i) for u, items in items_of_user.items() for i in items}
