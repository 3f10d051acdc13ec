"""Model outputs that are cheap to build: a forward per generated token builds two of them.

transformers' `ModelOutput.__setattr__` collects the class's dataclass fields on every assignment, so building an
output costs (number of fields)^2 field lookups: our decoder outputs (9 fields with the MoE and Transformer-XL
ones) cost more to build than the native ones (5). `CheapFields` keeps the field names per class and does for them
what `ModelOutput.__setattr__` does: a field set to a value that is not None is also an item (what `to_tuple`,
`keys()` and indexing see), and every field is an attribute. The cache field is left to transformers (it renames
the pre-5.24 names), as is everything under `torch.compile`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import fields

import torch

from .compat import CACHE_KWARGS

_CACHE_NAMES = frozenset(CACHE_KWARGS) | {"cache_params"}


class CheapFields:
    """Mixin placed before a `ModelOutput` dataclass: the same assignments without the per-assignment field scan."""

    _plain_fields: frozenset[str] | None = None

    def __setattr__(self, name, value):
        if torch.compiler.is_compiling():
            return super().__setattr__(name, value)
        cls = type(self)
        names = cls.__dict__.get("_plain_fields")
        if names is None:
            names = frozenset(field.name for field in fields(cls)) - _CACHE_NAMES
            cls._plain_fields = names
        if name in names:
            if value is not None:
                OrderedDict.__setitem__(self, name, value)
            return object.__setattr__(self, name, value)
        return super().__setattr__(name, value)
