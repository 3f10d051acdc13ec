"""Linear attention (`attention_type="linear"`, core/linear_attention.py): the papers' formulas written out naively,
the recurrent state used by cached generation, Performer's approximation of softmax, and the fields across families."""

import math

import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM, DynamicCache

from hf_variants.convert import to_native
from hf_variants.core.attention import Attention
from hf_variants.core.compat import output_cache
from hf_variants.core.linear_attention import FavorFeatures, LinearAttentionState, bidirectional_linear
from tests.variant_configs import tiny_config

LINEAR = dict(attention_type="linear", linear_feature_seed=0)


def _naive(phi, q, k, v, key_mask, causal):
    """out_i = Σ_j φ(q_i)·φ(k_j) v_j / Σ_j φ(q_i)·φ(k_j), over the real keys j (j <= i when causal); one query at
    a time, as the papers write it (Katharopoulos et al. eq. 4-6, Choromanski et al. eq. 5)."""
    batch, heads, length, _ = q.shape
    out = torch.zeros_like(v)
    for b in range(batch):
        phi_k = phi(k[b])  # [H, L, F]
        for i in range(length):
            keys = [j for j in range(length) if key_mask[b, j] and (j <= i or not causal)]
            if not keys:
                continue
            weights = (phi(q[b, :, i])[:, None] * phi_k[:, keys]).sum(-1)  # [H, keys]
            out[b, :, i] = (weights[..., None] * v[b, :, keys]).sum(1) / weights.sum(-1, keepdim=True)
    return out


def _module_and_inputs(feature_map, causal, length=70, seed=0):
    """An Attention module with random weights (GQA: 4 query heads, 2 key/value heads), hidden states and a key
    padding mask (left padding in row 0, right padding in row 1). `length` > the causal chunk, so chunks are crossed."""
    config = tiny_config("llama", linear_feature_map=feature_map, linear_num_features=16, **LINEAR)
    torch.manual_seed(seed)
    module = Attention(config, 0, is_causal=causal).eval()
    for parameter in module.parameters():
        torch.nn.init.normal_(parameter, std=0.3)
    hidden = torch.randn(2, length, config.hidden_size)
    key_mask = torch.ones(2, length, dtype=torch.bool)
    key_mask[0, :5] = False
    key_mask[1, -7:] = False
    return config, module, hidden, key_mask


def _projections(module, hidden):
    q = module._project(module.q_proj, hidden)
    k = module._project(module.k_proj, hidden).repeat_interleave(module.num_key_value_groups, dim=1)
    v = module._project(module.v_proj, hidden).repeat_interleave(module.num_key_value_groups, dim=1)
    return q, k, v


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("feature_map", ["elu", "favor"])
def test_linear_attention_equals_the_papers_formula(feature_map, causal):
    config, module, hidden, key_mask = _module_and_inputs(feature_map, causal)
    q, k, v = _projections(module, hidden)
    if feature_map == "elu":
        def phi(x):
            return torch.nn.functional.elu(x) + 1
    else:  # Performer's positive random features with the fixed (seeded) W, on q and k scaled by d^-1/4
        w, m, root = module.feature_map.projection, module.feature_map.num_features, config.head_dim ** -0.25

        def phi(x):
            x = x * root
            return torch.exp(x @ w.T - (x * x).sum(-1, keepdim=True) / 2) / math.sqrt(m)
    expected = _naive(phi, q, k, v, key_mask, causal)
    expected = module.o_proj(expected.transpose(1, 2).reshape(*hidden.shape[:-1], -1))
    output, weights = module(hidden, key_mask)
    assert weights is None
    real = key_mask if causal else torch.ones_like(key_mask)  # padded queries (causal, left padding) see no key
    torch.testing.assert_close(output[real], expected[real], rtol=0, atol=1e-5)


def test_favor_features_are_orthogonal_blocks_with_gaussian_row_norms():
    config = tiny_config("llama", linear_feature_map="favor", linear_num_features=20, **LINEAR)
    w = FavorFeatures(config, 0).projection
    assert w.shape == (20, config.head_dim)
    directions = w / w.norm(dim=1, keepdim=True)
    block = directions[: config.head_dim]
    torch.testing.assert_close(block @ block.T, torch.eye(config.head_dim), rtol=0, atol=1e-5)
    assert not torch.allclose(w.norm(dim=1), w.norm(dim=1)[:1].expand(20))  # chi-distributed norms, not all equal


def test_performer_error_to_softmax_falls_with_the_number_of_features():
    """Mean |FAVOR+ - softmax attention| over seeded random inputs and draws, for m = 8, 64, 512 features."""
    torch.manual_seed(0)
    dim, length = 16, 32
    q, k, v = (torch.randn(4, 2, length, dim) * 0.5 for _ in range(3))
    exact = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dim), dim=-1) @ v
    errors = []
    for m in (8, 64, 512):
        config = tiny_config("llama", linear_feature_map="favor", linear_num_features=m, head_dim=dim,
                             attention_type="linear")
        draws = []
        for seed in range(5):
            config.linear_feature_seed = seed
            features = FavorFeatures(config, 0)
            root = dim ** -0.25
            approx = bidirectional_linear(features(q * root, True), features(k * root, False), v)
            draws.append((approx - exact).abs().mean())
        errors.append(torch.stack(draws).mean().item())
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[2] < 0.5 * errors[0], errors


def _step_by_step(model, ids, prefix, **kwargs):
    """Logits of a prefill of `prefix` tokens then one cached token at a time, and the cache's state sizes."""
    out = model(ids[:, :prefix], use_cache=True, **kwargs)
    cache, logits, sizes = output_cache(out), [out.logits], []
    for t in range(prefix, ids.shape[1]):
        out = model(ids[:, t:t + 1], cache=cache, use_cache=True, **kwargs)
        logits.append(out.logits)
        layers = getattr(cache, "self_attention_cache", cache).layers
        sizes.append([(layer.keys.numel(), layer.values.numel()) for layer in layers])
    return torch.cat(logits, dim=1), cache, sizes


@pytest.mark.parametrize("feature_map", ["elu", "favor"])
def test_causal_cached_steps_equal_the_full_form_with_a_constant_size_state(feature_map):
    config = tiny_config("llama", linear_feature_map=feature_map, max_position_embeddings=128, **LINEAR)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    ids = torch.randint(3, config.vocab_size, (2, 75))  # prefill 66 tokens (two chunks), then 9 steps
    full = model(ids).logits
    stepped, cache, sizes = _step_by_step(model, ids, 66)
    torch.testing.assert_close(stepped, full, rtol=0, atol=1e-5)
    assert all(isinstance(layer, LinearAttentionState) for layer in cache.layers)
    assert cache.get_seq_length() == 75
    assert all(size == sizes[0] for size in sizes)  # the state does not grow with the tokens seen


def test_beam_reorder_moves_the_state_with_its_sequence():
    config = tiny_config("llama", **LINEAR)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    ids = torch.randint(3, config.vocab_size, (2, 8))
    cache = output_cache(model(ids[:, :7], use_cache=True))
    cache.reorder_cache(torch.tensor([1, 1]))  # both beams continue sequence 1
    step = model(ids[[1, 1], 7:], cache=cache, use_cache=True).logits[:, -1]
    torch.testing.assert_close(step, model(ids[[1, 1]]).logits[:, -1], rtol=0, atol=1e-5)


def test_decoder_generate_left_padded_cached_beam_and_greedy():
    config = tiny_config("llama", linear_feature_map="favor", **LINEAR)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    prompt = torch.randint(3, config.vocab_size, (1, 6))
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), prompt], dim=1)
    batch = torch.cat([padded, torch.randint(3, config.vocab_size, (1, 9))])
    mask = torch.ones_like(batch)
    mask[0, :3] = 0
    settings = dict(max_new_tokens=6, do_sample=False, pad_token_id=0, eos_token_id=None)
    alone = model.generate(prompt, **settings)[0, 6:]
    for beams in (1, 2):
        cached = model.generate(batch, attention_mask=mask, num_beams=beams, **settings)
        uncached = model.generate(batch, attention_mask=mask, num_beams=beams, use_cache=False, **settings)
        assert torch.equal(cached, uncached)
    greedy = model.generate(batch, attention_mask=mask, **settings)
    assert torch.equal(greedy[0, 9:], alone)  # left padding changes nothing for the padded row
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    padded_logits = model(batch, attention_mask=mask, position_ids=positions).logits[0, 3:]
    torch.testing.assert_close(padded_logits, model(prompt).logits[0], rtol=0, atol=1e-5)


def test_encoder_padding_contributes_nothing():
    config = tiny_config("bert", **LINEAR)
    torch.manual_seed(0)
    model = AutoModelForMaskedLM.from_config(config).eval()
    ids = torch.randint(3, config.vocab_size, (1, 7))
    padded = torch.cat([ids, torch.zeros(1, 4, dtype=torch.long)], dim=1)
    mask = torch.cat([torch.ones(1, 7), torch.zeros(1, 4)], dim=1).long()
    alone = model(ids).logits
    torch.testing.assert_close(model(padded, attention_mask=mask).logits[:, :7], alone, rtol=0, atol=1e-5)


def test_encoder_decoder_self_attention_linear_cross_softmax():
    config = tiny_config("bart", linear_feature_map="elu", **LINEAR)
    torch.manual_seed(0)
    model = AutoModelForSeq2SeqLM.from_config(config).eval()
    layer = model.model.decoder.layers[0]
    assert layer.self_attn.feature_map is not None and layer.cross_attn.feature_map is None
    source = torch.randint(3, config.vocab_size, (2, 9))
    source_mask = torch.ones_like(source)
    source_mask[1, -3:] = 0
    target = torch.randint(3, config.vocab_size, (2, 8))
    full = model(source, attention_mask=source_mask, decoder_input_ids=target).logits
    encoder = model.get_encoder()(source, attention_mask=source_mask)
    out = model(encoder_outputs=encoder, attention_mask=source_mask, decoder_input_ids=target[:, :3], use_cache=True)
    cache, logits = output_cache(out), [out.logits]
    for t in range(3, 8):
        out = model(encoder_outputs=encoder, attention_mask=source_mask, decoder_input_ids=target[:, t:t + 1],
                    cache=cache, use_cache=True)
        logits.append(out.logits)
    torch.testing.assert_close(torch.cat(logits, dim=1), full, rtol=0, atol=1e-5)
    settings = dict(max_new_tokens=5, do_sample=False, num_beams=2)
    assert torch.equal(model.generate(source, attention_mask=source_mask, **settings),
                       model.generate(source, attention_mask=source_mask, use_cache=False, **settings))


def test_save_load_round_trip_restores_features_and_outputs(tmp_path):
    config = tiny_config("gpt2", attention_type="linear", linear_feature_map="favor")  # unseeded: global RNG
    model = AutoModelForCausalLM.from_config(config).eval()
    assert any(key.endswith("feature_map.projection") for key in model.state_dict())
    ids = torch.randint(3, config.vocab_size, (2, 10))
    model.save_pretrained(tmp_path)
    torch.manual_seed(123)  # a reload must not redraw
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert loaded.config.attention_type == "linear" and loaded.config.linear_feature_map == "favor"
    assert torch.equal(loaded(ids).logits, model(ids).logits)


def test_features_redraw_on_schedule_in_training_only_and_seeded_draws_repeat():
    config = tiny_config("bert", linear_feature_map="favor", linear_redraw_interval=2, **LINEAR)
    model, twin = AutoModel.from_config(config), AutoModel.from_config(config)
    features = model.encoder.layers[0].self_attn.feature_map
    start = features.projection.clone()
    assert torch.equal(start, twin.encoder.layers[0].self_attn.feature_map.projection)  # seeded: same draw
    ids = torch.randint(3, config.vocab_size, (1, 5))
    model.eval()
    for _ in range(3):
        model(ids)
    assert torch.equal(features.projection, start)  # eval never redraws
    model.train()
    model(ids)
    assert torch.equal(features.projection, start)
    model(ids)  # second training forward: redraw
    assert not torch.equal(features.projection, start)
    twin.train()
    twin(ids), twin(ids)
    assert torch.equal(features.projection, twin.encoder.layers[0].self_attn.feature_map.projection)


@pytest.mark.parametrize("overrides, message", [
    (dict(attention_type="kernel"), "attention_type='kernel'"),
    (dict(attention_type="linear", linear_feature_map="relu"), "linear_feature_map='relu'"),
    (dict(attention_type="linear", linear_num_features=0), "linear_num_features=0"),
    (dict(attention_type="linear", linear_redraw_interval=-1), "linear_redraw_interval=-1"),
    (dict(attention_type="linear", position_embedding_type="alibi"), "position_embedding_type='alibi'"),
    (dict(attention_type="linear", position_embedding_type="relative_bias"), "position_embedding_type='relative_b"),
    (dict(attention_type="linear", sliding_window=4), "sliding_window=4"),
    (dict(attention_type="linear", output_attentions=True), "output_attentions"),
])
def test_config_refuses_what_linear_attention_cannot_do(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        tiny_config("llama", **overrides)


def test_type_errors_name_the_field():
    with pytest.raises(TypeError, match="linear_num_features"):
        tiny_config("llama", attention_type="linear", linear_num_features="many")
    with pytest.raises(TypeError, match="attention_type"):
        tiny_config("llama", attention_type=1)


@pytest.mark.parametrize("feature_map", ["elu", "favor"])
def test_no_native_model_expresses_linear_attention(feature_map):
    model = AutoModelForCausalLM.from_config(tiny_config("llama", attention_type="linear",
                                                         linear_feature_map=feature_map))
    with pytest.raises(ValueError, match="attention_type='linear' \\(native llama needs 'softmax'\\)"):
        to_native(model)


def test_call_time_refusals():
    config = tiny_config("llama", **LINEAR)
    model = AutoModelForCausalLM.from_config(config).eval()
    ids = torch.randint(3, config.vocab_size, (1, 5))
    with pytest.raises(ValueError, match="output_attentions"):
        model(ids, output_attentions=True)
    with pytest.raises(ValueError, match="2-D padding mask"):
        model(ids, attention_mask=torch.ones(1, 1, 5, 5))
    cache = DynamicCache()
    model(ids, cache=cache, use_cache=True)
    with pytest.raises(ValueError, match="cannot be cropped"):
        cache.crop(-1)
    with pytest.raises(ValueError, match="StaticCache"):
        model.generate(ids, max_new_tokens=2, cache_implementation="static")
