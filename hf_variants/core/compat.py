"""Every contact with a transformers internal that has moved between 5.x releases, in one place.

The package is tested on the range declared in pyproject.toml (README: "Supported transformers releases"). When a
release moves something, this module is the one file to adapt; the rest of the package imports from here.

Moves handled today:
- 5.24 renamed the KV-cache keyword `past_key_values` -> `cache` (forward arguments, `generate`, model outputs,
  mask builders, `GradientCheckpointingLayer`). Our forwards take both names; outputs use the installed release's
  field name (`CACHE_FIELD`), read back with `output_cache`.
- The paged (continuous-batching) cache was updated by the attention kernel up to 5.23 and by the model from 5.24;
  our attention updates it itself on every release (core/paged.py), with the keywords in `PAGED_KWARGS`.
"""

from __future__ import annotations

import warnings
from dataclasses import fields

import transformers
from packaging.version import Version
from transformers.cache_utils import Cache, DynamicCache, DynamicLayer, EncoderDecoderCache  # noqa: F401 (re-exported)
from transformers.generation.continuous_batching.cache import PagedAttentionCache  # noqa: F401 (re-exported)
from transformers.generation.continuous_batching.input_outputs import PagedAttentionArgs
from transformers.masking_utils import (  # noqa: F401 (re-exported)
    create_bidirectional_mask,
    create_causal_mask,
    create_sliding_window_causal_mask,
)
from transformers.modeling_layers import GradientCheckpointingLayer  # noqa: F401 (re-exported)
from transformers.modeling_outputs import BaseModelOutputWithPast
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS, dynamic_rope_update  # noqa: F401 (re-exported)
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, slice_logits_to_keep  # noqa: F401 (re-exported)
from transformers.utils.generic import TransformersKwargs, can_return_tuple  # noqa: F401 (re-exported)
from transformers.utils.output_capturing import OutputRecorder, capture_outputs  # noqa: F401 (re-exported)

TRANSFORMERS_VERSION = Version(transformers.__version__)

# The name under which the installed release passes the KV cache to forward() and returns it in outputs.
# Detected from the output classes rather than from the version number, so a backport or a pre-release agrees.
CACHE_FIELD = "cache" if "cache" in {f.name for f in fields(BaseModelOutputWithPast)} else "past_key_values"
# Both names are accepted by every forward while the declared range holds releases that use the old one.
CACHE_KWARGS = ("cache", "past_key_values")

# Keywords transformers itself passes to (or documents for) any model's forward besides its own parameters:
# attention/generation keywords (`TransformersKwargs`) and the loss keywords of its loss functions.
LOSS_KWARGS = frozenset({"num_items_in_batch", "shift_labels", "ignore_index"})
# Continuous batching calls forward with its paged-attention arguments (read/write indices, logits indices...).
PAGED_KWARGS = frozenset(PagedAttentionArgs.__annotations__)
# `generate(..., tokenizer=...)` (stop strings; `transformers serve` always passes it) leaves the tokenizer in the
# model inputs it forwards to every step.
GENERATE_KWARGS = frozenset({"tokenizer", "assistant_tokenizer"})
KNOWN_FORWARD_KWARGS = (frozenset(TransformersKwargs.__optional_keys__) | LOSS_KWARGS | PAGED_KWARGS | GENERATE_KWARGS
                        | {"return_dict"})


def resolve_cache(cache: Cache | None, past_key_values: Cache | None) -> Cache | None:
    """The KV cache passed under either name (5.24+: `cache`; earlier: `past_key_values`). On releases that renamed
    it, the old name warns as native models do (FutureWarning "`past_key_values` is deprecated ...")."""
    if cache is not None and past_key_values is not None and cache is not past_key_values:
        raise ValueError("pass the KV cache once: `cache` (or its older name `past_key_values`), not both")
    if past_key_values is not None and cache is None and CACHE_FIELD == "cache":
        warnings.warn("`past_key_values` is deprecated since transformers 5.24 (as in native models). Use `cache` "
                      "instead.", FutureWarning, stacklevel=3)
    return cache if cache is not None else past_key_values


def cache_output(cache: Cache | None) -> dict:
    """Keyword for a ModelOutput constructor holding the cache under the installed release's field name."""
    return {CACHE_FIELD: cache}


def output_cache(outputs) -> Cache | None:
    """The cache held by a model output, whatever the release calls the field (no deprecation warning)."""
    return getattr(outputs, CACHE_FIELD, None)
