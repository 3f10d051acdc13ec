"""The common suite: every variant listed in tests/variant_configs.py passes every check here.

Checks mirror what users expect of any transformers model (transformers' ModelTesterMixin): save/load, inputs_embeds,
batch/row equality, padding invariance, backend equality, output fields, training, gradient checkpointing,
embedding resizing, and a small test footprint.
"""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM

import hf_variants
from tests.variant_configs import TEST_VARIANTS, tiny_config

ATOL = 1e-5
MAIN_AUTO = {"encoder": AutoModelForMaskedLM, "decoder": AutoModelForCausalLM,
             "encoder-decoder": AutoModelForSeq2SeqLM}


def family(name: str) -> str:
    return hf_variants.VARIANTS[name].family


def build(name: str, attn_implementation: str = "eager", **overrides):
    torch.manual_seed(0)
    config = tiny_config(name, **overrides)
    model = MAIN_AUTO[family(name)].from_config(config, attn_implementation=attn_implementation)
    return model.eval()


def batch(name: str, config, batch_size: int = 3, length: int = 8, seed: int = 1) -> dict:
    """Random ids avoiding special ids; row 1 and 2 right-padded (pad_token_id where one is set)."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, config.vocab_size, (batch_size, length), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, length - 3:] = 0
    if batch_size > 2:
        mask[2, length // 2:] = 0
    pad = config.pad_token_id if config.pad_token_id is not None else 0
    ids = ids.masked_fill(mask == 0, pad)
    inputs = {"input_ids": ids, "attention_mask": mask}
    if family(name) == "encoder-decoder":
        dec = torch.randint(4, config.vocab_size, (batch_size, 5), generator=generator)
        inputs["decoder_input_ids"] = dec
    return inputs


def real(output: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Keep positions of real tokens only (padding outputs are unspecified)."""
    return output[mask.bool()]


def logits_of(model, inputs):
    with torch.no_grad():
        return model(**inputs).logits


def compare_real(name, a, b, mask):
    if family(name) == "encoder-decoder":  # logits live on the decoder side, which is unpadded here
        return (a - b).abs().max().item()
    return (real(a, mask) - real(b, mask)).abs().max().item()


VARIANT_NAMES = sorted(TEST_VARIANTS)


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_is_small(name):
    model = build(name)
    assert sum(p.numel() for p in model.parameters()) < 1_000_000


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_save_load_round_trip(name, tmp_path):
    model = build(name)
    inputs = batch(name, model.config)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    assert not list(tmp_path.glob("*.bin"))
    loaded = MAIN_AUTO[family(name)].from_pretrained(tmp_path, attn_implementation="eager").eval()
    assert type(loaded) is type(model)
    assert torch.equal(logits_of(model, inputs), logits_of(loaded, inputs))
    out_emb, in_emb = loaded.get_output_embeddings(), loaded.get_input_embeddings()
    if model.config.tie_word_embeddings and out_emb is not None:
        assert out_emb.weight.data_ptr() == in_emb.weight.data_ptr(), "tied weights must stay tied after loading"
    base = AutoModel.from_pretrained(tmp_path)  # a head checkpoint loads into the base model too
    assert type(base).__name__.endswith("Model")


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_inputs_embeds_equals_input_ids(name):
    model = build(name)
    inputs = batch(name, model.config)
    embeds = model.get_input_embeddings()(inputs["input_ids"])
    by_embeds = dict(inputs, inputs_embeds=embeds)
    del by_embeds["input_ids"]
    if model.config.pad_aware_positions:  # RoBERTa derives positions from ids: give both calls the same ones
        from hf_variants.core.positions import absolute_position_ids

        ids = inputs["input_ids"]
        inputs = dict(inputs, position_ids=absolute_position_ids(model.config, ids, ids.shape[1], 0, ids.device))
        by_embeds["position_ids"] = inputs["position_ids"]
    assert compare_real(name, logits_of(model, inputs), logits_of(model, by_embeds), inputs["attention_mask"]) < ATOL


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_batched_equals_single_rows(name):
    model = build(name)
    inputs = batch(name, model.config)
    batched = logits_of(model, inputs)
    for row in range(inputs["input_ids"].shape[0]):
        length = int(inputs["attention_mask"][row].sum())
        single = {k: v[row:row + 1] for k, v in inputs.items()}
        single["input_ids"], single["attention_mask"] = single["input_ids"][:, :length], single["attention_mask"][:, :length]
        alone = logits_of(model, single)
        expected = batched[row:row + 1] if family(name) == "encoder-decoder" else batched[row:row + 1, :length]
        assert (alone - expected).abs().max().item() < ATOL


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_padding_invariance(name):
    """More padding at the end must not change outputs at real positions."""
    model = build(name)
    inputs = batch(name, model.config)
    pad = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    extra = 4
    padded = dict(inputs)
    padded["input_ids"] = torch.cat([inputs["input_ids"], torch.full((3, extra), pad)], dim=1)
    padded["attention_mask"] = torch.cat([inputs["attention_mask"], torch.zeros(3, extra, dtype=torch.long)], dim=1)
    a, b = logits_of(model, inputs), logits_of(model, padded)
    if family(name) != "encoder-decoder":
        b = b[:, : a.shape[1]]
    assert compare_real(name, a, b, inputs["attention_mask"]) < ATOL


@pytest.mark.parametrize("name", VARIANT_NAMES)
@pytest.mark.parametrize("backend", ["sdpa", "flex_attention"])
def test_attention_backends_agree(name, backend):
    eager = build(name, "eager")
    other = build(name, backend)
    other.load_state_dict(eager.state_dict())
    inputs = batch(name, eager.config)
    assert compare_real(name, logits_of(eager, inputs), logits_of(other, inputs), inputs["attention_mask"]) < ATOL


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_hidden_states_and_attentions(name):
    model = build(name, "sdpa")  # attentions must come back even on a fused backend
    config = model.config
    inputs = batch(name, config)
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True, output_attentions=True)
    layers = config.num_hidden_layers
    if family(name) == "encoder-decoder":
        hidden, attentions = out.decoder_hidden_states, out.decoder_attentions
        assert len(out.encoder_hidden_states) == layers + 1
        assert len(out.cross_attentions) == getattr(config, "num_decoder_layers", None) or layers
    else:
        hidden, attentions = out.hidden_states, out.attentions
    assert len(hidden) == len(attentions) + 1
    assert all(h.shape[-1] == config.hidden_size for h in hidden)
    q = hidden[0].shape[1]
    assert attentions[0].shape[1:] == (config.num_attention_heads, q, q)
    rows = attentions[0].sum(-1)
    assert torch.allclose(rows, torch.ones_like(rows), atol=1e-5), "attention rows are probability distributions"


@pytest.mark.parametrize("name", VARIANT_NAMES)
@pytest.mark.parametrize("backend", ["sdpa", "flex_attention"])
def test_output_attentions_does_not_change_outputs(name, backend):
    """Asking for attention weights switches the kernel to eager; the masks must follow (padded batch)."""
    model = build(name, backend)
    inputs = batch(name, model.config)
    with torch.no_grad():
        plain, with_weights = model(**inputs).logits, model(**inputs, output_attentions=True).logits
    assert compare_real(name, plain, with_weights, inputs["attention_mask"]) < ATOL


def _loss(model, inputs):
    labels = inputs["decoder_input_ids"] if "decoder_input_ids" in inputs else inputs["input_ids"]
    kwargs = {k: v for k, v in inputs.items() if k != "decoder_input_ids"}
    return model(**kwargs, labels=labels).loss


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_training_steps_lower_the_loss(name):
    model = build(name).train()
    inputs = batch(name, model.config, seed=3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        loss = _loss(model, inputs)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert losses[-1] < losses[0] - 0.1, losses


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_gradient_checkpointing_same_gradients(name):
    model = build(name).train()
    inputs = batch(name, model.config)
    _loss(model, inputs).backward()
    reference = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    model.activation_checkpointing_enable({"use_reentrant": False})
    assert any(getattr(m, "gradient_checkpointing", False) for m in model.modules())
    _loss(model, inputs).backward()
    for n, p in model.named_parameters():
        if n in reference:
            assert torch.allclose(p.grad, reference[n], atol=1e-6), n


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_resize_token_embeddings(name):
    model = build(name)
    old = model.config.vocab_size
    model.resize_token_embeddings(old + 7)
    assert model.config.vocab_size == old + 7
    assert model.get_input_embeddings().weight.shape[0] == old + 7
    inputs = batch(name, model.config)
    inputs["input_ids"][0, 0] = old + 6
    assert logits_of(model, inputs).shape[-1] == old + 7


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_bfloat16_forward_tracks_float32(name):
    reference = build(name, "sdpa")
    inputs = batch(name, reference.config)
    low = build(name, "sdpa").to(torch.bfloat16)
    with torch.no_grad():
        expected, actual = reference(**inputs).logits, low(**inputs).logits
    assert actual.dtype == torch.bfloat16
    # bf16 keeps ~3 digits: relative to the logits' size (T5-style fan-in init gives logits of ~10)
    tolerance = max(0.05, 0.03 * expected.abs().max().item())
    assert compare_real(name, expected, actual.float(), inputs["attention_mask"]) < tolerance
