"""Fused query/key/value projections (`qkv_layout="fused"`) in state dicts.

The key maps and the native models we convert to name three self-attention projections (native GPT-2's fused
`c_attn` is split into them by its own map), so a fused model's `self_attn.qkv_proj` is split into
`q_proj`/`k_proj`/`v_proj` before renaming to native, and fused again after renaming from native.
"""

from __future__ import annotations

import re

import torch

from ..core.attention import qkv_sizes

_FUSED = re.compile(r"^(?P<attn>(?:.*\.)?self_attn\.)qkv_proj\.(?P<kind>weight|bias)$")
_SEPARATE = re.compile(r"^(?P<attn>(?:.*\.)?self_attn\.)(?P<part>[qkv])_proj\.(?P<kind>weight|bias)$")


def split_qkv(state: dict[str, torch.Tensor], config) -> dict[str, torch.Tensor]:
    """`self_attn.qkv_proj.*` -> `self_attn.{q,k,v}_proj.*` (other keys unchanged)."""
    out, sizes = {}, qkv_sizes(config)
    for key, value in state.items():
        fused = _FUSED.match(key)
        if fused is None:
            out[key] = value
            continue
        for part, rows in zip("qkv", value.split(sizes)):
            out[f"{fused['attn']}{part}_proj.{fused['kind']}"] = rows.contiguous()
    return out


def fuse_qkv(state: dict[str, torch.Tensor], config) -> dict[str, torch.Tensor]:
    """The inverse of `split_qkv`: self-attention's q/k/v projections -> `self_attn.qkv_proj` (cross-attention keeps
    its separate projections)."""
    out, pieces = {}, {}
    for key, value in state.items():
        separate = _SEPARATE.match(key)
        if separate is None:
            out[key] = value
        else:
            pieces.setdefault((separate["attn"], separate["kind"]), {})[separate["part"]] = value
    for (attn, kind), parts in pieces.items():
        if set(parts) != set("qkv"):
            raise ValueError(f"{attn}{kind}: a fused projection needs q, k and v; found only {sorted(parts)}")
        out[f"{attn}qkv_proj.{kind}"] = torch.cat([parts[p] for p in "qkv"])
    return out
