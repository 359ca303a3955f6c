"""Read-only JSON values: what `SessionItem.data` holds.

An item is shared by every reader that gets it (the `get` cache hands the
same items to each caller), so its data cannot be changed in place: the
mutating methods raise `TypeError`. They are still a `dict` and a `list`
(`isinstance`, `==`, `json.dumps`, `dict(...)` work); `copy.copy` and
`copy.deepcopy` give plain, mutable ones (`thaw` too).
"""

from __future__ import annotations

from typing import Any, NoReturn

_SCALARS = (str, int, float, bool, type(None))
_MESSAGE = ("SessionItem.data is read-only (the same item is shared by every reader): "
            "change a copy, e.g. copy.deepcopy(item.data)")


def _read_only(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(_MESSAGE)


class FrozenDict(dict):
    """A JSON object that cannot be changed in place."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return thaw(self)

    def __reduce__(self) -> tuple[type, tuple[dict[str, Any]]]:
        return FrozenDict, (dict(self),)


class FrozenList(list):
    """A JSON array that cannot be changed in place."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = pop = remove = reverse = sort = clear = _read_only

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return thaw(self)

    def __reduce__(self) -> tuple[type, tuple[list[Any]]]:
        return FrozenList, (list(self),)


def freeze(value: Any) -> Any:
    """A read-only copy of a JSON value (one already frozen is returned as is)."""
    cls = type(value)
    if cls is FrozenDict or cls is FrozenList or cls in _SCALARS:
        return value
    if isinstance(value, dict):
        if all(type(v) in _SCALARS for v in value.values()):
            return FrozenDict(value)
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList([freeze(v) for v in value])
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of a JSON value."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(v) for v in value]
    return value
