"""Position-wise feed-forward layers: a plain MLP or a gated linear unit (SwiGLU / GeGLU)."""

from __future__ import annotations

import torch
from torch import nn
from transformers.activations import ACT2FN

from .dropout import train_dropout


class MLP(nn.Module):
    """up_proj -> activation -> down_proj (BERT, GPT-2, T5 v1.0, the original Transformer)."""

    def __init__(self, config):
        super().__init__()
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=config.mlp_bias)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=config.mlp_bias)
        self.act_fn = ACT2FN[config.hidden_act]
        self.dropout = nn.Dropout(config.activation_dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.act_fn(self.up_proj(hidden_states))
        if self.training:  # (no dropout lookup per call in eval)
            hidden_states = train_dropout(self.dropout, hidden_states, True)
        return self.down_proj(hidden_states)


class GatedMLP(nn.Module):
    """down_proj(act(gate_proj(x)) * up_proj(x)): SwiGLU with silu (LLaMA), GeGLU with gelu (T5 v1.1)."""

    def __init__(self, config):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=config.mlp_bias)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=config.mlp_bias)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=config.mlp_bias)
        self.act_fn = ACT2FN[config.hidden_act]
        self.dropout = nn.Dropout(config.activation_dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        gated = self.act_fn(self.gate_proj(hidden_states)) * self.up_proj(hidden_states)
        if self.training:  # (no dropout lookup per call in eval)
            gated = train_dropout(self.dropout, gated, True)
        return self.down_proj(gated)


def build_feedforward(config) -> nn.Module:
    """The dense feed-forward named by `config.ffn_type`."""
    return GatedMLP(config) if config.ffn_type == "glu" else MLP(config)
