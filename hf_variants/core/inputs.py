"""Input checks at the model boundary: ranks, shapes, batch sizes and dtypes of what a forward receives.

Every family model's forward (and every head's) runs `check_inputs` on its named tensor arguments before anything
else, so a 1-D `input_ids`, an empty batch, a mask of the wrong length or rank, or labels for another batch fail
with a ValueError naming the argument and the expected shape — not as a shape error deep inside attention, and
never silently (a mask with more rows than `input_ids` used to be truncated). The checks read shapes and dtypes
only: no device synchronisation, so they stay on for GPU training and generation.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

import torch

from .compat import KNOWN_FORWARD_KWARGS

# Whether a checked forward is running on this thread: models called inside it skip the boundary checks.
_CALLS = threading.local()
# Arguments whose shape must equal the token shape of the sequence they belong to.
_SAME_AS_TOKENS = ("token_type_ids",)
# Token-level label heads: labels are [batch, seq] like the inputs.
_TOKEN_LABEL_HEADS = ("ForMaskedLM", "ForCausalLM", "ForTokenClassification", "ForPreTraining")
# Label-like arguments (checked against the batch size) and every tensor argument `check_inputs` reads.
_LABEL_ARGUMENTS = frozenset(("labels", "start_positions", "end_positions", "next_sentence_label",
                              "sentence_order_label"))
_TENSOR_ARGUMENTS = _LABEL_ARGUMENTS | frozenset((
    "input_ids", "inputs_embeds", "attention_mask", "token_type_ids", "position_ids", "decoder_input_ids",
    "decoder_inputs_embeds", "decoder_attention_mask"))


def _shape(tensor: torch.Tensor) -> tuple[int, ...]:
    return tuple(tensor.shape)


def _tensor(name: str, value: Any) -> torch.Tensor | None:
    if value is None or isinstance(value, torch.Tensor):
        return value
    raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")


_TOKEN_SHAPES = {2: "[batch, seq]", 3: "[batch, num_choices, seq]"}


def _check_tokens(prefix: str, ids: torch.Tensor | None, embeds: torch.Tensor | None, rank: int,
                  embedding_size: int) -> tuple[int, ...] | None:
    """The [batch, (choices,) seq] token shape of `{prefix}input_ids` / `{prefix}inputs_embeds`, checked."""
    expected = _TOKEN_SHAPES[rank]
    tokens = None
    if ids is not None:
        if ids.ndim != rank:
            raise ValueError(f"{prefix}input_ids must be {expected} token ids, got shape {_shape(ids)}")
        dtype = ids.dtype
        if dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
            raise TypeError(f"{prefix}input_ids must hold integer token ids, got dtype {dtype}")
        tokens = tuple(ids.shape)
    if embeds is not None:
        if embeds.ndim != rank + 1 or embeds.shape[-1] != embedding_size:
            raise ValueError(f"{prefix}inputs_embeds must be {expected[:-1]}, {embedding_size}] (embedding_size="
                             f"{embedding_size}), got shape {_shape(embeds)}")
        if not embeds.is_floating_point():
            raise TypeError(f"{prefix}inputs_embeds must be floating point, got dtype {embeds.dtype}")
        tokens = _shape(embeds)[:-1]
    if tokens is not None and 0 in tokens:
        name = f"{prefix}input_ids" if ids is not None else f"{prefix}inputs_embeds"
        raise ValueError(f"{name} is empty (shape {_shape(ids if ids is not None else embeds)}): "
                         "every forward needs at least one sequence of at least one token")
    return tokens


def _check_mask(name: str, mask: torch.Tensor | None, tokens: tuple[int, ...], cached: bool) -> None:
    if mask is None or mask.ndim == 4:  # a ready 4-D mask [batch, 1, query, key] is the caller's business
        if mask is not None and mask.shape[0] not in (1, tokens[0]):
            raise ValueError(f"{name} has batch size {mask.shape[0]}, the inputs {tokens[0]}")
        return
    shape = tuple(mask.shape)
    length_ok = shape[-1] >= tokens[-1] if cached else shape[-1] == tokens[-1]
    if len(shape) != len(tokens) or shape[:-1] != tokens[:-1] or not length_ok:
        expected = f"[batch={tokens[0]}, {'past + ' if cached else ''}seq={tokens[-1]}]"
        raise ValueError(f"{name} must be {expected} like the inputs, got shape {shape}")


def check_inputs(model: Any, arguments: dict[str, Any]) -> None:
    """Check the named tensor arguments of `model.forward` against each other and the config (shapes only)."""
    config = model.config
    rank = 3 if type(model).__name__.endswith("ForMultipleChoice") else 2
    # only the arguments given (a forward per generated token passes a few of the thirteen)
    get = {name: value for name, value in arguments.items() if value is not None and name in _TENSOR_ARGUMENTS}
    for name, value in get.items():
        if not isinstance(value, torch.Tensor):
            _tensor(name, value)  # (raises, naming the argument)
    embeds = "inputs_embeds" in get or "decoder_inputs_embeds" in get
    embedding_size = (getattr(config, "embedding_size", None) or config.hidden_size) if embeds else None
    cached = arguments.get("cache") is not None or arguments.get("past_key_values") is not None
    tokens = _check_tokens("", get.get("input_ids"), get.get("inputs_embeds"), rank, embedding_size)
    if tokens is None:  # encoder-decoder generation passes encoder_outputs instead of the source
        encoder_outputs = arguments.get("encoder_outputs")
        if encoder_outputs is not None:
            states = encoder_outputs[0]
            tokens = _shape(states)[:-1] if isinstance(states, torch.Tensor) else None
        if tokens is not None:
            _check_mask("attention_mask", get.get("attention_mask"), tokens, cached=False)
    else:
        if "attention_mask" in get:  # (a decoder's mask also spans the cached tokens)
            past = cached and not getattr(config, "is_encoder_decoder", False)
            _check_mask("attention_mask", get["attention_mask"], tokens, cached=past)
        for name in _SAME_AS_TOKENS:
            value = get.get(name)
            if value is not None and _shape(value) != tokens:
                raise ValueError(f"{name} must have the shape of the inputs {list(tokens)}, got {_shape(value)}")
        position_ids = get.get("position_ids")
        if position_ids is not None and (position_ids.ndim not in (1, 2) or position_ids.shape[-1] != tokens[-1]
                                         or (position_ids.ndim == 2 and position_ids.shape[0] not in (1, tokens[0]))):
            raise ValueError(f"position_ids must be [batch or 1, seq={tokens[-1]}], got shape {_shape(position_ids)}")
    decoder_tokens = None
    if "decoder_input_ids" in get or "decoder_inputs_embeds" in get:
        decoder_tokens = _check_tokens("decoder_", get.get("decoder_input_ids"), get.get("decoder_inputs_embeds"), 2,
                                       embedding_size)
        _check_mask("decoder_attention_mask", get.get("decoder_attention_mask"), decoder_tokens, cached=cached)
        if tokens is not None and decoder_tokens[0] != tokens[0]:
            raise ValueError(f"decoder inputs have batch size {decoder_tokens[0]}, the encoder inputs {tokens[0]}")
    if not _LABEL_ARGUMENTS.isdisjoint(get):
        _check_labels(type(model).__name__, get, tokens, decoder_tokens)


def _check_labels(head: str, get: dict, tokens: tuple[int, ...] | None, decoder_tokens: tuple | None) -> None:
    labels = get.get("labels")
    batch = tokens[0] if tokens is not None else decoder_tokens[0] if decoder_tokens is not None else None
    if labels is not None and batch is not None:
        if labels.ndim == 0 or labels.shape[0] != batch:
            raise ValueError(f"labels must start with the batch size {batch}, got shape {_shape(labels)}")
        if head.endswith(_TOKEN_LABEL_HEADS) and tokens is not None and _shape(labels) != tokens:
            raise ValueError(f"labels must be [batch, seq] = {list(tokens)} like input_ids for {head}, "
                             f"got shape {_shape(labels)}")
        if head.endswith("ForConditionalGeneration") and labels.ndim != 2:
            raise ValueError(f"labels must be [batch, target_seq] token ids, got shape {_shape(labels)}")
        if head.endswith("ForConditionalGeneration") and labels.shape[1] == 0:
            raise ValueError(f"labels is empty (shape {_shape(labels)}): needs at least one target token")
    for name in ("start_positions", "end_positions", "next_sentence_label", "sentence_order_label"):
        value = get.get(name)
        if value is not None and batch is not None and (value.ndim != 1 or value.shape[0] != batch):
            raise ValueError(f"{name} must be [batch={batch}], got shape {_shape(value)}")


def checked_forward(forward: Callable) -> Callable:
    """Wrap a model's `forward` with the boundary checks, in one wrapper that runs them at the outermost model call.

    - An unknown keyword raises a TypeError naming it. Our forwards end in `**kwargs` (transformers passes
      attention, generation and loss keywords through them), and a keyword that nothing reads would otherwise
      vanish: that is how the 5.24 cache rename turned into wrong tokens with no error. Known = the forward's own
      parameters + `compat.KNOWN_FORWARD_KWARGS`.
    - `check_inputs` sees the tensor arguments by name (positional or keyword).

    A head calling its base model (or any model called inside another's forward) skips both: its arguments were
    built by our code from ones already checked, and per generated token the checks would otherwise run twice.
    Under `torch.compile` only the keyword check runs (at trace time).
    """
    if getattr(forward, "_checks_inputs", False):
        return forward
    parameters = list(inspect.signature(forward).parameters.values())[1:]
    named = [p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    positional = tuple(p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    known = KNOWN_FORWARD_KWARGS | set(named)

    def check_kwargs(model, kwargs: dict) -> None:
        if known.issuperset(kwargs):
            return
        for name in kwargs:
            if name not in known:
                raise TypeError(f"{type(model).__name__}.forward() got an unexpected keyword argument {name!r}; it "
                                f"takes {', '.join(sorted(known))}")

    @functools.wraps(forward)
    def checked(self, *args, **kwargs):
        if getattr(_CALLS, "inside", False):  # (first: the base model of every head call takes this exit)
            return forward(self, *args, **kwargs)
        if torch.compiler.is_compiling():
            check_kwargs(self, kwargs)
            return forward(self, *args, **kwargs)
        check_kwargs(self, kwargs)
        check_inputs(self, {**dict(zip(positional, args)), **kwargs} if args else kwargs)
        _CALLS.inside = True
        try:
            return forward(self, *args, **kwargs)
        finally:
            _CALLS.inside = False

    checked._checks_inputs = True
    return checked
