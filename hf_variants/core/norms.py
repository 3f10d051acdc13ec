"""Normalisation layers: LayerNorm and RMSNorm, chosen by `config.norm_type`."""

from __future__ import annotations

import torch
from torch import nn


class RMSNorm(nn.Module):
    """Root-mean-square norm without bias or centring (T5, LLaMA).

    Written by hand rather than `nn.RMSNorm` to keep the exact float32 upcast order of transformers' T5/LLaMA
    norms, so bf16 outputs match the native models bit for bit.
    """

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.eps = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.eps)
        return self.weight * hidden_states.to(input_dtype)

    def extra_repr(self) -> str:
        return f"{tuple(self.weight.shape)}, eps={self.eps}"


def build_norm(config, size: int | None = None) -> nn.Module:
    """The norm named by `config.norm_type` over `size` features (default hidden_size)."""
    size = config.hidden_size if size is None else size
    if config.norm_type == "rmsnorm":
        return RMSNorm(size, eps=config.layer_norm_eps)
    return nn.LayerNorm(size, eps=config.layer_norm_eps)
