"""Attention kinds of issue 15: the score functions (`attention_score`) and Linformer (`attention_type`).

Each kind is checked against a direct implementation of its formula written here, then composed with the families:
encoders train and round-trip, decoders' cached generation equals uncached, encoder-decoders generate.
"""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM

from hf_variants.convert import to_native
from hf_variants.core.attention import Attention
from tests.variant_configs import tiny_config

SCORES = ["scaled_dot", "dot", "general", "additive"]
ATOL = 1e-5


def heads(states, proj, num_heads, head_dim):
    """[batch, seq, hidden] -> per-head projections [batch, heads, seq, head_dim]."""
    return proj(states).view(states.shape[0], states.shape[1], num_heads, head_dim).transpose(1, 2)


def naive_scores(kind, attn, q, k):
    """score(q_i, k_j) for every head, pair by pair from the papers' formulas; q [b, h, n, d], k [b, h, m, d]."""
    d = attn.head_dim
    scores = torch.empty(q.shape[0], q.shape[1], q.shape[2], k.shape[2])
    for h in range(q.shape[1]):
        for i in range(q.shape[2]):
            for j in range(k.shape[2]):
                qi, kj = q[:, h, i], k[:, h, j]
                if kind == "scaled_dot":
                    s = (qi * kj).sum(-1) / d**0.5
                elif kind == "dot":  # Luong
                    s = (qi * kj).sum(-1)
                elif kind == "general":  # Luong: q . W_a k
                    w_a = attn.score.bilinear.weight.view(-1, d, d)[h]
                    s = (qi * (kj @ w_a.T)).sum(-1)
                else:  # Bahdanau: v_a . tanh(W_a q + U_a k)
                    w_a = attn.score.query_proj.weight.view(-1, d, d)[h]
                    u_a = attn.score.key_proj.weight.view(-1, d, d)[h]
                    s = torch.tanh(qi @ w_a.T + kj @ u_a.T) @ attn.score.v.weight[h]
                scores[:, h, i, j] = s
    return scores


def naive_attention(kind, attn, x, keep, source=None):
    """The whole layer: projections, scores, masked softmax (-inf), weighted values, output projection."""
    source = x if source is None else source
    num_heads, d = attn.num_heads, attn.head_dim
    q = heads(x, attn.q_proj, num_heads, d)
    k = heads(source, attn.k_proj, attn.num_key_value_heads, d).repeat_interleave(attn.num_key_value_groups, 1)
    v = heads(source, attn.v_proj, attn.num_key_value_heads, d).repeat_interleave(attn.num_key_value_groups, 1)
    weights = naive_scores(kind, attn, q, k).masked_fill(~keep, float("-inf")).softmax(-1)
    return attn.o_proj((weights @ v).transpose(1, 2).reshape(x.shape[0], x.shape[1], -1))


def keep_mask(padding, query_length, causal):
    """[batch, 1, q, k] boolean mask (True = attend): the key padding, and j <= i when causal."""
    keep = padding.bool()[:, None, None, :].expand(-1, 1, query_length, -1)
    if causal:
        keep = keep & torch.ones(query_length, padding.shape[1], dtype=torch.bool).tril()
    return keep


def run(attn, x, keep, backend, **kwargs):
    mask = keep if backend == "sdpa" else torch.zeros(keep.shape).masked_fill(~keep, torch.finfo(torch.float32).min)
    return attn(x, mask, attn_implementation=backend, **kwargs)[0]


@pytest.mark.parametrize("backend", ["eager", "sdpa"])
@pytest.mark.parametrize("kind", SCORES)
def test_score_equals_its_formula_with_padding_and_causal_masks(kind, backend):
    torch.manual_seed(0)
    config = tiny_config("llama", attention_score=kind, num_attention_heads=4, num_key_value_heads=2)
    x = torch.randn(2, 5, config.hidden_size)
    padding = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])  # right padding: no query sees only padding
    for causal in (False, True):
        attn = Attention(config, 0, is_causal=causal).eval()
        keep = keep_mask(padding, 5, causal)
        with torch.no_grad():
            diff = (run(attn, x, keep, backend) - naive_attention(kind, attn, x, keep)).abs().max()
        assert diff <= ATOL, (kind, backend, causal, diff)


@pytest.mark.parametrize("kind", ["general", "additive"])
def test_cross_attention_score_equals_its_formula(kind):
    """Bahdanau and Luong scored decoder states against encoder states: cross-attention, padded source."""
    torch.manual_seed(1)
    config = tiny_config("t5", attention_score=kind)
    attn = Attention(config, 0, is_causal=False, is_cross_attention=True).eval()
    x, source = torch.randn(2, 3, config.hidden_size), torch.randn(2, 6, config.hidden_size)
    keep = keep_mask(torch.tensor([[1] * 6, [1] * 4 + [0] * 2]), 3, causal=False)
    with torch.no_grad():
        ours = run(attn, x, keep, "eager", key_value_states=source)
        assert (ours - naive_attention(kind, attn, x, keep, source)).abs().max() <= ATOL


def test_dot_and_general_scale_by_attention_scale_when_set():
    torch.manual_seed(2)
    for kind in ("dot", "general"):
        unscaled = Attention(tiny_config("bert", attention_score=kind), 0, is_causal=False).eval()
        scaled = Attention(tiny_config("bert", attention_score=kind, attention_scale=0.5), 0, is_causal=False).eval()
        scaled.load_state_dict(unscaled.state_dict())
        x, keep = torch.randn(1, 4, 32), torch.ones(1, 1, 4, 4, dtype=torch.bool)
        with torch.no_grad():  # halving the scores = halving the query (both kinds are linear in it)
            q_proj = scaled.q_proj
            q_proj.weight.mul_(2), q_proj.bias.mul_(2)
            assert (run(scaled, x, keep, "eager") - run(unscaled, x, keep, "eager")).abs().max() <= ATOL
    assert unscaled.scaling == 1.0 and Attention(tiny_config("bert"), 0, is_causal=False).scaling == 8**-0.5


def naive_linformer(attn, x, padding):
    """Wang et al. 2020: softmax(Q (E X W_K)^T / sqrt(d)) (F X W_V), E and F cut to the sequence length."""
    n, d = x.shape[1], attn.head_dim
    real = x * padding[..., None]  # padded tokens contribute nothing to the keys and values
    e, f = attn.linformer.key_compress.weight[:, :n], attn.linformer.value_compress.weight[:, :n]
    q = heads(x, attn.q_proj, attn.num_heads, d)
    k = heads(e @ real, attn.k_proj, attn.num_heads, d)
    v = heads(f @ real, attn.v_proj, attn.num_heads, d)
    out = torch.softmax(q @ k.transpose(-1, -2) / d**0.5, -1) @ v
    return attn.o_proj(out.transpose(1, 2).reshape(x.shape[0], n, -1))


@pytest.mark.parametrize("backend", ["eager", "sdpa"])
def test_linformer_equals_its_formula(backend):
    torch.manual_seed(3)
    config = tiny_config("bert", attention_type="linformer", linformer_k=3, max_position_embeddings=8)
    attn = Attention(config, 0, is_causal=False).eval()
    x, padding = torch.randn(2, 6, 32), torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    with torch.no_grad():
        ours = attn(x, padding.bool(), attn_implementation=backend)[0]
        assert (ours - naive_linformer(attn, x, padding)).abs().max() <= ATOL


def masked_lm(name="bert", **overrides):
    torch.manual_seed(0)
    return AutoModelForMaskedLM.from_config(tiny_config(name, **overrides)).eval()


def test_linformer_padding_does_not_leak():
    """Right padding: the padded row's real tokens equal the same tokens run alone, whatever the padding holds."""
    model = masked_lm(attention_type="linformer", linformer_k=4, max_position_embeddings=16)
    ids = torch.randint(4, 99, (2, 7))
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3])
    with torch.no_grad():
        padded = model(input_ids=ids, attention_mask=mask).logits
        alone = model(input_ids=ids[1:, :4]).logits
        ids[1, 4:] = 7  # other padding content
        again = model(input_ids=ids, attention_mask=mask).logits
    assert (padded[1, :4] - alone[0]).abs().max() <= ATOL
    assert torch.equal(padded[1, :4], again[1, :4])


@pytest.mark.parametrize("kind", ["dot", "general", "additive"])
def test_eager_equals_sdpa_on_models(kind):
    """dot/general run on sdpa itself; additive falls back to its eager kernel (masks built in eager form)."""
    ids = torch.randint(4, 99, (2, 6))
    mask = torch.tensor([[1] * 6, [0] * 2 + [1] * 4])
    for make in (lambda **kw: masked_lm(**kw), lambda **kw: causal_lm("llama", **kw)):
        model = make(attention_score=kind)
        logits = {}
        for backend in ("eager", "sdpa"):
            model.set_attn_implementation(backend)
            with torch.no_grad():
                logits[backend] = model(input_ids=ids, attention_mask=mask).logits
        keep = mask.bool()
        assert (logits["eager"] - logits["sdpa"])[keep].abs().max() <= ATOL


def causal_lm(name, **overrides):
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(tiny_config(name, **overrides)).eval()


@pytest.mark.parametrize("name", ["llama", "gpt2"])
@pytest.mark.parametrize("kind", ["dot", "general", "additive"])
def test_decoder_cached_generation_equals_full_forward(name, kind):
    """Left-padded batch, sdpa configured: cached (dynamic and static) and uncached generation give the same logits,
    and the causal mask holds (later tokens do not change earlier logits)."""
    model = causal_lm(name, attention_score=kind)
    model.set_attn_implementation("sdpa")
    ids = torch.randint(3, 99, (2, 5))
    mask = torch.tensor([[1] * 5, [0, 0, 1, 1, 1]])
    ids[mask == 0] = 0
    runs = [model.generate(ids, attention_mask=mask, max_new_tokens=4, min_new_tokens=4, do_sample=False,
                           pad_token_id=0, return_dict_in_generate=True, output_logits=True, **kwargs)
            for kwargs in ({}, {"use_cache": False}, {"cache_implementation": "static"})]
    for other in runs[1:]:
        assert torch.equal(runs[0].sequences, other.sequences)
        assert max((a - b).abs().max() for a, b in zip(runs[0].logits, other.logits, strict=True)) <= ATOL
    with torch.no_grad():
        full = model(input_ids=ids[:1]).logits
        changed = model(input_ids=torch.cat([ids[:1, :3], (ids[:1, 3:] + 1) % 99], 1)).logits
    assert (full[:, :3] - changed[:, :3]).abs().max() <= ATOL and (full[:, 3:] - changed[:, 3:]).abs().max() > 0


@pytest.mark.parametrize("name", ["t5", "bart"])
@pytest.mark.parametrize("kind", ["general", "additive"])
def test_encoder_decoder_scores_train_and_generate(name, kind):
    torch.manual_seed(0)
    model = AutoModelForSeq2SeqLM.from_config(tiny_config(name, attention_score=kind))
    ids = torch.randint(4, 99, (2, 6))
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    loss = model(input_ids=ids, attention_mask=mask, labels=ids).loss
    loss.backward()
    assert torch.isfinite(loss) and model.get_input_embeddings().weight.grad.abs().sum() > 0
    model.eval()
    runs = [model.generate(ids, attention_mask=mask, max_new_tokens=4, min_new_tokens=4, do_sample=False,
                           return_dict_in_generate=True, output_logits=True, **kwargs)
            for kwargs in ({}, {"use_cache": False})]
    assert torch.equal(runs[0].sequences, runs[1].sequences)
    assert max((a - b).abs().max() for a, b in zip(runs[0].logits, runs[1].logits, strict=True)) <= ATOL


@pytest.mark.parametrize("overrides", [
    {"attention_score": "general"}, {"attention_score": "additive", "num_hidden_groups": 1},
    {"attention_type": "linformer", "linformer_k": 5, "position_embedding_type": "sinusoidal"},
    {"attention_type": "linformer", "linformer_k": 3, "attention_score": "additive"},
])
@pytest.mark.parametrize("name", ["bert", "albert"])
def test_encoder_kinds_train_and_round_trip(name, overrides, tmp_path):
    model = masked_lm(name, **overrides).train()
    ids, mask = torch.randint(4, 99, (2, 6)), torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    out = model(input_ids=ids, attention_mask=mask, labels=ids)
    out.loss.backward()
    kind_params = [p for n, p in model.named_parameters() if ".score." in n or ".linformer." in n]
    assert kind_params and all(p.grad is not None and p.grad.abs().sum() > 0 for p in kind_params)
    model.eval().save_pretrained(tmp_path)
    loaded = AutoModelForMaskedLM.from_pretrained(tmp_path).eval()
    for field in ("attention_score", "attention_type", "linformer_k"):
        assert getattr(loaded.config, field) == getattr(model.config, field)
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids, attention_mask=mask).logits,
                           loaded(input_ids=ids, attention_mask=mask).logits)


@pytest.mark.parametrize(("overrides", "error", "match"), [
    ({"attention_score": 3}, TypeError, "attention_score=3 must be a string"),
    ({"attention_score": "cosine"}, ValueError, "attention_score='cosine' is not supported"),
    ({"attention_type": "performer"}, ValueError, "attention_type='performer' is not supported"),
    ({"linformer_k": 4}, ValueError, "linformer_k=4 only applies to attention_type='linformer'"),
    ({"linformer_k": 4.0}, TypeError, "linformer_k=4.0 must be an integer"),
    ({"attention_type": "linformer"}, ValueError, "needs linformer_k"),
    ({"attention_type": "linformer", "linformer_k": 65}, ValueError, r"linformer_k.*max_position_embeddings=64"),
    ({"attention_type": "linformer", "linformer_k": 4, "position_embedding_type": "alibi"}, ValueError,
     "position_embedding_type='alibi'"),
])
def test_bad_fields_are_refused_naming_them(overrides, error, match):
    with pytest.raises(error, match=match):
        tiny_config("bert", **overrides)


@pytest.mark.parametrize(("name", "family"), [("llama", "a decoder"), ("t5", "an encoder-decoder")])
def test_linformer_is_refused_where_attention_is_causal(name, family):
    with pytest.raises(ValueError, match=f"attention_type='linformer' is bidirectional only, and this is {family}"):
        tiny_config(name, attention_type="linformer", linformer_k=4, position_embedding_type="learned")


def test_linformer_refuses_longer_sequences_and_4d_masks():
    model = masked_lm(attention_type="linformer", linformer_k=4, max_position_embeddings=8,
                      position_embedding_type="none")
    with pytest.raises(ValueError, match="at most max_position_embeddings=8 tokens"):
        model(input_ids=torch.randint(4, 99, (1, 9)))
    with pytest.raises(ValueError, match=r"takes a \[batch, seq\]"):
        model(input_ids=torch.randint(4, 99, (1, 4)), attention_mask=torch.ones(1, 1, 4, 4))


@pytest.mark.parametrize("overrides", [{"attention_score": "dot"}, {"attention_type": "linformer", "linformer_k": 4}])
def test_to_native_refuses_non_default_kinds(overrides):
    with pytest.raises(ValueError, match=next(iter(overrides))):
        to_native(masked_lm(**overrides))
    to_native(masked_lm())  # the default converts


@pytest.mark.parametrize("kind", ["general", "additive"])
def test_continuous_batching_gives_generate_tokens(kind):
    """Paged attention: general runs on the paged sdpa kernel, additive on its own kernel with the paged mask."""
    from tests.decoder.helpers import causal_lm as native_style_causal_lm
    from tests.ecosystem.test_continuous_batching import check_same_tokens

    check_same_tokens(native_style_causal_lm("llama", "sdpa", attention_score=kind), "paged|sdpa")


@pytest.mark.parametrize(("name", "overrides"), [
    ("bert", {"attention_score": "general"}), ("bert", {"attention_score": "additive"}),
    ("llama", {"attention_score": "additive"}),
    ("bert", {"attention_type": "linformer", "linformer_k": 4, "attention_score": "general"}),
])
def test_flop_accounting_counts_the_kinds(name, overrides):
    """hfv flops / Trainer's total_flos against torch's FLOP counter on a forward + backward pass."""
    from torch.utils.flop_counter import FlopCounterMode

    from hf_variants.accounting import account

    model = (causal_lm if name == "llama" else masked_lm)(name, attn_implementation="eager", **overrides)
    with FlopCounterMode(display=False) as counter:
        model(input_ids=torch.randint(3, 99, (2, 16))).logits.pow(2).mean().backward()
    predicted = 2 * account(model, 16, dense_attention=True).training_flops
    assert abs(predicted - counter.get_total_flops()) <= 0.02 * counter.get_total_flops()
