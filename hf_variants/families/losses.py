"""Token-level losses with transformers' loss keywords, so gradient accumulation and DDP give the full-batch mean.

`Trainer` passes `num_items_in_batch` (the label count of the whole accumulated, all-process step) to a model whose
`accepts_loss_kwargs` is true, skips its own division by the accumulation steps and multiplies the loss by the
number of processes. A head must then return sum(token losses) / num_items_in_batch: what transformers' own loss
functions (`transformers.loss.loss_utils`) do, used here wherever they fit. The keywords are consumed by the heads
(`pop_loss_kwargs`) and never reach the attention kernels.

Parts of a loss that are per-micro-batch means (NSP/SOP, the MoE balancing losses, ELECTRA's replaced-token part
inside the joint generator+discriminator objective) are weighted by `items_share`, this micro-batch's share of the
step's labelled items, so that they add up to one weighted mean per step instead of one mean per micro-batch.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.loss.loss_utils import ForMaskedLMLoss

from ..core.chunked_loss import chunked_causal_lm_loss, chunked_cross_entropy
from ..core.compat import LOSS_KWARGS
from ..core.moe import moe_losses, weighted_moe_loss


def pop_loss_kwargs(kwargs: dict) -> dict:
    """Remove transformers' loss keywords (`num_items_in_batch`, `shift_labels`, `ignore_index`) from a forward's
    `**kwargs` and return them: the head consumes them, the base model and attention kernels never see them."""
    if LOSS_KWARGS.isdisjoint(kwargs):  # (inference and generation: none)
        return {}
    return {name: kwargs.pop(name) for name in LOSS_KWARGS if name in kwargs}


def unshifted_token_loss(logits: torch.Tensor, labels: torch.Tensor, **loss_kwargs) -> torch.Tensor:
    """Cross-entropy of each position's logits against the label at the same position (-100 ignored): masked LM,
    seq2seq (labels are already aligned with the decoder positions) and token classification. A mean over the
    labelled tokens, or their sum / `num_items_in_batch` when given (transformers' `ForMaskedLMLoss`)."""
    loss_kwargs = {k: v for k, v in loss_kwargs.items() if k != "shift_labels"}
    return ForMaskedLMLoss(logits, labels, vocab_size=logits.shape[-1], **loss_kwargs)


def binary_token_loss(logits: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor | None = None,
                      num_items_in_batch: torch.Tensor | int | None = None, ignore_index: int = -100) -> torch.Tensor:
    """ELECTRA's replaced-token detection: binary cross-entropy per token over real tokens (attention mask 1, label
    not `ignore_index`). Written here because transformers has no binary token loss: a mean over those tokens, or
    their sum / `num_items_in_batch` when given (label padding positions -100 so that Trainer counts real tokens)."""
    active = labels != ignore_index
    if attention_mask is not None:
        active = active & attention_mask.bool().to(active.device)
    losses = nn.functional.binary_cross_entropy_with_logits(
        logits.float()[active], labels[active].to(logits.device).float(), reduction="sum")
    denominator = active.sum() if num_items_in_batch is None else num_items_in_batch
    if torch.is_tensor(denominator):
        denominator = denominator.to(losses.device)
    return losses / denominator


def count_items(labels: torch.Tensor | None, shifted: bool = False, shift_labels: torch.Tensor | None = None,
                ignore_index: int = -100) -> torch.Tensor | None:
    """This micro-batch's labelled items, counted as Trainer counts them for `num_items_in_batch` (causal LM:
    `shift_labels`, else `labels[..., 1:]`)."""
    if shift_labels is not None:
        labels = shift_labels
    elif labels is not None and shifted:
        labels = labels[..., 1:]
    return None if labels is None else labels.ne(ignore_index).sum()


def items_share(local_items: torch.Tensor | None, num_items_in_batch: torch.Tensor | int | None):
    """This micro-batch's fraction of the step's items (1 without `num_items_in_batch`): the weight of a
    per-micro-batch mean, so that the micro-batches and processes of one step add up to it once."""
    if num_items_in_batch is None or local_items is None:
        return 1.0
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(local_items.device)
    return local_items / num_items_in_batch


def token_share(labels: torch.Tensor | None, loss_kwargs: dict, shifted: bool = False):
    """`items_share` of a token-level loss: this micro-batch's labelled tokens (counted as Trainer counts them) over
    the step's `num_items_in_batch` from the head's loss keywords."""
    shift_labels = loss_kwargs.get("shift_labels") if shifted else None
    local_items = count_items(labels, shifted=shifted, shift_labels=shift_labels, ignore_index=loss_kwargs.get("ignore_index", -100))
    return items_share(local_items, loss_kwargs.get("num_items_in_batch"))


def add_aux_loss(model, loss, outputs, attention_mask=None, share=1.0, decoder_attention_mask=None):
    """Add the weighted MoE balancing losses (when their coefficients are > 0), times `share` (this micro-batch's
    share of the step's items, see `items_share`), to `loss`; returns (loss, unweighted losses).

    One stack (encoder or decoder models): the unweighted losses are {"aux_loss", "z_loss"}, like native Mixtral's
    unscaled `aux_loss`; padding positions (`attention_mask` 0) are left out, as native Mixtral does. Two stacks
    (encoder-decoder outputs, which carry `encoder_router_logits`): each stack's losses over its own tokens and
    padding mask (`attention_mask`, `decoder_attention_mask`), named as native Switch Transformers does
    (encoder_aux_loss, encoder_z_loss, decoder_aux_loss, decoder_z_loss) and summed into aux_loss and z_loss: the
    stacks' sequences differ in length and padding, so one joint loss would not match native."""
    config = model.config
    if hasattr(outputs, "encoder_router_logits"):
        parts = {"encoder": moe_losses(config, outputs.encoder_router_logits, attention_mask),
                 "decoder": moe_losses(config, outputs.decoder_router_logits, decoder_attention_mask)}
        unweighted = {f"{stack}_{name}": value for stack, losses in parts.items() for name, value in losses.items()}
        for name in ("aux_loss", "z_loss"):
            values = [losses[name] for losses in parts.values() if name in losses]
            if values:
                unweighted[name] = sum(values[1:], values[0])
    else:
        router_logits = getattr(outputs, "router_logits", None)
        if not router_logits:  # a dense model: no balancing losses (moe_losses gives none)
            return loss, {}
        if attention_mask is not None and attention_mask.dim() > 2:  # multiple choice: [batch, choices, seq]
            attention_mask = attention_mask.reshape(-1, attention_mask.shape[-1])
        unweighted = moe_losses(config, router_logits, attention_mask)
    weighted = weighted_moe_loss(config, {k: v for k, v in unweighted.items() if k in ("aux_loss", "z_loss")})
    if weighted is not None and loss is not None:
        loss = loss + share * weighted
    return loss, unweighted


def chunked_loss_applies(model: nn.Module, labels: torch.Tensor | None, projection: nn.Module) -> bool:
    """Whether an LM head computes its loss chunk by chunk (`config.loss_chunk_size`): in training, with labels, and
    when the vocabulary projection is a plain `nn.Linear` (a PEFT-wrapped or quantised head keeps the plain path,
    which runs the module itself)."""
    return (labels is not None and model.training and model.config.loss_chunk_size is not None
            and type(projection) is nn.Linear)


def chunked_lm_loss(config, hidden: torch.Tensor, projection: nn.Linear, labels: torch.Tensor, shifted: bool,
                    bias: torch.Tensor | None = None, num_items_in_batch: torch.Tensor | int | None = None,
                    ignore_index: int = -100, shift_labels: torch.Tensor | None = None) -> torch.Tensor:
    """The loss the plain path computes from `projection(hidden) (+ bias)` — transformers' `ForCausalLMLoss` when
    `shifted`, else `ForMaskedLMLoss` — in chunks of `config.loss_chunk_size` tokens, without the full logits.
    Same loss keywords (sum / `num_items_in_batch` when given); equal to the plain loss and gradients up to float
    summation order."""
    if projection.bias is not None:
        bias = projection.bias if bias is None else projection.bias + bias
    options = dict(bias=bias, chunk_size=config.loss_chunk_size, ignore_index=ignore_index,
                   num_items_in_batch=num_items_in_batch)
    if shifted:
        return chunked_causal_lm_loss(hidden, projection.weight, labels, shift_labels=shift_labels, **options)
    return chunked_cross_entropy(hidden, projection.weight, labels, **options)
