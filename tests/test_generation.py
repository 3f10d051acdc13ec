"""What transformers' GenerationTesterMixin checks (it is not in the sdist), on every generative variant.

Decoding modes (greedy, sampling, beam search, beam sampling, assisted and prompt-lookup decoding; contrastive
search lives on the Hub in transformers 5 and is unavailable offline), `return_dict_in_generate` outputs (scores,
logits, attentions, hidden states, per step and shaped as transformers documents), the cache format, continuing
from a returned cache, and left padding. Token-level parity with native generation is in tests/decoder/test_parity.py
and tests/encoder_decoder/test_parity.py.
"""

from __future__ import annotations

import pytest
import torch
from transformers import Cache, EncoderDecoderCache

import hf_variants
from hf_variants.core import compat
from tests.variant_configs import TEST_VARIANTS, tiny_config

HEADS = {"decoder": "ForCausalLM", "encoder-decoder": "ForConditionalGeneration"}
GENERATIVE = [n for n in sorted(TEST_VARIANTS) if hf_variants.VARIANTS[n].family in HEADS]
# Switch drops tokens over an expert's capacity, which depends on how many tokens a forward holds.
NO_DROPPING = {"switch": {"expert_capacity": 64}}
NEW = 4
BATCH, PROMPT = 2, 5


def is_seq2seq(name: str) -> bool:
    return hf_variants.VARIANTS[name].family == "encoder-decoder"


def build(name: str):
    torch.manual_seed(0)
    spec = hf_variants.VARIANTS[name]
    return spec.classes[HEADS[spec.family]](tiny_config(name, **NO_DROPPING.get(name, {}))).eval()


def prompt(seed: int = 1) -> torch.Tensor:
    return torch.randint(4, 99, (BATCH, PROMPT), generator=torch.Generator().manual_seed(seed))


def generate(model, ids, **kwargs):
    config = model.config
    defaults = dict(forced_eos_token_id=None, attention_mask=torch.ones_like(ids), max_new_tokens=NEW, min_new_tokens=NEW, do_sample=False,
                    pad_token_id=config.pad_token_id if config.pad_token_id is not None else 0)
    with torch.no_grad():
        return model.generate(ids, **{**defaults, **kwargs})


def new_tokens(model, sequences: torch.Tensor) -> torch.Tensor:
    """The generated part (a seq2seq output starts with the decoder start token; a decoder's with the prompt)."""
    return sequences[:, 1:] if model.config.is_encoder_decoder else sequences[:, PROMPT:]


@pytest.mark.parametrize("name", GENERATIVE)
def test_decoding_modes(name):
    model = build(name)
    ids = prompt()
    greedy = generate(model, ids)
    assert new_tokens(model, greedy).shape == (BATCH, NEW)
    # Greedy picks the argmax of the processed scores at every step.
    out = generate(model, ids, return_dict_in_generate=True, output_scores=True)
    assert torch.equal(torch.stack(out.scores, 1).argmax(-1), new_tokens(model, out.sequences))
    # Assisted decoding (the model assisting itself, and prompt lookup) gives exactly the greedy tokens.
    # (transformers supports assisted decoding for one row at a time.)
    assert torch.equal(generate(model, ids[:1], assistant_model=build(name)), greedy[:1])
    if not model.config.is_encoder_decoder:
        assert torch.equal(generate(model, ids[:1], prompt_lookup_num_tokens=2), greedy[:1])
    # Sampling: reproducible under a seed, num_return_sequences rows per prompt, differs from greedy somewhere.
    samples = []
    for _ in range(2):
        torch.manual_seed(7)
        samples.append(generate(model, ids, do_sample=True, top_k=0, num_return_sequences=3, max_new_tokens=8,
                                min_new_tokens=8))
    assert torch.equal(samples[0], samples[1]) and samples[0].shape[0] == BATCH * 3
    assert not torch.equal(new_tokens(model, samples[0])[::3, :NEW], new_tokens(model, greedy))
    # Beam search: returned beams sorted by score; the best beam scores at least greedy's sequence.
    beams = generate(model, ids, num_beams=3, num_return_sequences=2, return_dict_in_generate=True,
                     output_scores=True)
    assert beams.sequences.shape[0] == BATCH * 2
    assert (beams.sequences_scores.view(BATCH, 2)[:, 0] >= beams.sequences_scores.view(BATCH, 2)[:, 1]).all()
    torch.manual_seed(7)
    beam_sample = generate(model, ids, num_beams=2, do_sample=True, return_dict_in_generate=True,
                           output_scores=True)
    assert new_tokens(model, beam_sample.sequences).shape == (BATCH, NEW)
    assert beam_sample.beam_indices.shape[0] == BATCH


@pytest.mark.parametrize("name", GENERATIVE)
@pytest.mark.parametrize("mode", ["greedy", "sample", "beam"])
def test_return_dict_in_generate_outputs(name, mode):
    model = build(name)
    config = model.config
    beams = 2 if mode == "beam" else 1
    torch.manual_seed(3)
    out = generate(model, prompt(), return_dict_in_generate=True, output_scores=True, output_logits=True,
                   output_attentions=True, output_hidden_states=True, do_sample=mode == "sample", num_beams=beams)
    rows = BATCH * beams
    assert len(out.scores) == len(out.logits) == NEW
    assert all(s.shape == (rows, config.vocab_size) for s in (*out.scores, *out.logits))
    layers = config.num_decoder_layers if config.is_encoder_decoder else config.num_hidden_layers
    heads = config.num_attention_heads
    self_attentions = out.decoder_attentions if config.is_encoder_decoder else out.attentions
    hidden_states = out.decoder_hidden_states if config.is_encoder_decoder else out.hidden_states
    assert len(self_attentions) == len(hidden_states) == NEW
    start = 1 if config.is_encoder_decoder else PROMPT  # the first step reads the decoder start / the whole prompt
    for step in range(NEW):
        queries = start if step == 0 else 1  # later steps read one new token through the cache
        keys = start + step
        assert len(self_attentions[step]) == layers and len(hidden_states[step]) == layers + 1
        window = config.sliding_window or keys  # a sliding-window cache keeps the last `window` keys at least
        assert all(a.shape[:3] == (rows, heads, queries) and min(keys, window) <= a.shape[3] <= keys
                   for a in self_attentions[step]), step
        assert all(h.shape == (rows, queries, config.hidden_size) for h in hidden_states[step]), step
        if config.is_encoder_decoder:
            assert len(out.cross_attentions[step]) == layers
            assert all(a.shape == (rows, heads, queries, PROMPT) for a in out.cross_attentions[step])
    if config.is_encoder_decoder:
        assert len(out.encoder_attentions) == config.num_hidden_layers
        # the encoder runs once, before beams are expanded
        assert all(a.shape == (BATCH, heads, PROMPT, PROMPT) for a in out.encoder_attentions)
        assert len(out.encoder_hidden_states) == config.num_hidden_layers + 1
    if mode == "greedy":  # the tokens are the argmax of the processed scores
        assert torch.equal(torch.stack(out.scores).argmax(-1).T, new_tokens(model, out.sequences))
    check_cache(model, compat.output_cache(out), rows, out.sequences.shape[1] - 1)


def check_cache(model, cache, rows: int, length: int) -> None:
    """transformers' cache format: a Cache (an EncoderDecoderCache for seq2seq) with one layer per decoder layer
    holding keys/values [batch, kv_heads, length, head_dim] (Mistral's sliding window keeps only the window)."""
    config = model.config
    assert isinstance(cache, Cache)
    layers = config.num_decoder_layers if config.is_encoder_decoder else config.num_hidden_layers
    if config.is_encoder_decoder:
        assert isinstance(cache, EncoderDecoderCache)
        cross = cache.cross_attention_cache
        assert cross.layers[0].keys.shape[-2] == PROMPT
        cache = cache.self_attention_cache
    assert len(cache.layers) == layers
    assert cache.get_seq_length() == length
    kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    for layer in cache.layers:
        expected = min(length, config.sliding_window - 1) if config.sliding_window else length
        assert layer.keys.shape[0] == rows and layer.keys.shape[1] == kv_heads
        assert layer.keys.shape[-1] == config.resolved_head_dim and layer.values.shape == layer.keys.shape
        assert expected <= layer.keys.shape[2] <= length


@pytest.mark.parametrize("name", GENERATIVE)
def test_continue_from_cache(name):
    """Generating in two calls, the second from the first call's cache, gives the one-call tokens."""
    model = build(name)
    ids = prompt()
    whole = generate(model, ids, max_new_tokens=2 * NEW, min_new_tokens=2 * NEW)
    first = generate(model, ids, return_dict_in_generate=True, use_cache=True)
    cache = compat.output_cache(first)
    if model.config.is_encoder_decoder:
        second = generate(model, ids, decoder_input_ids=first.sequences, **{compat.CACHE_FIELD: cache})
    else:
        second = generate(model, first.sequences, attention_mask=torch.ones_like(first.sequences),
                          **{compat.CACHE_FIELD: cache})
    assert torch.equal(second, whole)


@pytest.mark.parametrize("name", GENERATIVE)
def test_padding(name):
    """A padded prompt gives the next-token logits and tokens of the same prompt unpadded (GenerationTesterMixin's
    left-padding compatibility, with position ids from the mask as generate derives them). Decoders pad on the
    left; seq2seq models pad their encoder input on the right (BART and the Transformer have absolute encoder
    positions, which left padding shifts in native models too)."""
    model = build(name)
    ids = prompt()
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    pads = torch.full((BATCH, 3), pad)
    seq2seq = model.config.is_encoder_decoder
    padded = torch.cat([ids, pads] if seq2seq else [pads, ids], 1)
    mask = (padded != pad).long() if pad >= 4 else torch.cat(
        [torch.ones_like(ids), torch.zeros_like(pads)] if seq2seq else [torch.zeros_like(pads), torch.ones_like(ids)], 1)
    extra = {"decoder_input_ids": torch.full((BATCH, 1), model.config.decoder_start_token_id)} if seq2seq else {}
    if not seq2seq:
        extra["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        plain = model(ids, **{k: v for k, v in extra.items() if k != "position_ids"}).logits[:, -1]
        padded_logits = model(padded, attention_mask=mask, **extra).logits[:, -1]
    assert (plain - padded_logits).abs().max().item() < 1e-5
    assert torch.equal(generate(model, padded, attention_mask=mask)[:, -NEW:], generate(model, ids)[:, -NEW:])
