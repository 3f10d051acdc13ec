"""What a named variant is: a config subclass with defaults, generated model classes, and its native mapping.

`declare_variant` is the one entry point a variant file calls. It creates one transformers model class per family
head (e.g. `HfvBertForMaskedLM`), puts them in the variant module, and records a `VariantSpec` in `VARIANTS`;
`hf_variants.registry` then registers everything with the Auto classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .keymap import KeyMap

VARIANTS: dict[str, VariantSpec] = {}


@dataclass(frozen=True)
class ConfigField:
    """How one native config field maps onto ours (with optional value conversions both ways)."""

    native: str
    ours: str
    to_ours: Callable[[Any], Any] | None = None
    to_native: Callable[[Any], Any] | None = None
    # For a native field that combines several of ours (T5's feed_forward_proj = ffn_type + hidden_act): computes
    # the native value from our whole config, instead of `to_native`.
    native_from_config: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class NativeMapping:
    """Everything needed to convert to and from the native transformers model family.

    class_prefix: native class-name prefix ("Bert" -> BertForMaskedLM). config_fields: the native config fields we
    carry over (same-name fields may be given as plain strings). requires: our config values the native model
    needs (a value, or a function of our config giving the required value); anything else is refused by
    `to_native` with the list of elements the native model cannot express. heads: our head name -> native head
    name when they differ; a head absent from the native library is simply not convertible.
    """

    model_type: str
    class_prefix: str
    key_map: KeyMap
    config_fields: tuple[ConfigField | str, ...]
    requires: dict[str, Any] = field(default_factory=dict)
    # Our config values set by `from_native` whatever the native fields say: a value, or a function of the native
    # config dict (applied before the tied-weights check).
    ours_overrides: dict[str, Any] = field(default_factory=dict)
    native_overrides: dict[str, Any] = field(default_factory=dict)
    heads: dict[str, str] = field(default_factory=dict)
    # Native config values we can express only at this value (GPT-2's scale_attn_by_inverse_layer_idx=False), or a
    # function of the native config dict giving that value; `from_native` refuses a native model set otherwise
    # instead of silently computing something else.
    native_requires: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> list[ConfigField]:
        return [f if isinstance(f, ConfigField) else ConfigField(f, f) for f in self.config_fields]


@dataclass(frozen=True)
class VariantSpec:
    name: str
    family: str  # "encoder" | "decoder" | "encoder-decoder"
    config_class: type
    classes: dict[str, type]  # head name ("Model", "ForMaskedLM", ...) -> model class
    auto_classes: dict[str, str]  # head name -> transformers Auto class name
    tokenizer: str
    objective: str
    description: str
    native: NativeMapping | None = None

    @property
    def model_type(self) -> str:
        return self.config_class.model_type

    @property
    def native_model_type(self) -> str | None:
        return self.native.model_type if self.native else None

    def __getitem__(self, key: str) -> Any:  # dict-style access for users: VARIANTS["bert"]["family"]
        return getattr(self, key)


def _camel(name: str) -> str:
    return {"distilbert": "DistilBert", "byt5": "ByT5", "gpt2": "GPT2", "gpt": "GPT", "rnn": "RNN"}.get(name, name.capitalize())


def declare_variant(
    name: str,
    family: str,
    config_class: type,
    heads: dict[str, tuple[type, str]],
    module_globals: dict[str, Any],
    *,
    tokenizer: str,
    objective: str,
    description: str,
    native: NativeMapping | None = None,
) -> VariantSpec:
    """Create `Hfv<Name><Head>` classes for every family head and record the variant."""
    if config_class.model_type != f"hfv_{name}":
        raise ValueError(f"{config_class.__name__}.model_type must be 'hfv_{name}', got {config_class.model_type!r}")
    camel = _camel(name)
    module_name = module_globals["__name__"]
    classes = {}
    for head, (base, _auto) in heads.items():
        cls = type(f"Hfv{camel}{head}", (base,), {
            "config_class": config_class,
            "__module__": module_name,
            "__doc__": f"{description} — {head} ({base.__name__} with {config_class.__name__} defaults).",
        })
        module_globals[cls.__name__] = cls
        classes[head] = cls
    spec = VariantSpec(
        name=name, family=family, config_class=config_class, classes=classes,
        auto_classes={head: auto for head, (_base, auto) in heads.items()},
        tokenizer=tokenizer, objective=objective, description=description, native=native,
    )
    VARIANTS[name] = spec
    return spec
