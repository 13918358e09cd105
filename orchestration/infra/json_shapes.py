"""Reading JSON a server or a file gave us, where any member may be missing or of another type."""

from __future__ import annotations

from typing import Any


def member_dict(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """`obj[key]` when it is an object, else an empty one: a reply's optional sub-object."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}
