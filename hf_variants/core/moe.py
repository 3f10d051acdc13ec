"""Mixture-of-experts feed-forward: routers, stacked experts run by a grouped matmul, and the balancing losses.

Two routers (``config.router_type``):
- "topk" (Mixtral): softmax over experts, keep the top `num_experts_per_tok`, renormalise their probabilities.
- "switch" (Switch Transformer): top-1, weighted by the (unrenormalised) probability of the chosen expert; with a
  capacity (`expert_capacity` tokens, or `expert_capacity_factor * tokens / num_experts`) per sequence, tokens past
  it in sequence order are dropped: their MoE output is 0, so they pass through the residual unchanged.

Two expert layouts (`config.expert_layout`):
- "stacked": 3-D parameters (`gate_up_proj`/`down_proj` for "glu", `up_proj`/`down_proj` for "mlp", the layout of
  transformers' Mixtral). `config.moe_implementation` picks the grouped path (token/expert pairs sorted by expert,
  one `grouped_mm` per projection) or the eager per-expert loop kept as the reference. Every expert gets a gradient
  (zero when it received no token), as in native Mixtral.
- "separate": one dense feed-forward module per expert (native Switch Transformers' layout), run by the per-expert
  loop. An expert that received no token gets no gradient (None), so AdamW skips it (no weight decay, no momentum
  step) exactly as native Switch training does, and its gradient costs no memory.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers.activations import ACT2FN

from .dropout import train_dropout
from .feedforward import build_feedforward

# --- balancing losses ------------------------------------------------------------------------------------------


def _token_mask(attention_mask: torch.Tensor | None, logits: torch.Tensor) -> torch.Tensor | None:
    """The [batch * seq] float mask of real tokens for one layer's [batch * seq, experts] (or [batch, seq, experts])
    logits (None = all real)."""
    if attention_mask is None or attention_mask.dim() != 2:
        return None
    batch = attention_mask.shape[0]
    rows = logits.reshape(-1, logits.shape[-1]).shape[0]
    if rows % batch or attention_mask.shape[1] < rows // batch:
        return None
    seq = rows // batch
    return attention_mask[:, -seq:].reshape(-1).float()  # with a KV cache only the newest positions were routed


def load_balancing_loss(
    router_logits: tuple[torch.Tensor, ...], num_experts: int, top_k: int,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mixtral/Switch balancing loss over all routed tokens of all layers:
    num_experts * sum_e(fraction of top-k assignments to e * mean router probability of e). Padding is excluded
    when `attention_mask` is given (as native Mixtral does)."""
    counts = probs_sum = rows = 0.0
    for layer in router_logits:
        probs = layer.reshape(-1, num_experts).float().softmax(dim=-1)
        # top-k indices are distinct per row: scattering ones = summing their one-hots, without one_hot's range
        # check (two host synchronisations per call: every generated token on GPU)
        assigned = torch.zeros_like(probs).scatter_(1, probs.topk(top_k, dim=-1).indices, 1.0)
        mask = _token_mask(attention_mask, layer)
        if mask is not None:
            assigned, probs = assigned * mask[:, None], probs * mask[:, None]
        counts = counts + assigned.sum(dim=0)
        probs_sum = probs_sum + probs.sum(dim=0)
        rows = rows + (probs.shape[0] if mask is None else mask.sum())
    return num_experts * torch.sum((counts / rows) * (probs_sum / rows))


def switch_load_balancing_loss(router_logits: tuple[torch.Tensor, ...], num_experts: int) -> torch.Tensor:
    """Switch Transformer's form: the loss per sequence (its tokens of every sparse layer, argmax expert before
    capacity dropping), averaged over sequences: num_experts**2 * mean_{sequence, e}(fraction_e * probability_e)."""
    logits = torch.cat([layer.reshape(layer.shape[0], -1, num_experts) for layer in router_logits], dim=1).float()
    probs = logits.softmax(dim=-1)
    fraction = torch.zeros_like(probs).scatter_(-1, logits.argmax(dim=-1, keepdim=True), 1.0).mean(dim=-2)
    return num_experts**2 * torch.mean(fraction * probs.mean(dim=-2))


def router_z_loss(router_logits: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """ST-MoE z-loss: mean squared log-sum-exp of router logits, keeping logits small."""
    logits = torch.cat([layer.reshape(-1, layer.shape[-1]) for layer in router_logits], dim=0).float()
    return torch.logsumexp(logits, dim=-1).pow(2).mean()


def moe_losses(config, router_logits, attention_mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The unweighted balancing ("aux_loss") and z ("z_loss") losses whose coefficients are > 0."""
    losses: dict[str, torch.Tensor] = {}
    if not router_logits:
        return losses
    if config.router_aux_loss_coef > 0:
        if getattr(config, "router_type", "topk") == "switch":
            losses["aux_loss"] = switch_load_balancing_loss(router_logits, config.num_experts)
        else:
            losses["aux_loss"] = load_balancing_loss(
                router_logits, config.num_experts, config.num_experts_per_tok, attention_mask)
    if config.router_z_loss_coef > 0:
        losses["z_loss"] = router_z_loss(router_logits)
    return losses


def weighted_moe_loss(config, losses: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """router_aux_loss_coef * aux_loss + router_z_loss_coef * z_loss over the losses `moe_losses` returned."""
    if not losses:
        return None
    total = config.router_aux_loss_coef * losses["aux_loss"] if "aux_loss" in losses else 0.0
    if "z_loss" in losses:
        total = total + config.router_z_loss_coef * losses["z_loss"]
    return total


def moe_auxiliary_loss(config, router_logits, attention_mask: torch.Tensor | None = None) -> torch.Tensor | None:
    """The weighted sum of the balancing losses whose coefficients are > 0 (None for dense models).
    Families add it to every head's loss, whether or not router logits were requested."""
    return weighted_moe_loss(config, moe_losses(config, router_logits, attention_mask))


# --- experts ---------------------------------------------------------------------------------------------------


_GROUPED_MM = getattr(nn.functional, "grouped_mm", None)


def _grouped_mm_fits(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """grouped_mm exists (torch >= 2.10) and its kernel's 16-byte stride/pointer alignment holds."""
    if _GROUPED_MM is None or x.dtype not in (torch.float32, torch.bfloat16, torch.float16) or x.dtype != weight.dtype:
        return False
    size = x.element_size()
    _, out_features, in_features = weight.shape  # ([experts, out, in]: no generator per call, per layer and token)
    return out_features * size % 16 == 0 and in_features * size % 16 == 0 and x.data_ptr() % 16 == 0 \
        and weight.data_ptr() % 16 == 0


def _grouped_linear(x: torch.Tensor, weight: torch.Tensor, offsets: torch.Tensor, counts: torch.Tensor,
                    bias: torch.Tensor | None, expert_of_row: torch.Tensor) -> torch.Tensor:
    """Rows of `x` sorted by expert times each expert's [out, in] weight; `offsets` are the groups' end rows.
    Where grouped_mm cannot run, one matmul per non-empty segment of the sorted rows does the same."""
    if _grouped_mm_fits(x, weight):
        # Its CPU backward rejects stride-0 output gradients (e.g. from `.sum()`); here every grouped_mm output
        # feeds a multiplication or an activation whose backward hands it a materialised gradient.
        out = _GROUPED_MM(x, weight.transpose(-2, -1), offs=offsets)
    else:
        sizes = counts.tolist()
        out = torch.cat([segment @ weight[e].T for e, segment in enumerate(x.split(sizes)) if sizes[e]])
    return out if bias is None else out + bias[expert_of_row]


def per_expert_loop(expert_fn, hidden_states: torch.Tensor, token_index: torch.Tensor, expert_index: torch.Tensor,
                    weights: torch.Tensor) -> torch.Tensor:
    """Sum over the (token, expert, weight) assignments of weight * expert_fn(expert, token states), as [tokens,
    hidden], one call per expert that received tokens, in expert order (native's loop, so dropout draws its masks in
    native's order). Tokens without an assignment (dropped) get 0."""
    output = torch.zeros_like(hidden_states)
    for expert in expert_index.unique().tolist():
        rows = (expert_index == expert).nonzero().squeeze(-1)
        tokens = token_index[rows]
        hidden = expert_fn(expert, hidden_states[tokens])
        # weighted in the routing weights' float32, then cast: native Mixtral's rounding in bf16/fp16
        output.index_add_(0, tokens, (hidden * weights[rows, None]).to(output.dtype))
    return output


class Experts(nn.Module):
    """`num_experts` feed-forwards stored as stacked [experts, out, in] weights (transformers' Mixtral layout)."""

    def __init__(self, config):
        super().__init__()
        self.num_experts = config.num_experts
        self.glu = config.ffn_type == "glu"
        self.implementation = config.moe_implementation
        hidden, inner = config.hidden_size, config.intermediate_size
        first = "gate_up_proj" if self.glu else "up_proj"
        self.first_name = first
        first_out = 2 * inner if self.glu else inner
        setattr(self, first, nn.Parameter(torch.empty(self.num_experts, first_out, hidden)))
        self.down_proj = nn.Parameter(torch.empty(self.num_experts, hidden, inner))
        if config.mlp_bias:
            setattr(self, first + "_bias", nn.Parameter(torch.empty(self.num_experts, first_out)))
            self.down_proj_bias = nn.Parameter(torch.empty(self.num_experts, hidden))
        else:
            setattr(self, first + "_bias", None)
            self.down_proj_bias = None
        self.act_fn = ACT2FN[config.hidden_act]
        # Each expert's inner dropout (native Switch experts are T5 feed-forwards: wi -> act -> dropout -> wo).
        self.dropout = nn.Dropout(config.activation_dropout)

    @property
    def first_proj(self) -> nn.Parameter:
        return getattr(self, self.first_name)

    @property
    def first_bias(self) -> nn.Parameter | None:
        return getattr(self, self.first_name + "_bias")

    def _activate(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.glu:
            gate, up = hidden.chunk(2, dim=-1)
            hidden = self.act_fn(gate) * up
        else:
            hidden = self.act_fn(hidden)
        return train_dropout(self.dropout, hidden, self.training)  # (no module call in eval or at p = 0)

    def forward(self, hidden_states: torch.Tensor, token_index: torch.Tensor, expert_index: torch.Tensor,
                weights: torch.Tensor) -> torch.Tensor:
        """Sum over the (token, expert, weight) assignments of weight * expert(token), as [tokens, hidden].
        Tokens without an assignment (dropped) get 0."""
        if self.implementation == "eager":
            return self.forward_eager(hidden_states, token_index, expert_index, weights)
        return self.forward_grouped(hidden_states, token_index, expert_index, weights)

    def forward_eager(self, hidden_states, token_index, expert_index, weights) -> torch.Tensor:
        """Reference: one pair of matmuls per expert that received tokens (`per_expert_loop`)."""
        return per_expert_loop(self._expert, hidden_states, token_index, expert_index, weights)

    def _expert(self, expert: int, hidden: torch.Tensor) -> torch.Tensor:
        """Expert `expert`'s feed-forward on its tokens' states."""
        first_bias, down_bias = self.first_bias, self.down_proj_bias
        hidden = nn.functional.linear(hidden, self.first_proj[expert],
                                      None if first_bias is None else first_bias[expert])
        return nn.functional.linear(self._activate(hidden), self.down_proj[expert],
                                    None if down_bias is None else down_bias[expert])

    def forward_grouped(self, hidden_states, token_index, expert_index, weights) -> torch.Tensor:
        """Sort the assignments by expert and run each projection as one grouped matmul over the segments (its
        dropout draws one mask for all experts: same distribution, not native's random numbers)."""
        output = torch.zeros_like(hidden_states)
        if expert_index.numel() == 0:
            return output
        sorted_experts, order = expert_index.sort(stable=True)
        # Not torch.bincount: it reads the largest index back to the host (a synchronisation on GPU, per layer).
        counts = torch.zeros(self.num_experts, dtype=torch.long, device=sorted_experts.device)
        counts.index_add_(0, sorted_experts, torch.ones_like(sorted_experts))
        offsets = counts.cumsum(0).to(torch.int32)
        tokens = token_index[order]
        hidden = _grouped_linear(hidden_states[tokens], self.first_proj, offsets, counts, self.first_bias,
                                 sorted_experts)
        hidden = _grouped_linear(self._activate(hidden), self.down_proj, offsets, counts, self.down_proj_bias,
                                 sorted_experts)
        return output.index_add_(0, tokens, (hidden * weights[order, None]).to(output.dtype))


class SeparateExperts(nn.ModuleList):
    """`num_experts` dense feed-forwards (`MLP`/`GatedMLP`: up -> act -> inner dropout -> down, native Switch's
    expert), one module each, so an expert without tokens is not part of the autograd graph at all."""

    def __init__(self, config):
        super().__init__(build_feedforward(config) for _ in range(config.num_experts))

    def forward(self, hidden_states: torch.Tensor, token_index: torch.Tensor, expert_index: torch.Tensor,
                weights: torch.Tensor) -> torch.Tensor:
        """`per_expert_loop` over the expert modules."""
        return per_expert_loop(lambda expert, hidden: self[expert](hidden), hidden_states, token_index, expert_index,
                               weights)


def build_experts(config) -> nn.Module:
    """The experts of one layer in `config.expert_layout`."""
    return SeparateExperts(config) if config.expert_layout == "separate" else Experts(config)


# --- the layer -------------------------------------------------------------------------------------------------


def expert_capacity(config, tokens_per_sequence: int) -> int | None:
    """Tokens each expert accepts per sequence: `expert_capacity`, else from `expert_capacity_factor`, else None."""
    if getattr(config, "expert_capacity", None) is not None:
        return config.expert_capacity
    if config.expert_capacity_factor is None:
        return None
    return max(1, math.ceil(config.expert_capacity_factor * tokens_per_sequence / config.num_experts))


class SparseMoE(nn.Module):
    """Router (`gate`) + `experts` (stacked or separate); forward returns (output, router logits) with the logits in
    the native model's shape: [batch * seq, experts] for "topk" (Mixtral), [batch, seq, experts] for "switch"."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.num_experts = config.num_experts
        self.top_k = config.num_experts_per_tok
        self.router_type = getattr(config, "router_type", "topk")
        self.jitter_noise = config.router_jitter_noise
        self.gate = nn.Linear(config.hidden_size, config.num_experts, bias=False)
        self.experts = build_experts(config)

    def route(self, router_logits: torch.Tensor, dtype: torch.dtype | None = None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(token index, expert index, weight) per kept assignment; tokens are numbered batch-major.
        `dtype`: the Switch router's probabilities are rounded to the model's dtype before the expert is picked,
        as native does (ties after rounding go to the lower expert index)."""
        batch, seq, _ = router_logits.shape
        probs = router_logits.float().softmax(dim=-1)
        if self.router_type == "switch":
            probs = probs.to(dtype or probs.dtype)
            expert = probs.argmax(dim=-1)  # [batch, seq]; Switch keeps the raw probability
            weight = probs.gather(-1, expert[..., None]).squeeze(-1)
            capacity = expert_capacity(self.config, seq)
            keep = torch.ones_like(expert, dtype=torch.bool)
            if capacity is not None:
                # position of each token in its expert's queue within the sequence, in sequence order
                chosen = torch.zeros(*expert.shape, self.num_experts, dtype=torch.long, device=expert.device)
                chosen.scatter_(-1, expert[..., None], 1)  # one-hot without one_hot's host-synchronising check
                queue = chosen.cumsum(dim=1).gather(-1, expert[..., None])
                keep = queue.squeeze(-1) <= capacity
            tokens = keep.reshape(-1).nonzero().squeeze(-1)
            return tokens, expert.reshape(-1)[tokens], weight.reshape(-1)[tokens]
        weight, expert = probs.topk(self.top_k, dim=-1)
        weight = weight / weight.sum(dim=-1, keepdim=True)
        tokens = torch.arange(batch * seq, device=router_logits.device).repeat_interleave(self.top_k)
        return tokens, expert.reshape(-1), weight.reshape(-1)

    def _switch_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Switch's router: float32 throughout ("selective precision", native's router_dtype), multiplicative
        jitter on the router's own copy of the input only (the experts see the states unjittered)."""
        router_input = hidden_states.float()
        if self.training and self.jitter_noise > 0:
            router_input = router_input * torch.empty_like(router_input).uniform_(
                1.0 - self.jitter_noise, 1.0 + self.jitter_noise)
        return nn.functional.linear(router_input, self.gate.weight.float())

    def forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (output, router logits); a Switch router's logits are float32, a top-k router's in the model's
        dtype (both as native)."""
        batch, seq, hidden = hidden_states.shape
        if self.router_type == "switch":
            router_logits = self._switch_logits(hidden_states)
        else:
            if self.training and self.jitter_noise > 0:  # Mixtral: noise seen by router and experts alike
                noise = torch.empty_like(hidden_states).uniform_(1.0 - self.jitter_noise, 1.0 + self.jitter_noise)
                hidden_states = hidden_states * noise
            router_logits = self.gate(hidden_states)
        tokens, experts, weights = self.route(router_logits, hidden_states.dtype)
        output = self.experts(hidden_states.reshape(-1, hidden), tokens, experts, weights)
        if self.router_type == "topk":
            router_logits = router_logits.reshape(batch * seq, self.num_experts)
        return output.reshape(batch, seq, hidden), router_logits
