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
from hf_variants.core.compat import output_cache
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
    reloaded = loaded.state_dict()
    assert all(torch.equal(value, reloaded[key]) for key, value in model.state_dict().items())
    # the same weights, bit for bit; the logits within fp32 tolerance, not bit for bit: loaded weights sit where the
    # safetensors file puts them (not 64-byte aligned), and some CPUs' GEMM kernels (AVX-512) then sum in another order
    torch.testing.assert_close(logits_of(loaded, inputs), logits_of(model, inputs), rtol=1e-5, atol=1e-5)
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
    """Exactly one hidden state per layer plus the embeddings, one attention map per layer (and one cross-attention
    map per decoder layer), each [batch, heads, queries, keys] with rows that are distributions over real keys."""
    model = build(name, "sdpa")  # attentions must come back even on a fused backend
    config = model.config
    inputs = batch(name, config)
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True, output_attentions=True)
    source_length = inputs["input_ids"].shape[1]
    stacks = [("", out, config.num_hidden_layers, source_length, None)]
    if family(name) == "encoder-decoder":
        target_length = inputs["decoder_input_ids"].shape[1]
        stacks = [("encoder_", out, config.num_hidden_layers, source_length, None),
                  ("decoder_", out, config.num_decoder_layers, target_length, None),
                  ("cross_", out, config.num_decoder_layers, target_length, source_length)]
    batch_size, heads = inputs["input_ids"].shape[0], config.num_attention_heads
    for prefix, output, layers, queries, keys in stacks:
        attentions = getattr(output, f"{prefix}attentions")
        assert len(attentions) == layers, (prefix, len(attentions), layers)
        if prefix != "cross_":
            hidden = getattr(output, f"{prefix}hidden_states")
            assert len(hidden) == layers + 1, (prefix, len(hidden), layers)
            assert all(h.shape == (batch_size, queries, config.hidden_size) for h in hidden)
        for weights in attentions:
            assert weights.shape == (batch_size, heads, queries, keys or queries), prefix
            rows = weights.sum(-1)
            torch.testing.assert_close(rows, torch.ones_like(rows), atol=1e-5, rtol=0)
        if prefix != "decoder_":  # real queries give padded source keys no weight (padded queries: unspecified)
            padded_keys = (inputs["attention_mask"] == 0)[:, None, None, :]
            real_queries = inputs["attention_mask"].bool()[:, None, :, None] if prefix != "cross_" else True
            assert all((w * (padded_keys & real_queries)).abs().max() == 0 for w in attentions), prefix


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
@pytest.mark.parametrize("reentrant", [False, True])
def test_gradient_checkpointing_same_gradients(name, reentrant):
    """Both checkpointing modes give the gradients of the plain run, for every parameter (reentrant checkpointing
    only routes gradients through tensors passed positionally into the layer: hidden states, encoder states and a
    learned position bias must be among them)."""
    _check_checkpointing(name, reentrant)


@pytest.mark.parametrize("name", ["bert", "llama"])
def test_reentrant_checkpointing_with_a_learned_relative_bias(name):
    """A T5-style learned bias outside the encoder-decoder family (one bias tensor shared by every layer)."""
    _check_checkpointing(name, True, position_embedding_type="relative_bias")


@pytest.mark.parametrize("name", ["llama", "gpt2", "t5"])
def test_training_with_checkpointing_fills_no_cache(name):
    """As native: in training, activation checkpointing turns the KV cache off (recomputed layers would append to it
    twice); without checkpointing a training forward still returns one."""
    model = build(name).train()
    inputs = {k: v for k, v in batch(name, model.config).items() if k != "labels"}
    if model.config.is_encoder_decoder:
        inputs["decoder_input_ids"] = inputs["input_ids"][:, :4]
    assert output_cache(model(**inputs, use_cache=True)) is not None
    model.activation_checkpointing_enable({"use_reentrant": False})
    assert output_cache(model(**inputs, use_cache=True)) is None
    model.eval()
    assert output_cache(model(**inputs, use_cache=True)) is not None


def _check_checkpointing(name, reentrant, **overrides):
    model = build(name, **overrides).train()
    inputs = batch(name, model.config)
    _loss(model, inputs).backward()
    reference = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    # every parameter but separate experts that received no token (Switch: no gradient, as native)
    assert {n for n, p in model.named_parameters() if p.requires_grad and ".experts." not in n} <= reference.keys()
    model.zero_grad(set_to_none=True)
    model.activation_checkpointing_enable({"use_reentrant": reentrant})
    assert any(getattr(m, "gradient_checkpointing", False) for m in model.modules())
    _loss(model, inputs).backward()
    assert {n for n, p in model.named_parameters() if p.grad is not None} == reference.keys()
    for n, p in model.named_parameters():
        if n in reference:
            assert torch.allclose(p.grad, reference[n], atol=1e-6), (n, (p.grad - reference[n]).abs().max())


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
def test_bfloat16_forward_equals_native_bfloat16(name):
    """Our bf16 forward against native's bf16 forward on the same weights: bf16 rounding (native bf16 vs fp32) is
    ~1e-3 on these logits, so a tolerance of a tenth of it asks for the same rounding order, not just "close to
    fp32". Variants without a native counterpart are held to their own fp32 forward."""
    from hf_variants.convert import to_native

    overrides = {"intermediate_size": 128} if name == "gpt" else {}  # native GPT-1's MLP is 4 x hidden
    # native Switch Transformers has eager attention only (to_native picks it): ours runs the same kernel
    ours = build(name, "eager" if name == "switch" else "sdpa", **overrides)
    inputs = batch(name, ours.config)
    mask = inputs["attention_mask"]
    if hf_variants.VARIANTS[name].native_model_type is None:
        reference = logits_of(ours, inputs)
        low = logits_of(ours.to(torch.bfloat16), inputs)
        assert low.dtype == torch.bfloat16
        # bf16 keeps 8 bits of mantissa: within a few percent of the logits' own spread (5.2% seen on an AVX-512 CPU)
        spread = reference.std().item()
        assert compare_real(name, reference, low.float(), mask) < 0.08 * spread, spread
        return
    native = to_native(ours).eval()
    if hasattr(native, "set_experts_implementation"):
        native.set_experts_implementation("eager")  # native grouped_mm needs 16-byte strides (37 * 2 bytes is not)
    native32 = logits_of(native, inputs)
    ours16 = logits_of(ours.to(torch.bfloat16), inputs)
    native16 = logits_of(native.to(torch.bfloat16), inputs)
    assert ours16.dtype == native16.dtype == torch.bfloat16
    rounding = compare_real(name, native16.float(), native32, mask)
    assert rounding > 0
    # GPT-1: native divides the scores by sqrt(head_dim) where the attention interface multiplies by its inverse,
    # one bf16 rounding apart (fp32: 0.0 at head_dim 16, tests/decoder/test_gpt_parity.py).
    tolerance = rounding if name == "gpt" else 0.1 * rounding
    assert compare_real(name, ours16.float(), native16.float(), mask) <= tolerance


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_device_is_the_first_parameters_device(name):
    """`model.device` (read by `generate` every token) walks to the first parameter directly (families/base.py): the
    same parameter `parameters()` yields first, for every head, and it follows the model to another device."""
    from hf_variants.families.base import _first_parameter

    for cls in dict.fromkeys(hf_variants.VARIANTS[name].classes.values()):
        model = cls(tiny_config(name))
        assert _first_parameter(model) is next(model.parameters()), cls.__name__
        assert model.device == torch.device("cpu")
    assert model.to("meta").device == torch.device("meta")
