"""The one forward of every task head: bind the call, run the base model, hand its outputs to the head.

A head's signature is not written by hand. It is its family base model's forward parameters (declared once per
family, on `base_model_class.forward`) with the head's own arguments (`head_arguments`: labels, QA positions,
`logits_to_keep`, ...) after `inputs_embeds`, as native heads order them, then `**kwargs`. It is set as the
forward's `__signature__`, so everything that reads a forward's parameters sees the head's real ones:
`core/inputs.checked_forward` (which keywords are known, which positions name which input), transformers'
Trainer (dataset columns kept, label names), `generate` (`cache`/`past_key_values`, `logits_to_keep`) and PEFT.

A head writes only what differs: `head_outputs` (logits, loss, output class) and, where the base model is called
with other inputs than the head's (multiple choice flattens choices, seq2seq heads derive decoder inputs),
`base_outputs`.
"""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from ..core.compat import can_return_tuple
from .losses import pop_loss_kwargs

_TARGET = "torch.Tensor | None"  # (annotations as strings, like the base models' under `from __future__`)


def head_signature(base_forward, head_arguments: dict[str, Any], unused: tuple[str, ...] = ()) -> inspect.Signature:
    """`self`, the base model's parameters but `unused` with `head_arguments` (name -> default) after the last
    `*inputs_embeds` (as native heads place `labels`), then `**kwargs`."""
    base = [p for p in inspect.signature(base_forward).parameters.values()
            if p.kind is not p.VAR_KEYWORD and p.name not in unused]
    named = [p.name for p in base]
    at = max([i + 1 for i, name in enumerate(named) if name.endswith("inputs_embeds")], default=len(base))
    own = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default,
                             annotation=_TARGET if default is None else f"{type(default).__name__} | torch.Tensor")
           for name, default in head_arguments.items() if name not in named]
    if base[0].name != "self":
        base.insert(0, inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD))
        at += 1
    rest = [inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)]
    return inspect.Signature(base[:at] + own + base[at:] + rest)


class TaskHead:
    """Mixin placed before a family's PreTrainedModel base: one forward for all its heads.

    Class attributes a head sets: `base_model_class` (whose forward declares the inputs; set once per family),
    `head_arguments` (its own arguments and their defaults, popped before the base model runs), `unused_inputs`
    (base model inputs the head does not take: left out of its signature), `base_call_kwargs` (fixed arguments to
    the base model, e.g. no KV cache for a decoder's token classifier)."""

    base_model_class: type[nn.Module] | None = None
    head_arguments: dict[str, Any] = {"labels": None}
    unused_inputs: tuple[str, ...] = ()
    base_call_kwargs: dict[str, Any] = {}

    def __init_subclass__(cls, **kwargs):
        if getattr(cls, "base_model_class", None) is not None and "forward" not in vars(cls):
            cls._declare_forward()
        super().__init_subclass__(**kwargs)

    @classmethod
    def _declare_forward(cls) -> None:
        """Give the class a forward whose signature is the head's (the PreTrainedModel base then wraps it with
        core/inputs.checked_forward, which reads it), unless the inherited one already has that signature (the
        subclasses `declare_variant` makes add nothing)."""
        signature = head_signature(cls.base_model_class.forward, cls.head_arguments, cls.unused_inputs)
        if getattr(cls.forward, "__signature__", None) == signature:
            return
        positional = tuple(p.name for p in signature.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD)[1:]

        def forward(self, *args, **kwargs):
            return self._head_forward(positional, args, kwargs)

        forward.__signature__ = signature
        forward.__doc__ = TaskHead._head_forward.__doc__
        cls.forward = can_return_tuple(forward)

    def _head_forward(self, positional: tuple[str, ...], args: tuple, kwargs: dict):
        """The inputs of the base model, the head's own arguments (labels, ...) and transformers' loss keywords
        (`num_items_in_batch`, ...: families/losses.py); returns the head's ModelOutput."""
        if args:  # (`generate` passes keywords only: `kwargs` is then this call's own dict, the inputs as they are)
            name = f"{type(self).__name__}.forward()"
            if len(args) > len(positional):
                raise TypeError(f"{name} takes at most {len(positional)} positional arguments "
                                f"({', '.join(positional)}), got {len(args)}")
            twice = [arg for arg in positional[:len(args)] if arg in kwargs]
            if twice:
                raise TypeError(f"{name} got {twice[0]!r} twice: positionally and as a keyword")
            kwargs = dict(zip(positional, args), **kwargs)
        targets = {name: kwargs.pop(name, default) for name, default in self.head_arguments.items()}
        loss_kwargs = pop_loss_kwargs(kwargs)
        outputs = self.base_outputs(kwargs, targets)
        return self.head_outputs(outputs, kwargs, loss_kwargs, **targets)

    def base_outputs(self, inputs: dict[str, Any], targets: dict[str, Any]):
        """The base model's outputs for the head's inputs (`self.model`, plus `base_call_kwargs`)."""
        return self.model(**{**inputs, **self.base_call_kwargs})

    def head_outputs(self, outputs, inputs: dict[str, Any], loss_kwargs: dict[str, Any], **targets):
        raise NotImplementedError
