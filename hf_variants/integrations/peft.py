"""PEFT defaults: `LoraConfig(task_type=...)` without `target_modules` works for every hf_variants model type.

peft looks the default target modules up by `config.model_type` in dicts of `peft.utils.constants`
(`TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING` and one per method) and offers no registration call. Our
module names follow LLaMA's (`q_proj k_proj v_proj o_proj`, `gate_proj up_proj down_proj`) in every family, so each
of our model types gets LLaMA's entry, with `qkv_proj` added wherever it names q/k/v projections (a fused layout has
that one module; LN tuning: our norm names). peft is optional and slow to import (seconds), so
`import hf_variants` does not import it: if peft is already imported the dicts are filled at once, otherwise right
after `peft.utils.constants` is first executed (an import hook, removed once it has fired).
"""

from __future__ import annotations

import copy
import importlib.abc
import sys
from types import ModuleType

PEFT_CONSTANTS = "peft.utils.constants"
# Our attention/MLP module names are LLaMA's, so LLaMA's defaults are ours.
REFERENCE_MODEL_TYPE = "llama"
NORM_MODULES = ["self_attn_norm", "cross_attn_norm", "mlp_norm", "final_norm"]


def model_types() -> list[str]:
    from ..variants import VARIANTS

    return [spec.model_type for spec in VARIANTS.values()]


def _with_fused_qkv(default):
    """LLaMA's list, plus `qkv_proj` where it names a query/key/value projection: a fused model
    (`qkv_layout="fused"`, GPT-2's default) has that module instead (peft matches any listed name present)."""
    if isinstance(default, list) and {"q_proj", "k_proj", "v_proj"} & set(default):
        return [*default, "qkv_proj"]
    return default


def register(constants: ModuleType) -> None:
    """Add every hf_variants model type to each of peft's per-model-type default-module dicts."""
    for name, mapping in vars(constants).items():
        if not (name.startswith("TRANSFORMERS_MODELS_TO_") and name.endswith("_MODULES_MAPPING")):
            continue
        if not isinstance(mapping, dict):
            continue
        if "LNTUNING" in name:
            default = NORM_MODULES
        elif REFERENCE_MODEL_TYPE in mapping:
            default = _with_fused_qkv(mapping[REFERENCE_MODEL_TYPE])
        else:
            continue
        for model_type in model_types():
            mapping.setdefault(model_type, copy.copy(default))


class _RegisteringLoader(importlib.abc.Loader):
    """Runs peft's constants module, then `register` on it; everything else is the real loader's."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        register(module)

    def __getattr__(self, name):
        return getattr(self.loader, name)


class _PeftImportHook(importlib.abc.MetaPathFinder):
    """Finds `peft.utils.constants` through the other finders and wraps its loader; removes itself when used."""

    def find_spec(self, fullname, path, target=None):
        if fullname != PEFT_CONSTANTS:
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            spec = getattr(finder, "find_spec", lambda *a: None)(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _RegisteringLoader(spec.loader)
                return spec
        return None


def register_peft_defaults() -> None:
    """Register now if peft is loaded, else when it loads (idempotent)."""
    if PEFT_CONSTANTS in sys.modules:
        register(sys.modules[PEFT_CONSTANTS])
    elif not any(isinstance(finder, _PeftImportHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PeftImportHook())
