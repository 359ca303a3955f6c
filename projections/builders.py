"""Building read-model objects from rows already validated on the way in
(hot paths: `get`, `list`, the cache's copies), without re-running attrs
converters and validators.

A builder is generated from `attrs.fields`: it must be given every field,
so a field added to a class cannot be dropped silently (making the builder
raises `TypeError` naming what is missing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs

_T = TypeVar("_T")


def builder(cls: type[_T], names: Sequence[str]) -> Callable[..., _T]:
    """A function taking the values of `names`, in that order, and returning
    a `cls` holding them. `names` must be exactly the fields of `cls`.

    Slotted classes are filled through their slot descriptors (about twice
    as fast as `object.__setattr__`, which frozen classes need otherwise).

    Raises:
        TypeError: `names` are not exactly the fields of `cls`.
    """
    fields = [f.name for f in attrs.fields(cls)]  # type: ignore[arg-type]
    if sorted(names) != sorted(fields):
        missing = sorted(set(fields) - set(names))
        extra = sorted(set(names) - set(fields))
        raise TypeError(f"a builder of {cls.__name__} needs exactly its fields "
                        f"(missing {missing}, unknown {extra})")
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    args = [f"v{i}" for i in range(len(names))]
    lines = [f"def build({', '.join(args)}):", "    o = _new(_cls)"]
    for i, name in enumerate(names):
        slot = cls.__dict__.get(name)
        if slot is not None and hasattr(slot, "__set__"):
            namespace[f"s{i}"] = slot.__set__
            lines.append(f"    s{i}(o, v{i})")
        else:
            namespace["_set"] = object.__setattr__
            lines.append(f"    _set(o, {name!r}, v{i})")
    lines.append("    return o")
    exec(compile("\n".join(lines), f"<builder of {cls.__name__}>", "exec"), namespace)
    build: Callable[..., _T] = namespace["build"]
    return build
