"""A memory-lean LM head + cross-entropy: the loss of `hidden @ weight.T (+ bias)` against targets, computed over
chunks of tokens so the full [tokens, vocab] logits (and their gradient) never exist at once.

At a 32k vocabulary and 8k tokens the fp32 logits alone are 1 GiB, with as much again for their gradient; here the
peak is one chunk's logits. The gradients of `hidden`, `weight` and `bias` are computed chunk by chunk during the
forward pass (the loss is a scalar, so backward only scales them), as Liger-Kernel's fused linear cross-entropy
does; the result equals the plain path (`F.cross_entropy(F.linear(hidden, weight, bias).float(), targets)`):
logits are taken in the input dtype and the softmax in float32, exactly as the heads do.

Wiring: with `config.loss_chunk_size` set, the causal-LM, masked-LM and seq2seq heads call these (through
`families.losses.chunked_lm_loss`) in training with labels, on the final hidden states and the LM head's weight and
bias (and BART's `final_logits_bias`), instead of materialising logits.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

IGNORE_INDEX = -100


def _chunk_forward(hidden, weight, bias, targets, chunk_size, ignore_index, normalizer, with_grads):
    """Loss sum (fp32) and, when `with_grads`, the gradients of the normalised loss wrt hidden, weight, bias."""
    loss_sum = torch.zeros((), dtype=torch.float32, device=hidden.device)
    grad_hidden = torch.empty_like(hidden) if with_grads[0] else None
    grad_weight = torch.zeros_like(weight, dtype=torch.float32) if with_grads[1] else None
    grad_bias = torch.zeros_like(bias, dtype=torch.float32) if bias is not None and with_grads[2] else None
    for start in range(0, hidden.shape[0], chunk_size):
        h, t = hidden[start:start + chunk_size], targets[start:start + chunk_size]
        logits = F.linear(h, weight, bias).float()
        valid = t != ignore_index
        safe = t.masked_fill(~valid, 0)
        lse = torch.logsumexp(logits, dim=-1)
        loss_sum += ((lse - logits.gather(1, safe[:, None]).squeeze(1)) * valid).sum()
        if not any(with_grads):
            continue
        grad = logits.sub_(lse[:, None]).exp_()  # softmax, in the logits' storage
        grad[torch.arange(t.shape[0], device=t.device), safe] -= 1.0
        grad *= (valid / normalizer)[:, None]
        if grad_bias is not None:
            grad_bias += grad.sum(0)
        grad = grad.to(hidden.dtype)
        if grad_hidden is not None:
            grad_hidden[start:start + chunk_size] = grad @ weight
        if grad_weight is not None:
            grad_weight += (grad.T @ h).float()
    return loss_sum, grad_hidden, grad_weight, grad_bias


class _ChunkedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk_size, ignore_index, normalizer):
        needs = ctx.needs_input_grad[:3]
        loss_sum, grad_hidden, grad_weight, grad_bias = _chunk_forward(
            hidden, weight, bias, targets, chunk_size, ignore_index, normalizer, needs)
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias)
        ctx.dtypes = (weight.dtype, None if bias is None else bias.dtype)
        return loss_sum / normalizer

    @staticmethod
    def backward(ctx, grad_output):
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        scale = grad_output.float()
        return (
            None if grad_hidden is None else grad_hidden * scale.to(grad_hidden.dtype),
            None if grad_weight is None else (grad_weight * scale).to(ctx.dtypes[0]),
            None if grad_bias is None else (grad_bias * scale).to(ctx.dtypes[1]),
            None, None, None, None,
        )


def chunked_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    bias: torch.Tensor | None = None,
    chunk_size: int = 4096,
    ignore_index: int = IGNORE_INDEX,
    num_items_in_batch: int | torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Cross-entropy of `F.linear(hidden, weight, bias)` against `targets` without the full logits.

    hidden: [..., hidden]; weight: [vocab, hidden]; targets: [...] (`ignore_index` = not scored). reduction "mean"
    divides the summed loss by the scored tokens (or by `num_items_in_batch`, transformers' gradient-accumulation
    convention), "sum" does not. Peak extra memory: one [chunk_size, vocab] fp32 block.
    """
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size <= 0:
        raise ValueError(f"chunk_size={chunk_size!r} must be a positive integer (tokens per chunk)")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction={reduction!r} is not supported; allowed: 'mean', 'sum'")
    if hidden.shape[:-1] != targets.shape:
        raise ValueError(f"hidden {tuple(hidden.shape)} and targets {tuple(targets.shape)} must agree on every "
                         "dimension but the last")
    hidden, targets = hidden.reshape(-1, hidden.shape[-1]), targets.reshape(-1).to(hidden.device)
    if reduction == "sum":
        normalizer = torch.ones((), device=hidden.device)
    elif num_items_in_batch is not None:
        normalizer = torch.as_tensor(num_items_in_batch, device=hidden.device, dtype=torch.float32)
    else:
        normalizer = (targets != ignore_index).sum().float()  # stays on the device: no host synchronisation
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (hidden, weight, bias)):
        return _ChunkedLinearCrossEntropy.apply(hidden, weight, bias, targets, chunk_size, ignore_index, normalizer)
    loss_sum = _chunk_forward(hidden, weight, bias, targets, chunk_size, ignore_index, normalizer,
                              (False, False, False))[0]
    return loss_sum / normalizer


def chunked_causal_lm_loss(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    bias: torch.Tensor | None = None,
    chunk_size: int = 4096,
    ignore_index: int = IGNORE_INDEX,
    num_items_in_batch: int | torch.Tensor | None = None,
    shift_labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """Next-token loss as transformers' `ForCausalLMLoss`: position t predicts labels[t + 1] (the last position
    predicts nothing), or `shift_labels` when given already shifted."""
    if shift_labels is None:
        shift_labels = F.pad(labels, (0, 1), value=ignore_index)[..., 1:]
    return chunked_cross_entropy(hidden, weight, shift_labels, bias, chunk_size, ignore_index, num_items_in_batch)
