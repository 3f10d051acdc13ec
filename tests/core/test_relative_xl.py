"""Transformer-XL (issue 15): relative_xl attention against a naive implementation of the paper's formula, segment
memory (no gradient, equal to one forward over the concatenation), generation, save/load and refusals."""

from __future__ import annotations

import math

import pytest
import torch

import hf_variants  # noqa: F401  (registers the variants)
from hf_variants.core.relative_xl import SegmentMemory
from hf_variants.families.decoder import DecoderConfig, DecoderForCausalLM
from hf_variants.families.encoder import EncoderConfig
from hf_variants.families.encoder_decoder import EncoderDecoderConfig

SIZES = dict(vocab_size=61, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
             hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=0)


def xl_config(**overrides) -> DecoderConfig:
    return DecoderConfig(**{**SIZES, "position_embedding_type": "relative_xl", **overrides})


def xl_model(seed: int = 0, **overrides) -> DecoderForCausalLM:
    torch.manual_seed(seed)
    model = DecoderForCausalLM(xl_config(**overrides)).eval()
    with torch.no_grad():  # u and v away from their tiny init, so a wrong u/v term shows
        for layer in model.model.decoder.layers:
            layer.self_attn.relative_xl.r_w_bias.normal_(0.0, 0.5)
            layer.self_attn.relative_xl.r_r_bias.normal_(0.0, 0.5)
    return model


def naive_xl_attention(attention, hidden: torch.Tensor, memory: torch.Tensor | None) -> torch.Tensor:
    """score(i, j) = q_i·k_j + q_i·W_R R_{i-j} + u·k_j + v·W_R R_{i-j}, one (i, j) at a time, scaled by
    1/sqrt(head_dim); query i sits at position m + i (m memory tokens), key j at j; keys after the query are masked.
    R_d = [sin(d f), cos(d f)], f_k = 10000^(-2k/d_model)."""
    heads, dim = attention.num_heads, attention.head_dim
    groups = attention.num_key_value_groups
    context = hidden if memory is None else torch.cat([memory, hidden], 1)
    batch, q_len, d_model = hidden.shape
    m, k_len = context.shape[1] - q_len, context.shape[1]
    q = attention.q_proj(hidden).view(batch, q_len, heads, dim)
    k = attention.k_proj(context).view(batch, k_len, -1, dim)
    v = attention.v_proj(context).view(batch, k_len, -1, dim)
    xl = attention.relative_xl
    u, v_bias, w_r = xl.r_w_bias, xl.r_r_bias, xl.r_net.weight
    freq = torch.tensor([10000 ** (-2 * i / d_model) for i in range(d_model // 2)])
    out = torch.zeros(batch, q_len, heads, dim)
    for b in range(batch):
        for h in range(heads):
            scores = torch.full((q_len, k_len), -math.inf)
            for i in range(q_len):
                for j in range(m + i + 1):
                    d = m + i - j
                    r = (w_r @ torch.cat([torch.sin(d * freq), torch.cos(d * freq)])).view(heads, dim)[h]
                    kj = k[b, j, h // groups]
                    score = q[b, i, h] @ kj + q[b, i, h] @ r + u[h] @ kj + v_bias[h] @ r
                    scores[i, j] = score / math.sqrt(dim)
            out[b, :, h] = torch.softmax(scores, -1) @ v[b, :, h // groups]
    return attention.o_proj(out.reshape(batch, q_len, heads * dim))


@pytest.mark.parametrize("with_memory", [False, True])
def test_attention_matches_naive_formula(with_memory):
    model = xl_model(num_key_value_heads=2, memory_length=6)  # GQA: 4 query heads on 2 key/value heads
    attention = model.model.decoder.layers[1].self_attn
    torch.manual_seed(1)
    hidden, memory = torch.randn(2, 5, 32), torch.randn(2, 6, 32)
    layers = [torch.zeros(2, 0, 32), memory] if with_memory else None
    segments = SegmentMemory(model.config, layers, 2)
    with torch.no_grad():
        ours, _ = attention(hidden, None, layer_idx=1, xl_memory=segments)
        reference = naive_xl_attention(attention, hidden, memory if with_memory else None)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)
    kept = torch.cat([memory, hidden], 1)[:, -6:] if with_memory else hidden
    torch.testing.assert_close(segments.new[1], kept, atol=0, rtol=0)  # the last memory_length attention inputs


def test_model_relative_xl_matches_naive_formula_through_the_mask_path():
    """Whole model (masks built by transformers' causal-mask builder, eager form) with one layer: equal to the naive
    attention inside the block written out by hand."""
    model = xl_model(num_hidden_layers=1)
    ids = torch.randint(1, 61, (2, 7))
    block = model.model.decoder.layers[0]
    with torch.no_grad():
        x = model.model.embeddings(ids)
        x = x + naive_xl_attention(block.self_attn, block.self_attn_norm(x), None)
        x = x + block.mlp(block.mlp_norm(x))
        reference = model.lm_head(model.model.decoder.final_norm(x))
        torch.testing.assert_close(model(ids).logits, reference, atol=1e-5, rtol=0)


def test_segments_with_memory_equal_one_forward_over_the_concatenation():
    """With memory_length covering every earlier token, segment-by-segment equals the concatenation restricted to
    each segment's positions (causal attention: earlier tokens never depend on later ones)."""
    model = xl_model(memory_length=8)
    ids = torch.randint(1, 61, (2, 12))
    with torch.no_grad():
        full = model(ids, use_cache=False).logits
        first = model(ids[:, :4])
        second = model(ids[:, 4:8], memory=first.memory)
        third = model(ids[:, 8:], memory=second.memory)
    assert [t.shape for t in second.memory] == [torch.Size([2, 8, 32])] * 2
    for got, positions in ((first, slice(0, 4)), (second, slice(4, 8)), (third, slice(8, 12))):
        torch.testing.assert_close(got.logits, full[:, positions], atol=1e-5, rtol=0)


def test_memory_keeps_the_last_memory_length_states():
    model = xl_model(memory_length=6)
    ids = torch.randint(1, 61, (1, 8))
    with torch.no_grad():
        once = model(ids).memory
        first = model(ids[:, :4]).memory
        twice = model(ids[:, 4:], memory=first).memory
    for a, b in zip(once, twice):
        assert a.shape == (1, 6, 32)
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_memory_carries_no_gradient():
    model = xl_model(memory_length=4).train()
    ids = torch.randint(1, 61, (2, 4))
    first = model(ids, labels=ids)
    assert all(not t.requires_grad and t.grad_fn is None for t in first.memory)
    leaves = [t.clone().requires_grad_(True) for t in first.memory]
    second = model(ids, labels=ids, memory=leaves)
    second.loss.backward()
    assert all(t.grad is None for t in leaves)
    assert model.model.decoder.layers[0].self_attn.relative_xl.r_r_bias.grad is not None


def test_cached_generation_equals_recomputation_and_memory_refuses_the_cache():
    model = xl_model(memory_length=4)
    prompt = torch.randint(1, 61, (2, 3))
    generated = model.generate(prompt, max_new_tokens=5, do_sample=False, pad_token_id=0)
    tokens = prompt
    with torch.no_grad():
        for _ in range(5):
            tokens = torch.cat([tokens, model(tokens, use_cache=False).logits[:, -1:].argmax(-1)], 1)
    assert torch.equal(generated, tokens)
    memory = model(prompt).memory
    with pytest.raises(ValueError, match="memory .* KV cache exclude each other"):
        model(prompt, memory=memory, use_cache=True)
    with pytest.raises(ValueError, match="memory .* KV cache exclude each other"):
        model.generate(prompt, memory=memory, max_new_tokens=2, pad_token_id=0)
    with pytest.raises(ValueError, match="static caches"):
        model.generate(prompt, max_new_tokens=2, pad_token_id=0, cache_implementation="static")


def test_sliding_window_cached_generation_equals_recomputation():
    """A sliding-window cache keeps only the window: the relative shift must still line queries up with keys."""
    model = xl_model(sliding_window=3)
    prompt = torch.randint(1, 61, (2, 5))
    generated = model.generate(prompt, max_new_tokens=6, do_sample=False, pad_token_id=0)
    tokens = prompt
    with torch.no_grad():
        for _ in range(6):
            tokens = torch.cat([tokens, model(tokens, use_cache=False).logits[:, -1:].argmax(-1)], 1)
    assert torch.equal(generated, tokens)


def test_every_backend_runs_the_relative_kernel():
    """sdpa cannot add a query-dependent term: the eager-style kernel serves it (documented fallback)."""
    eager = xl_model(seed=3)
    sdpa = xl_model(seed=3)
    sdpa.set_attn_implementation("sdpa")
    ids = torch.randint(1, 61, (2, 6))
    mask = torch.ones_like(ids)
    mask[1, :2] = 0
    with torch.no_grad():
        out = sdpa(ids, attention_mask=mask, output_attentions=True)
        torch.testing.assert_close(out.logits, eager(ids, attention_mask=mask).logits, atol=1e-6, rtol=0)
    assert out.attentions[0].shape == (2, 4, 6, 6)
    assert out.attentions[0][1, :, 2:, :2].abs().max() == 0  # real tokens do not attend left padding


def test_save_and_load_round_trip(tmp_path):
    model = xl_model(memory_length=4)
    model.save_pretrained(tmp_path)
    loaded = DecoderForCausalLM.from_pretrained(tmp_path).eval()
    assert loaded.config.position_embedding_type == "relative_xl" and loaded.config.memory_length == 4
    ids = torch.randint(1, 61, (1, 6))
    with torch.no_grad():
        ours, theirs = model(ids[:, :3]), loaded(ids[:, :3])
        torch.testing.assert_close(model(ids[:, 3:], memory=ours.memory).logits,
                                   loaded(ids[:, 3:], memory=theirs.memory).logits, atol=0, rtol=0)


@pytest.mark.parametrize(
    ("config_class", "overrides", "error", "match"),
    [
        (EncoderConfig, {"position_embedding_type": "relative_xl"}, ValueError, "decoder-only"),
        (EncoderDecoderConfig, {"position_embedding_type": "relative_xl"}, ValueError, "decoder-only"),
        (DecoderConfig, {"position_embedding_type": "rope", "memory_length": 4}, ValueError, "needs position_emb"),
        (DecoderConfig, {"position_embedding_type": "relative_xl", "memory_length": -1}, ValueError, ">= 0"),
        (DecoderConfig, {"position_embedding_type": "relative_xl", "memory_length": "4"}, TypeError, "integer"),
        (DecoderConfig, {"position_embedding_type": "relative_xl", "memory_length": 4, "sliding_window": 8},
         ValueError, "window would not hold"),
    ],
)
def test_config_refusals(config_class, overrides, error, match):
    with pytest.raises(error, match=match):
        config_class(**{**SIZES, **overrides})


def test_memory_argument_refusals():
    model = xl_model(memory_length=4)
    ids = torch.randint(1, 61, (2, 3))
    memory = model(ids).memory
    with pytest.raises(ValueError, match="list of 2 tensors"):
        model(ids, memory=memory[:1])
    with pytest.raises(ValueError, match="batch size 2"):
        model(ids[:1], memory=memory)
    with pytest.raises(ValueError, match="memory_length=0"):
        xl_model()(ids, memory=memory)
