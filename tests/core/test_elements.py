"""Each core element checked on its own against its defining equation or a transformers reference."""

import math

import pytest
import torch
from transformers.models.t5.modeling_t5 import T5Attention

from hf_variants.core.attention import Attention
from hf_variants.core.feedforward import GatedMLP
from hf_variants.core.norms import RMSNorm
from hf_variants.core.positions import (
    RotaryEmbedding,
    alibi_slopes,
    apply_rotary,
    relative_position_bucket,
    sinusoidal_table,
)
from tests.variant_configs import tiny_config


def test_sinusoidal_table_follows_the_paper():
    table = sinusoidal_table(10, 6)
    for pos in range(10):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_alibi_slopes():
    assert torch.allclose(alibi_slopes(8), torch.tensor([2.0 ** -(i + 1) for i in range(8)]))
    six = alibi_slopes(6)  # 4 geometric slopes of base 2^-2, then odd powers of 2^-1
    assert torch.allclose(six, torch.tensor([2 ** -2, 2 ** -4, 2 ** -6, 2 ** -8, 2 ** -1, 2 ** -3]))


@pytest.mark.parametrize("bidirectional", [True, False])
def test_relative_buckets_match_t5(bidirectional):
    relative = torch.arange(-200, 200)[None, :]
    expected = T5Attention._relative_position_bucket(relative, bidirectional=bidirectional, num_buckets=32,
                                                     max_distance=128)
    assert torch.equal(relative_position_bucket(relative, bidirectional, 32, 128), expected)


def test_rope_rotates_pairs_by_position_angle():
    config = tiny_config("bert", position_embedding_type="rope")
    rotary = RotaryEmbedding(config)
    dim = config.resolved_head_dim
    x = torch.randn(1, 1, 5, dim)
    cos, sin = rotary(x, torch.arange(5)[None])
    rotated, _ = apply_rotary(x, x, cos, sin)
    half = dim // 2
    as_complex = torch.complex(x[..., :half], x[..., half:])
    freqs = 1.0 / 10000 ** (torch.arange(0, dim, 2).float() / dim)
    angles = torch.arange(5)[:, None].float() * freqs[None]
    expected = as_complex * torch.polar(torch.ones_like(angles), angles)
    assert torch.allclose(rotated, torch.cat([expected.real, expected.imag], dim=-1), atol=1e-5)
    # relative property: <R(m)q, R(n)k> depends only on m - n
    q, k = torch.randn(1, 1, 1, dim), torch.randn(1, 1, 1, dim)
    cos, sin = rotary(x, torch.tensor([[3, 1, 7, 5]]))
    rq, _ = apply_rotary(q.expand(1, 1, 4, dim), q.expand(1, 1, 4, dim), cos, sin)
    _, rk = apply_rotary(k.expand(1, 1, 4, dim), k.expand(1, 1, 4, dim), cos, sin)
    assert torch.allclose((rq[..., 0, :] * rk[..., 1, :]).sum(), (rq[..., 2, :] * rk[..., 3, :]).sum(), atol=1e-5)


def test_rmsnorm_equation():
    norm = RMSNorm(8, eps=1e-6)
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 2, 8))
    x = torch.randn(3, 8)
    expected = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * norm.weight
    assert torch.allclose(norm(x), expected, atol=1e-6)


def test_gated_mlp_equation():
    config = tiny_config("bert", ffn_type="glu", hidden_act="silu")
    glu = GatedMLP(config)
    x = torch.randn(2, 3, config.hidden_size)
    expected = glu.down_proj(torch.nn.functional.silu(glu.gate_proj(x)) * glu.up_proj(x))
    assert torch.allclose(glu(x), expected)


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
def test_grouped_query_attention_equals_mha_with_repeated_heads(kv_heads):
    torch.manual_seed(0)
    gqa_config = tiny_config("bert", num_key_value_heads=kv_heads)
    gqa_config._attn_implementation = "eager"
    mha_config = tiny_config("bert")
    mha_config._attn_implementation = "sdpa"
    gqa, mha = Attention(gqa_config, 0, is_causal=False), Attention(mha_config, 0, is_causal=False)
    assert gqa.k_proj.out_features == kv_heads * gqa.head_dim
    repeat = 4 // kv_heads
    with torch.no_grad():
        mha.q_proj.load_state_dict(gqa.q_proj.state_dict())
        mha.o_proj.load_state_dict(gqa.o_proj.state_dict())
        for name in ("k_proj", "v_proj"):
            src, dst = getattr(gqa, name), getattr(mha, name)
            dst.weight.copy_(src.weight.view(kv_heads, -1, 32).repeat_interleave(repeat, 0).reshape(-1, 32))
            dst.bias.copy_(src.bias.view(kv_heads, -1).repeat_interleave(repeat, 0).reshape(-1))
    x = torch.randn(2, 5, 32)
    assert torch.allclose(gqa(x)[0], mha(x)[0], atol=1e-5)


def test_cross_attention_ignores_masked_memory():
    config = tiny_config("bert")
    config._attn_implementation = "eager"
    attention = Attention(config, 0, is_causal=False, is_cross_attention=True)
    x, memory = torch.randn(1, 3, 32), torch.randn(1, 6, 32)
    mask = torch.zeros(1, 1, 3, 6)
    mask[..., 4:] = torch.finfo(torch.float32).min
    changed = memory.clone()
    changed[:, 4:] = torch.randn(1, 2, 32)
    out_a, _ = attention(x, mask, key_value_states=memory)
    out_b, _ = attention(x, mask, key_value_states=changed)
    assert torch.allclose(out_a, out_b, atol=1e-6)


def test_albert_sharing_keeps_parameters_constant_in_depth():
    from transformers import AutoModel

    shallow = AutoModel.from_config(tiny_config("albert", num_hidden_layers=2))
    deep = AutoModel.from_config(tiny_config("albert", num_hidden_layers=12))
    assert sum(p.numel() for p in shallow.parameters()) == sum(p.numel() for p in deep.parameters())
    assert len(deep.encoder.layers) == 1


def test_pre_and_post_norm_placement_differ_as_defined():
    from hf_variants.core.block import TransformerBlock

    torch.manual_seed(0)
    x = torch.randn(1, 4, 32)
    for placement in ("pre", "post"):
        config = tiny_config("bert", norm_position=placement)
        config._attn_implementation = "eager"
        block = TransformerBlock(config, 0, is_causal=False).eval()
        attn = block.self_attn(block.self_attn_norm(x) if placement == "pre" else x)[0]
        h = x + attn if placement == "pre" else block.self_attn_norm(x + attn)
        mlp = block.mlp(block.mlp_norm(h) if placement == "pre" else h)
        expected = h + mlp if placement == "pre" else block.mlp_norm(h + mlp)
        assert torch.allclose(block(x)[0], expected, atol=1e-6)


@pytest.mark.parametrize("ffn_type", ["mlp", "glu"])
def test_activation_dropout_sits_inside_the_feedforward(ffn_type):
    from hf_variants.core.feedforward import build_feedforward

    torch.manual_seed(0)
    ffn = build_feedforward(tiny_config("t5", ffn_type=ffn_type, activation_dropout=0.5))
    x = torch.randn(2, 5, 32)
    assert not torch.equal(ffn.train()(x), ffn(x))  # dropout active in training
    assert torch.equal(ffn.eval()(x), ffn(x))
    inner = ffn.act_fn(ffn.gate_proj(x)) * ffn.up_proj(x) if ffn_type == "glu" else ffn.act_fn(ffn.up_proj(x))
    assert torch.allclose(ffn(x), ffn.down_proj(inner), atol=1e-6)
