"""What a named variant is, declared in one call: `declare_variant`.

A variant file (one module under `hf_variants/variants/`, found by `variants/__init__.py` without being listed)
calls `declare_variant` once with everything the variant is: its config class (defaults, initialisation scheme,
dropout placement), the family heads, its tokenizer class, its pretraining objective (a key the training tool
resolves, see `hf_variants.objectives.recipes`), its native mapping and the tiny configuration the common test
suite builds. `declare_variant` creates one transformers model class per head (e.g. `HfvBertForMaskedLM`) and,
when needed, the variant's own tokenizer class, puts them in the variant module and records a `VariantSpec` in
`VARIANTS`; the registry (Auto classes), the CLI, the pretraining workflow and the tests read `VARIANTS` only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .keymap import KeyMap

_CLASS_NAME = re.compile(r"Hfv([A-Z][A-Za-z0-9]*)Config")
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
    """One named variant, as `declare_variant` recorded it.

    tokenizer: the variant's tokenizer class (registered with AutoTokenizer for its config). objective: the key of
    its pretraining recipe (`hf_variants.objectives.recipes.PRETRAINING_RECIPES`). test_config: config overrides
    over the common suite's tiny sizes (`tests/variant_configs.py`); None keeps the variant out of that suite
    (it then needs its own tests, as the RNN baseline has).
    """

    name: str
    family: str  # "encoder" | "decoder" | "encoder-decoder"
    config_class: type
    classes: dict[str, type]  # head name ("Model", "ForMaskedLM", ...) -> model class
    auto_classes: dict[str, str]  # head name -> transformers Auto class name
    tokenizer: type
    objective: str
    description: str
    native: NativeMapping | None = None
    test_config: dict[str, Any] | None = None

    @property
    def model_type(self) -> str:
        return self.config_class.model_type

    @property
    def native_model_type(self) -> str | None:
        return self.native.model_type if self.native else None

    def __getitem__(self, key: str) -> Any:  # dict-style access for users: VARIANTS["bert"]["family"]
        return getattr(self, key)


def _class_stem(name: str, config_class: type) -> str:
    """"DistilBert" from `HfvDistilBertConfig`: the stem of every class name the variant gets."""
    match = _CLASS_NAME.fullmatch(config_class.__name__)
    if match is None:
        raise ValueError(f"variant {name!r}: config class {config_class.__name__!r} must be named Hfv<Name>Config "
                         "(e.g. HfvBertRopeConfig); its <Name> names the model and tokenizer classes")
    return match.group(1)


def _tokenizer_class(stem: str, tokenizer: type, description: str, module_globals: dict[str, Any]) -> type:
    """The variant's own tokenizer class: `tokenizer` itself when it is named for the variant, otherwise a subclass
    `Hfv<Name>Tokenizer` of it, so that every variant's saved tokenizer names its variant."""
    if not isinstance(tokenizer, type):
        raise TypeError(f"tokenizer must be a tokenizer class (e.g. HfvBertTokenizer), got {tokenizer!r}")
    name = f"Hfv{stem}Tokenizer"
    if tokenizer.__name__ == name:
        return tokenizer
    cls = type(name, (tokenizer,), {
        "__module__": module_globals["__name__"],
        "__doc__": f"{description} — the {tokenizer.__name__} recipe under the variant's own name.",
    })
    module_globals[name] = cls
    return cls


def declare_variant(
    name: str,
    family: str,
    config_class: type,
    heads: dict[str, tuple[type, str]],
    module_globals: dict[str, Any],
    *,
    tokenizer: type,
    objective: str,
    description: str,
    test_config: dict[str, Any] | None,
    native: NativeMapping | None = None,
) -> VariantSpec:
    """Create `Hfv<Name><Head>` classes for every family head (and `Hfv<Name>Tokenizer` unless given) and record the
    variant in `VARIANTS`. `test_config` is required (None only for a variant with its own test suite)."""
    if config_class.model_type != f"hfv_{name}":
        raise ValueError(f"{config_class.__name__}.model_type must be 'hfv_{name}', got {config_class.model_type!r}")
    if name in VARIANTS and VARIANTS[name].config_class is not config_class:
        raise ValueError(f"variant {name!r} is declared twice ({VARIANTS[name].config_class.__module__} and "
                         f"{module_globals['__name__']})")
    if not isinstance(objective, str) or not objective:
        raise TypeError(f"objective must be the key of a pretraining recipe (e.g. 'mlm'), got {objective!r}")
    if test_config is not None and not isinstance(test_config, dict):
        raise TypeError(f"test_config must be a dict of config overrides or None, got {test_config!r}")
    stem = _class_stem(name, config_class)
    module_name = module_globals["__name__"]
    classes = {}
    for head, (base, _auto) in heads.items():
        cls = type(f"Hfv{stem}{head}", (base,), {
            "config_class": config_class,
            "__module__": module_name,
            "__doc__": f"{description} — {head} ({base.__name__} with {config_class.__name__} defaults).",
        })
        module_globals[cls.__name__] = cls
        classes[head] = cls
    spec = VariantSpec(
        name=name, family=family, config_class=config_class, classes=classes,
        auto_classes={head: auto for head, (_base, auto) in heads.items()},
        tokenizer=_tokenizer_class(stem, tokenizer, description, module_globals), objective=objective,
        description=description, native=native, test_config=test_config,
    )
    VARIANTS[name] = spec
    return spec
