"""Conversion between hf_variants models and native transformers models, both ways, in memory or on disk.

Everything variant-specific is declared in the variant's `NativeMapping` (config fields, required element values,
parameter key map); this module only applies it.
"""

from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path

import torch
import transformers
from transformers import PreTrainedModel

from ..checkpoints import load_checkpoint
from ..core.attention_scores import NATIVE_DEFAULTS
from ..core.sparse import SPARSE_DEFAULTS
from ..variants import VARIANTS, VariantSpec
from .qkv import fuse_qkv, split_qkv

# Tokenizer files travel with a converted checkpoint unchanged (the token ids are the same on both sides).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json",
                   "merges.txt", "spiece.model", "tokenizer.model", "sentencepiece.bpe.model")

__all__ = ["from_native", "to_native", "convert_checkpoint", "native_variant"]


def native_variant(native_model_type: str) -> VariantSpec:
    """The variant that converts a native `model_type` (the one named like it wins, e.g. t5 -> hfv_t5)."""
    candidates = [s for s in VARIANTS.values() if s.native_model_type == native_model_type]
    if not candidates:
        known = sorted({s.native_model_type for s in VARIANTS.values() if s.native_model_type})
        raise ValueError(f"no hf_variants variant converts native model_type={native_model_type!r}; known: {known}")
    return next((s for s in candidates if s.name == native_model_type), candidates[0])


def _spec_of(model: PreTrainedModel) -> VariantSpec:
    for spec in VARIANTS.values():  # exact class first: HfvByT5Config subclasses HfvT5Config
        if type(model.config) is spec.config_class:
            return spec
    for spec in VARIANTS.values():
        if isinstance(model.config, spec.config_class):
            return spec
    raise TypeError(f"{type(model).__name__} is not an hf_variants model")


def _head_of(class_name: str, prefix: str) -> str:
    if not class_name.startswith(prefix):
        raise ValueError(f"{class_name} is not a {prefix}* class")
    return class_name[len(prefix):]


def _load_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Strict load, except for keys tied to a loaded parameter (e.g. the MLM decoder and the word embeddings)."""
    result = model.load_state_dict(state, strict=False)
    params = dict(model.named_parameters(remove_duplicate=False))
    loaded_ptrs = {params[k].data_ptr() for k in state if k in params}
    missing = [k for k in result.missing_keys if not (k in params and params[k].data_ptr() in loaded_ptrs)]
    if missing or result.unexpected_keys:
        raise ValueError(f"conversion mismatch: missing {missing}, unexpected {list(result.unexpected_keys)}")


def _embeddings_tied(model: PreTrainedModel) -> bool:
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return output is None or output.weight is model.get_input_embeddings().weight


def _untie_output_embeddings(model: PreTrainedModel) -> None:
    output = model.get_output_embeddings()
    if output is None:  # a base model (no LM head) has nothing to untie
        return
    output.weight = torch.nn.Parameter(output.weight.detach().clone())
    for name in [k for k, v in getattr(model, "all_tied_weights_keys", {}).items()
                 if model.get_parameter(k) is output.weight]:
        model.all_tied_weights_keys.pop(name)


def _load_if_path(model_or_path, loader):
    if isinstance(model_or_path, (str, Path)):
        return loader(str(model_or_path))
    return model_or_path


def _native_from_path(path: str) -> PreTrainedModel:
    config = json.loads((Path(path) / "config.json").read_text())
    architecture = (config.get("architectures") or [None])[0]
    cls = getattr(transformers, architecture, None) if architecture else transformers.AutoModel
    return load_checkpoint(cls, path)


def _ours_from_path(path: str) -> PreTrainedModel:
    import hf_variants  # noqa: F401  (registers the Auto classes)

    config = json.loads((Path(path) / "config.json").read_text())
    architecture = (config.get("architectures") or [None])[0]
    for spec in VARIANTS.values():
        for cls in spec.classes.values():
            if cls.__name__ == architecture:
                return load_checkpoint(cls, path)
    return load_checkpoint(transformers.AutoModel, path)


def from_native(model: PreTrainedModel | str | Path, variant: str | None = None) -> PreTrainedModel:
    """The hf_variants equivalent of a native transformers model (or checkpoint directory), weights copied.

    `variant` picks among variants sharing a native model type (a native `t5` checkpoint can become `byt5`);
    by default the variant named like the native type is used."""
    model = _load_if_path(model, _native_from_path)
    spec = native_variant(model.config.model_type)
    if variant is not None:
        if variant not in VARIANTS or VARIANTS[variant].native_model_type != model.config.model_type:
            options = sorted(n for n, s in VARIANTS.items() if s.native_model_type == model.config.model_type)
            raise ValueError(f"variant={variant!r} cannot be converted from native {model.config.model_type!r}; "
                             f"allowed: {options}")
        spec = VARIANTS[variant]
    mapping = spec.native
    native_head = _head_of(type(model).__name__, mapping.class_prefix)
    head = {n: o for o, n in mapping.heads.items()}.get(native_head, native_head)  # GPT2LMHeadModel -> ForCausalLM
    if head not in spec.classes:
        raise ValueError(f"{type(model).__name__}: hf_variants has no {head} head for {spec.name}")
    native_config = model.config.to_dict()
    supported = {k: v(native_config) if callable(v) else v for k, v in mapping.native_requires.items()}
    unsupported = [f"{k}={native_config[k]!r} (hf_variants supports {v!r})"
                   for k, v in supported.items() if k in native_config and native_config[k] != v]
    if unsupported:
        raise ValueError(f"cannot convert native {mapping.model_type}: " + "; ".join(unsupported))
    values = {}
    for f in mapping.fields():
        if f.native in native_config:
            value = native_config[f.native]
            values[f.ours] = f.to_ours(value) if f.to_ours else value
    for key in ("id2label", "label2id", "problem_type", "tie_word_embeddings"):
        if key in native_config:
            values[key] = native_config[key]
    values.update({k: v(native_config) if callable(v) else v for k, v in mapping.ours_overrides.items()})
    if values.get("tie_word_embeddings") and not _embeddings_tied(model):
        values["tie_word_embeddings"] = False  # the config says tied, the weights are not (native T5 v1.1 checkpoints)
    config = spec.config_class(**values)
    config._attn_implementation = model.config._attn_implementation
    state = mapping.key_map.convert(model.state_dict(), to_ours=True, has_base_prefix=head != "Model", head=head)
    if config.qkv_layout == "fused":
        state = fuse_qkv(state, config)
    kwargs = {}
    if head == "Model" and "add_pooling_layer" in inspect.signature(spec.classes[head].__init__).parameters:
        kwargs["add_pooling_layer"] = any(k.startswith("pooler.") for k in state)
    ours = spec.classes[head](config, **kwargs)
    _load_state(ours, state)
    return ours.to(model.dtype).train(model.training)


def native_incompatibilities(config, spec: VariantSpec) -> list[str]:
    """The elements of `config` the native model cannot express, as 'field=value (native needs X)' strings. No
    native counterpart has sparse attention: every mapping requires the dense defaults of core/sparse.py."""
    problems = []
    for field_name, required in {**NATIVE_DEFAULTS, **SPARSE_DEFAULTS, **spec.native.requires}.items():
        expected = required(config) if callable(required) else required
        actual = getattr(config, field_name)
        if actual != expected:
            problems.append(f"{field_name}={actual!r} (native {spec.native.model_type} needs {expected!r})")
    attention_type = getattr(config, "attention_type", "softmax")
    if attention_type != "softmax" and "attention_type" not in spec.native.requires:  # no native kernelised attention
        problems.append(f"attention_type={attention_type!r} (native {spec.native.model_type} needs 'softmax')")
    return problems


def _native_attn_implementation(native_cls: type, implementation: str | None) -> str | None:
    """Our backend when the native class supports it, else sdpa (native GPT-2 has no flex attention), else eager
    (native Switch Transformers has eager attention only)."""
    flags = {"flex_attention": "_supports_flex_attn", "flash_attention_2": "_supports_flash_attn"}
    if implementation in flags and not getattr(native_cls, flags[implementation], False):
        implementation = "sdpa"
    if implementation == "sdpa" and not getattr(native_cls, "_supports_sdpa", False):
        return "eager"
    return implementation


def to_native(model: PreTrainedModel | str | Path) -> PreTrainedModel:
    """The native transformers model with the same weights; ValueError listing what the native model lacks."""
    model = _load_if_path(model, _ours_from_path)
    spec = _spec_of(model)
    if spec.native is None:
        raise ValueError(f"variant {spec.name!r} has no native transformers counterpart")
    problems = native_incompatibilities(model.config, spec)
    if problems:
        raise ValueError(f"cannot convert to native {spec.native.model_type}: " + "; ".join(problems))
    mapping = spec.native
    head = next(h for h, cls in spec.classes.items() if isinstance(model, cls) and type(model) is cls)
    native_name = mapping.class_prefix + mapping.heads.get(head, head)
    native_cls = getattr(transformers, native_name, None)
    if native_cls is None:
        raise ValueError(f"transformers has no {native_name} for {spec.name}")
    ours_config = model.config.to_dict()
    values = {}
    for f in mapping.fields():
        if f.native_from_config is not None:
            values[f.native] = f.native_from_config(model.config)
        elif f.ours in ours_config:
            value = ours_config[f.ours]
            values[f.native] = f.to_native(value) if f.to_native else value
    for key in ("id2label", "label2id", "problem_type", "tie_word_embeddings"):
        if key in ours_config:
            values[key] = ours_config[key]
    values.update(mapping.native_overrides)
    native_config = transformers.CONFIG_MAPPING[mapping.model_type](**values)
    native_config._attn_implementation = _native_attn_implementation(native_cls, model.config._attn_implementation)
    state = mapping.key_map.convert(split_qkv(model.state_dict(), model.config), to_ours=False,
                                    has_base_prefix=head != "Model", head=head)
    kwargs = {}
    if head == "Model" and "add_pooling_layer" in native_cls.__init__.__code__.co_varnames:
        kwargs["add_pooling_layer"] = any(k.startswith("pooler.") for k in state)
    native = native_cls(native_config, **kwargs)
    if not model.config.tie_word_embeddings and _embeddings_tied(native):
        _untie_output_embeddings(native)  # native T5 ties its head whatever the config says
    _load_state(native, state)
    return native.to(model.dtype).train(model.training)


def convert_checkpoint(source: str | Path, destination: str | Path, overwrite: bool = False,
                       variant: str | None = None) -> PreTrainedModel:
    """`hfv convert`: a native checkpoint becomes an hf_variants one (as `variant` if given) and vice versa
    (decided by its model_type). The tokenizer files, if any, are copied along."""
    destination = Path(destination)
    if destination.exists() and any(destination.iterdir()) and not overwrite:
        raise FileExistsError(f"{destination} exists and is not empty; pass overwrite=True (--overwrite) to replace it")
    model_type = json.loads((Path(source) / "config.json").read_text()).get("model_type", "")
    converted = to_native(source) if model_type.startswith("hfv_") else from_native(source, variant=variant)
    converted.save_pretrained(destination)
    if model_type.startswith("hfv_") and _write_native_tokenizer(source, destination, model_type):
        return converted
    for name in TOKENIZER_FILES:
        if (Path(source) / name).exists():
            shutil.copy2(Path(source) / name, destination / name)
    return converted


def _write_native_tokenizer(source: str | Path, destination: Path, model_type: str) -> bool:
    """Our tokenizer becomes the native class with the same behaviour (convert/tokenizer.py); False when the
    folder has no hf_variants tokenizer (a transformers one travels as its files)."""
    from ..tokenization import HfvTokenizerBase
    from .tokenizer import save_native_tokenizer

    if not (Path(source) / "tokenizer_config.json").exists():
        return False
    ours = transformers.AutoTokenizer.from_pretrained(source)
    if not isinstance(ours, HfvTokenizerBase):
        return False
    save_native_tokenizer(ours, next(s.name for s in VARIANTS.values() if s.model_type == model_type), destination)
    return True
