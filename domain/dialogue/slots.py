"""What the caller said, turn after turn, merged into one understanding."""

from __future__ import annotations

from domain.models import ItemCount, Understanding


def merge_understanding(current: Understanding, u: Understanding, *, address: bool = True) -> None:
    """Add what one turn understood (`u`) to what the call understood so far (`current`)."""
    if address and u.address is not None and not u.address.is_empty():
        current.address = u.address
    if u.items:
        current.items = merge_items(current.items, u.items)
    if u.refused_items:
        current.refused_items = merge_items(current.refused_items, u.refused_items)
        current.refusal_advice = u.refusal_advice or current.refusal_advice
    if u.caller_name and not current.caller_name:
        current.caller_name = u.caller_name
    if u.callback_number:
        current.callback_number = u.callback_number
    current.notes.extend(n for n in u.notes if n not in current.notes)


def merge_items(old: list[ItemCount], new: list[ItemCount]) -> list[ItemCount]:
    """Items said in a later turn add to those said before; an item said again keeps its
    latest count (a correction, not a second one)."""
    merged = {i.item: i.count for i in old}
    for i in new:
        merged[i.item] = i.count
    return [ItemCount(item, count) for item, count in merged.items()]
