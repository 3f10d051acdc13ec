"""Mixture-of-experts feed-forward and its balancing losses."""

from __future__ import annotations

import torch
from torch import nn


def load_balancing_loss(router_logits: tuple[torch.Tensor, ...], num_experts: int, top_k: int) -> torch.Tensor:
    """Switch/Mixtral balancing loss: num_experts * sum_e(fraction of tokens routed to e * mean router prob of e)."""
    logits = torch.cat([layer.reshape(-1, num_experts) for layer in router_logits], dim=0).float()
    probs = logits.softmax(dim=-1)
    selected = torch.topk(probs, top_k, dim=-1).indices
    routed = nn.functional.one_hot(selected, num_experts).float().mean(dim=0)  # [top_k, experts]
    return num_experts * torch.sum(routed * probs.mean(dim=0).unsqueeze(0))


def router_z_loss(router_logits: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """ST-MoE z-loss: mean squared log-sum-exp of router logits, keeping logits small."""
    logits = torch.cat([layer.reshape(-1, layer.shape[-1]) for layer in router_logits], dim=0).float()
    return torch.logsumexp(logits, dim=-1).pow(2).mean()


def moe_auxiliary_loss(config, router_logits) -> torch.Tensor | None:
    """The weighted sum of the balancing losses whose coefficients are > 0 (None for dense models)."""
    if not router_logits:
        return None
    total = None
    if config.router_aux_loss_coef > 0:
        total = config.router_aux_loss_coef * load_balancing_loss(
            router_logits, config.num_experts, config.num_experts_per_tok)
    if config.router_z_loss_coef > 0:
        z = config.router_z_loss_coef * router_z_loss(router_logits)
        total = z if total is None else total + z
    return total


class SparseMoE(nn.Module):
    """Placeholder until the mixture-of-experts issue lands: the config refuses num_experts > 0 before this runs."""

    def __init__(self, config):
        raise NotImplementedError("num_experts > 0 is not available yet")
