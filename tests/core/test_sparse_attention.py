"""Sparse attention patterns (core/sparse.py): every pattern gives exactly the documented mask, written naively
here; flex equals eager on it and skips blocks; cached generation equals the full forward; layer_attention_pattern
picks per layer in all three families; save/load reproduces the random blocks; bad values are refused by name."""

import pytest
import torch

import hf_variants
from hf_variants.convert import to_native
from hf_variants.core import sparse
from hf_variants.core.backends import attention_backend
from hf_variants.core.masks import self_attention_mask
from hf_variants.core.paged import check_support
from tests.variant_configs import tiny_config

PATTERNS = {
    "window": dict(attention_window=3),
    "global": dict(global_attention_positions=[0, 9]),
    "random": dict(random_attention_blocks=2, attention_block_size=4),
    "all": dict(attention_window=2, global_attention_positions=[5], random_attention_blocks=1, attention_block_size=4),
}


def naive_allowed(config, layer: int, queries: range, keys: int, causal: bool) -> torch.Tensor:
    """[query, key] -> allowed, from the documented rule, one pair at a time (layer: the layer whose random
    blocks are drawn; the block table's own properties are checked in test_random_block_table)."""
    window, positions = config.attention_window, config.global_attention_positions or []
    size, blocks = config.attention_block_size, -(-keys // config.attention_block_size)
    table = sparse.random_block_table(config, layer, blocks, causal) if config.random_attention_blocks else None
    allowed = torch.zeros(len(queries), keys, dtype=torch.bool)
    for row, i in enumerate(queries):
        for j in range(keys):
            if causal and j > i:
                continue
            band = window is not None and (0 <= i - j < window if causal else abs(i - j) < window)
            random_block = table is not None and bool(table[i // size, j // size])
            allowed[row, j] = i == j or band or i in positions or j in positions or random_block
    return allowed


def config_for(name: str, **overrides):
    return tiny_config(name, attention_probs_dropout_prob=0.0, hidden_dropout_prob=0.0, **overrides)


@pytest.mark.parametrize("causal", [False, True], ids=["bidirectional", "causal"])
@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_mask_is_the_documented_pattern(pattern, causal):
    config = config_for("llama" if causal else "bert", **PATTERNS[pattern])
    length = 14
    attention_mask = torch.ones(2, length, dtype=torch.long)
    attention_mask[1, 11:] = 0
    embeds = torch.zeros(2, length, config.hidden_size)
    function = sparse.mask_function(config, 1, causal, length, embeds.device)
    mask = self_attention_mask(config, embeds, attention_mask, causal, backend="sdpa", and_mask_function=function)
    expected = naive_allowed(config, 1, range(length), length, causal)
    assert torch.equal(mask[0, 0], expected)
    assert torch.equal(mask[1, 0], expected & attention_mask[1].bool())
    assert not expected.all()  # the pattern is sparse


def test_random_block_table():
    """Exactly r distinct blocks per query block among those it may see; fixed by seed and layer; a causal row does
    not depend on the sequence length (cached decoding draws the same blocks)."""
    config = config_for("bert", random_attention_blocks=3, attention_block_size=4)
    for causal in (False, True):
        table = sparse.random_block_table(config, 0, 12, causal)
        eligible = torch.ones(12, 12).tril().bool() if causal else torch.ones(12, 12, dtype=torch.bool)
        assert not (table & ~eligible).any()
        assert table.sum(-1).tolist() == [min(3, int(n)) for n in eligible.sum(-1)]
        assert torch.equal(table, sparse.random_block_table(config, 0, 12, causal))
        assert not torch.equal(table, sparse.random_block_table(config, 1, 12, causal))
    reseeded = config_for("bert", random_attention_blocks=3, attention_block_size=4, random_attention_seed=1)
    assert not torch.equal(sparse.random_block_table(config, 0, 12, False),
                           sparse.random_block_table(reseeded, 0, 12, False))
    long = sparse.random_block_table(config, 2, 20, True)
    assert torch.equal(long[:12, :12], sparse.random_block_table(config, 2, 12, True))


def _weights_follow_pattern(attentions, config, length, causal, kinds):
    for layer, weights in enumerate(attentions):
        allowed = torch.ones(length, length, dtype=torch.bool).tril(0 if causal else length)
        if kinds[layer % len(kinds)] == "local":
            allowed = naive_allowed(config, layer, range(length), length, causal)
        assert torch.equal(weights[0, 0] > 0, allowed), (layer, kinds)


@pytest.mark.parametrize("name", ["bert", "gpt2", "bart"])
def test_layer_pattern_picks_per_layer_in_every_family(name):
    """Layers cycle through layer_attention_pattern (3 layers: local, full, local); the attention weights a model
    returns are non-zero exactly where the layer's pattern allows (encoder, decoder and both stacks of an
    encoder-decoder; cross-attention stays dense)."""
    kinds = ["local", "full"]
    config = config_for(name, num_hidden_layers=3, layer_attention_pattern=kinds, **PATTERNS["all"])
    torch.manual_seed(0)
    family = hf_variants.VARIANTS[name].family
    head = {"encoder": "Model", "decoder": "ForCausalLM", "encoder-decoder": "ForConditionalGeneration"}[family]
    model = hf_variants.VARIANTS[name].classes[head](config).eval()
    length = 13
    ids = torch.randint(4, 99, (1, length), generator=torch.Generator().manual_seed(0))
    extra = {"decoder_input_ids": ids} if family == "encoder-decoder" else {}
    with torch.no_grad():
        out = model(input_ids=ids, output_attentions=True, **extra)
    if family == "encoder-decoder":
        _weights_follow_pattern(out.encoder_attentions, config, length, False, kinds)
        _weights_follow_pattern(out.decoder_attentions, config, length, True, kinds)
        assert all((w > 0).all() for w in out.cross_attentions)
    else:
        _weights_follow_pattern(out.attentions, config, length, family == "decoder", kinds)


def test_flex_equals_eager_and_skips_blocks():
    """flex attention (a BlockMask from the same mask functions) equals eager on a padded batch, and its block
    mask visits exactly the 128-token blocks the pattern leaves non-empty (one flex compilation, ~25 s on CPU)."""
    config = config_for("bert", num_hidden_layers=1, max_position_embeddings=512, attention_window=8,
                        global_attention_positions=[200], random_attention_blocks=1, attention_block_size=64)
    length = 384
    ids = torch.randint(4, 99, (2, length), generator=torch.Generator().manual_seed(0))
    attention_mask = torch.ones(2, length, dtype=torch.long)
    attention_mask[1, 300:] = 0
    outputs = {}
    for backend in ("eager", "flex_attention"):
        torch.manual_seed(0)
        config._attn_implementation = backend
        model = hf_variants.VARIANTS["bert"].classes["Model"](config).eval()
        with torch.no_grad():
            outputs[backend] = model(input_ids=ids, attention_mask=attention_mask).last_hidden_state
    real = attention_mask.bool()
    assert (outputs["eager"] - outputs["flex_attention"])[real].abs().max() <= 1e-5
    embeds = torch.zeros(2, length, config.hidden_size)
    function = sparse.mask_function(config, 0, False, length, embeds.device)
    block_mask = self_attention_mask(config, embeds, attention_mask, False, backend="flex_attention",
                                     and_mask_function=function)
    full = block_mask.full_kv_num_blocks
    visited = block_mask.kv_num_blocks.sum(dim=(1, 2)) + (0 if full is None else full.sum(dim=(1, 2)))
    allowed = naive_allowed(config, 0, range(length), length, False)
    blocks = range(0, length, 128)
    nonempty = [sum(bool((allowed & real[b])[q:q + 128, k:k + 128].any()) for q in blocks for k in blocks)
                for b in range(2)]
    assert visited.tolist() == nonempty
    assert nonempty[0] < 9  # with this seed no random block joins queries 256-383 to keys 0-127


@pytest.mark.parametrize("name", ["llama", "bart"])
def test_cached_generation_equals_full_forward(name):
    """Each greedy step's logits, computed with the KV cache, equal the full forward on the final sequence."""
    config = config_for(name, layer_attention_pattern=["local", "full"], **PATTERNS["all"])
    torch.manual_seed(0)
    family = hf_variants.VARIANTS[name].family
    head = "ForCausalLM" if family == "decoder" else "ForConditionalGeneration"
    model = hf_variants.VARIANTS[name].classes[head](config).eval()
    prompt = torch.randint(4, 99, (2, 6), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=12, min_new_tokens=12,
                             do_sample=False, return_dict_in_generate=True, output_logits=True, use_cache=True,
                             pad_token_id=0, forced_eos_token_id=None)
        steps = torch.stack(out.logits, dim=1)
        if family == "decoder":
            full = model(out.sequences[:, :-1]).logits[:, prompt.shape[1] - 1:]
        else:
            full = model(input_ids=prompt, decoder_input_ids=out.sequences[:, :-1]).logits
    assert steps.shape == full.shape
    assert (steps - full).abs().max() <= 1e-5


def test_attention_window_is_the_sliding_window_band_on_decoders():
    """On a decoder, attention_window=w is Mistral's sliding_window=w band: same weights, same logits."""
    torch.manual_seed(0)
    cls = hf_variants.VARIANTS["llama"].classes["ForCausalLM"]
    windowed = cls(config_for("llama", attention_window=3)).eval()
    sliding = cls(config_for("llama", sliding_window=3)).eval()
    sliding.load_state_dict(windowed.state_dict())
    ids = torch.randint(4, 99, (2, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = windowed(ids).logits, sliding(ids).logits
        dense = cls(config_for("llama")).eval()
        dense.load_state_dict(windowed.state_dict())
        assert (dense(ids).logits - a).abs().max() > 1e-3  # the window does change the model
    assert (a - b).abs().max() <= 1e-5


def test_save_load_reproduces_the_pattern(tmp_path):
    config = config_for("bert", layer_attention_pattern=["full", "local"], random_attention_seed=7, **PATTERNS["all"])
    torch.manual_seed(0)
    model = hf_variants.VARIANTS["bert"].classes["Model"](config).eval()
    model.save_pretrained(tmp_path)
    loaded = type(model).from_pretrained(tmp_path).eval()
    for field in (*sparse.SPARSE_DEFAULTS, "attention_block_size", "random_attention_seed"):
        assert getattr(loaded.config, field) == getattr(config, field), field
    ids = torch.randint(4, 99, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model(ids).last_hidden_state, loaded(ids).last_hidden_state)


@pytest.mark.parametrize("overrides,error,message", [
    (dict(attention_window=0), ValueError, "attention_window=0 must be an integer >= 1"),
    (dict(attention_window=2.0), TypeError, "attention_window=2.0 must be an integer"),
    (dict(global_attention_positions=[0, 0]), ValueError, "global_attention_positions=[0, 0] must hold distinct"),
    (dict(global_attention_positions=[-1]), ValueError, "global_attention_positions=[-1]"),
    (dict(global_attention_positions=0), TypeError, "global_attention_positions=0 must be None or a non-empty list"),
    (dict(global_attention_positions=[]), TypeError, "global_attention_positions=[] must be None or a non-empty"),
    (dict(random_attention_blocks=-1), ValueError, "random_attention_blocks=-1 must be an integer >= 0"),
    (dict(random_attention_blocks=1, attention_block_size=0), ValueError, "attention_block_size=0"),
    (dict(random_attention_seed="7"), TypeError, "random_attention_seed='7' must be an integer"),
    (dict(attention_window=2, layer_attention_pattern=["full", "dense"]), ValueError,
     "'dense' is not a layer kind; allowed: 'full', 'local'"),
    (dict(attention_window=2, layer_attention_pattern="local"), TypeError, "layer_attention_pattern='local'"),
    (dict(layer_attention_pattern=["full", "local"]), ValueError, "no pattern is set"),
    (dict(attention_window=2, attention_type="linear"), ValueError, "attention_type='linear' does not build"),
    (dict(global_attention_positions=[0], attention_type="linformer", linformer_k=4), ValueError,
     "attention_type='linformer' does not build"),
])
def test_bad_values_are_refused_by_name(overrides, error, message):
    with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")):
        config_for("bert", **overrides)


def test_refused_where_it_cannot_work():
    with pytest.raises(ValueError, match="sliding_window=4: sliding_window is Mistral's causal band"):
        config_for("mistral", attention_window=4)
    config = config_for("mistral", attention_window=4, sliding_window=None)
    with pytest.raises(ValueError, match="cannot convert to native mistral: attention_window=4"):
        to_native(hf_variants.VARIANTS["mistral"].classes["ForCausalLM"](config))
    with pytest.raises(ValueError, match="continuous batching .* does not support sparse attention"):
        check_support(config)
    config._attn_implementation = "flash_attention_2"  # a kernel without masks: served by sdpa
    assert attention_backend(config, False, False, has_pattern=True) == "sdpa"
    assert attention_backend(config, False, False, has_pattern=False) is None
