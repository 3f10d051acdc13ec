"""Fresh-weight initialisation schemes, one per native family (`config.initializer_scheme`).

transformers calls `_init_weights` once per module, children before parents, so a scheme first draws every
`nn.Linear` / `nn.Embedding` / norm generically and then lets a parent module (an attention, a feed-forward)
redraw its projections with its own scale. All draws go through `transformers.initialization`, which skips
parameters already loaded from a checkpoint.

- "normal": N(0, initializer_range) for matrices, zero biases, norms 1/0, the pad row 0 (BERT, BART, LLaMA, ...).
- "scaled_residual": "normal", with the projections that write into the residual stream (attention output,
  feed-forward down projection) at initializer_range / sqrt(2 * num_hidden_layers) (GPT-2).
- "fan_in": Mesh-TensorFlow's T5 init, every std times `initializer_factor`: q d_model*d_kv ** -0.5, k/v and the
  feed-forward's input d_model ** -0.5, o (heads*d_kv) ** -0.5, the dense down projection d_ff ** -0.5, relative
  bias d_model ** -0.5, token embeddings, untied LM head and router 1.0; Switch experts' both projections
  d_model ** -0.5 (native Switch Transformers does so), stacked or separate.
- "xavier": torch.nn.Transformer's: Xavier-uniform matrices (q/k/v with the fan of the fused in-projection),
  zero attention biases, torch's default feed-forward biases, norms 1/0; token tables N(0, hidden_size ** -0.5).
"""

from __future__ import annotations

import math

from torch import nn
from transformers import initialization as init

from .attention import Attention
from .feedforward import MLP, GatedMLP
from .heads import SequenceClassificationHead, TokenClassificationHead
from .moe import Experts, SeparateExperts, SparseMoE
from .norms import RMSNorm
from .positions import RelativePositionBias


def _linear(module: nn.Linear, std: float) -> None:
    init.normal_(module.weight, mean=0.0, std=std)
    if module.bias is not None:
        init.zeros_(module.bias)


def _rows(module: nn.Linear, sizes: tuple[int, ...], stds: tuple[float, ...]) -> None:
    """Consecutive output-row blocks of one projection (a fused q/k/v) drawn at their own std, bias zero.
    transformers' guard against redrawing loaded weights is a flag on the parameter, which its row views lack: it is
    checked here on the parameter."""
    if not getattr(module.weight, "_is_hf_initialized", False):
        for rows, std in zip(module.weight.split(sizes), stds):
            init.normal_(rows, mean=0.0, std=std)
    if module.bias is not None:
        init.zeros_(module.bias)


def _embedding(module: nn.Embedding, std: float) -> None:
    init.normal_(module.weight, mean=0.0, std=std)
    if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
        init.zeros_(module.weight[module.padding_idx])


def _experts(module: Experts, first_std: float, down_std: float) -> None:
    init.normal_(module.first_proj, mean=0.0, std=first_std)
    init.normal_(module.down_proj, mean=0.0, std=down_std)
    for bias in (module.first_bias, module.down_proj_bias):
        if bias is not None:
            init.zeros_(bias)


def init_normal(config, module: nn.Module) -> None:
    """What transformers' base `_init_weights` does not cover: the stacked expert weights."""
    if isinstance(module, Experts):
        std = config.initializer_range
        _experts(module, std, std)


def init_scaled_residual(config, module: nn.Module) -> None:
    init_normal(config, module)
    residual_std = config.initializer_range / math.sqrt(2 * config.num_hidden_layers)
    if isinstance(module, Attention):
        init.normal_(module.o_proj.weight, mean=0.0, std=residual_std)
    elif isinstance(module, (MLP, GatedMLP)):
        init.normal_(module.down_proj.weight, mean=0.0, std=residual_std)
    elif isinstance(module, Experts):
        init.normal_(module.down_proj, mean=0.0, std=residual_std)


def init_fan_in(config, module: nn.Module) -> None:
    factor, d_model = config.initializer_factor, config.hidden_size
    if isinstance(module, nn.Linear):  # everything not redrawn below (e.g. an untied LM head): N(0, factor)
        _linear(module, factor)
    elif isinstance(module, nn.Embedding):
        _embedding(module, factor)
    elif isinstance(module, (RMSNorm, nn.LayerNorm)):
        init.constant_(module.weight, factor)
        if getattr(module, "bias", None) is not None:
            init.zeros_(module.bias)
    elif isinstance(module, Attention):
        stds = (factor * (d_model * module.head_dim) ** -0.5, factor * d_model**-0.5, factor * d_model**-0.5)
        if module.fused_qkv:
            _rows(module.qkv_proj, module.qkv_sizes, stds)
        else:
            for proj, std in zip((module.q_proj, module.k_proj, module.v_proj), stds):
                _linear(proj, std)
        _linear(module.o_proj, factor * (module.num_heads * module.head_dim) ** -0.5)
    elif isinstance(module, RelativePositionBias):
        init.normal_(module.relative_attention_bias.weight, mean=0.0, std=factor * d_model**-0.5)
    elif isinstance(module, (MLP, GatedMLP)):
        for proj in (getattr(module, "gate_proj", None), module.up_proj):
            if proj is not None:
                _linear(proj, factor * d_model**-0.5)
        _linear(module.down_proj, factor * config.intermediate_size**-0.5)
    elif isinstance(module, Experts):
        _experts(module, factor * d_model**-0.5, factor * d_model**-0.5)
    elif isinstance(module, SeparateExperts):  # redraws what the MLP branch drew for each expert, as native does
        for expert in module:
            for proj in (getattr(expert, "gate_proj", None), expert.up_proj, expert.down_proj):
                if proj is not None:
                    _linear(proj, factor * d_model**-0.5)
    elif isinstance(module, SparseMoE):
        _linear(module.gate, factor)
    elif isinstance(module, SequenceClassificationHead):
        for proj in (getattr(module, "dense", None), module.out_proj):
            if proj is not None:
                _linear(proj, factor * d_model**-0.5)
    elif isinstance(module, TokenClassificationHead):
        _linear(module.out_proj, factor)
    elif isinstance(getattr(module, "qa_outputs", None), nn.Linear):
        _linear(module.qa_outputs, factor * d_model**-0.5)


def _xavier(weight, fan_in: int, fan_out: int) -> None:
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    init.uniform_(weight, -bound, bound)


def _torch_default_bias(module: nn.Linear) -> None:
    if module.bias is not None:
        bound = 1.0 / math.sqrt(module.in_features)
        init.uniform_(module.bias, -bound, bound)


def init_xavier(config, module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        _xavier(module.weight, module.in_features, module.out_features)
        if module.bias is not None:
            init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        _embedding(module, config.hidden_size**-0.5)
    elif isinstance(module, (RMSNorm, nn.LayerNorm)):
        init.ones_(module.weight)
        if getattr(module, "bias", None) is not None:
            init.zeros_(module.bias)
    elif isinstance(module, Attention):  # nn.MultiheadAttention's fused [q; k; v] in-projection
        projections = (module.qkv_proj,) if module.fused_qkv else (module.q_proj, module.k_proj, module.v_proj)
        for proj in projections:
            _xavier(proj.weight, proj.in_features, sum(module.qkv_sizes))
    elif isinstance(module, (MLP, GatedMLP)):  # nn.Transformer leaves linear1/linear2 biases at torch's default
        for proj in (getattr(module, "gate_proj", None), module.up_proj, module.down_proj):
            if proj is not None:
                _torch_default_bias(proj)
    elif isinstance(module, Experts):
        out_first, inner = module.first_proj.shape[1], module.down_proj.shape[2]
        hidden = module.down_proj.shape[1]
        _xavier(module.first_proj, hidden, out_first)
        _xavier(module.down_proj, inner, hidden)
        for bias, fan_in in ((module.first_bias, hidden), (module.down_proj_bias, inner)):
            if bias is not None:
                init.uniform_(bias, -fan_in**-0.5, fan_in**-0.5)


SCHEMES = {
    "normal": init_normal,
    "scaled_residual": init_scaled_residual,
    "fan_in": init_fan_in,
    "xavier": init_xavier,
}


def init_module(config, module: nn.Module) -> None:
    """Apply `config.initializer_scheme` to one module (after transformers' generic init of that module)."""
    SCHEMES[config.initializer_scheme](config, module)
