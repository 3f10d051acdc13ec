"""`qkv_layout`: one fused q/k/v projection (GPT-2/GPT-1's default, as native `c_attn`) computes what the separate
projections compute, converts both ways, initialises each part at its own scale, keeps loaded weights, and leaves
checkpoints saved before the field loadable."""

import json

import pytest
import torch
import transformers

import hf_variants
from hf_variants.checkpoints import load_checkpoint
from hf_variants.convert import from_native, to_native
from hf_variants.convert.qkv import fuse_qkv, split_qkv
from tests.variant_configs import tiny_config

HEADS = {"decoder": "ForCausalLM", "encoder": "ForMaskedLM", "encoder-decoder": "ForConditionalGeneration"}


def build(name, **overrides):
    spec = hf_variants.VARIANTS[name]
    return spec.classes[HEADS[spec.family]](tiny_config(name, **overrides)).eval()


def as_layout(model, layout):
    """The same weights in the other q/k/v layout."""
    config = type(model.config).from_dict({**model.config.to_dict(), "qkv_layout": layout})
    other = type(model)(config).eval()
    state = model.state_dict()
    state = fuse_qkv(state, config) if layout == "fused" else split_qkv(state, model.config)
    other.load_state_dict(state, strict=True)
    return other


def inputs(model, batch=2, length=7):
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, 99, (batch, length), generator=generator)
    mask = torch.ones_like(ids)
    mask[0, :2] = 0  # left padding in one row
    batch = {"input_ids": ids, "attention_mask": mask}
    if model.config.is_encoder_decoder:
        batch["decoder_input_ids"] = ids[:, :4]
    return batch


@pytest.mark.parametrize("name, overrides", [
    ("llama", {"num_key_value_heads": 2}),  # GQA: unequal q and k/v widths
    ("gpt2", {}),
    ("bart", {"qkv_layout": "fused"}),  # self-attention fused, cross-attention separate
    ("bert", {"qkv_layout": "fused", "attention_score": "general"}),
    ("gpt2", {"position_embedding_type": "relative_xl", "memory_length": 4}),  # memory rows projected with the segment
])
def test_fused_computes_what_separate_computes(name, overrides):
    torch.manual_seed(0)
    separate = build(name, **{**overrides, "qkv_layout": "separate"})
    fused = as_layout(separate, "fused")
    assert not any(".q_proj" in n for n, _ in fused.named_parameters() if ".self_attn." in n)
    batch = inputs(separate)
    torch.testing.assert_close(fused(**batch).logits, separate(**batch).logits, rtol=0, atol=1e-6)
    if hf_variants.VARIANTS[name].family == "decoder" and "memory_length" not in overrides:  # with the KV cache
        generated = [m.generate(**batch, max_new_tokens=5, do_sample=False) for m in (separate, fused)]
        assert torch.equal(*generated)


def test_gradients_of_the_fused_weight_are_the_separate_gradients():
    torch.manual_seed(0)
    separate = build("llama", num_key_value_heads=2).train()
    fused = as_layout(separate, "fused").train()
    batch = inputs(separate)
    for model in (separate, fused):
        model(**batch, labels=batch["input_ids"]).loss.backward()
    grads = {n: p.grad for n, p in fused.named_parameters()}
    separate_grads = fuse_qkv({n: p.grad for n, p in separate.named_parameters()}, fused.config)
    assert grads.keys() == separate_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, separate_grads[name], rtol=0, atol=1e-6, msg=name)


def test_gpt2_holds_native_parameter_tensors():
    """One tensor per native tensor, so AdamW's per-tensor work matches native's."""
    ours = build("gpt2")
    native = to_native(ours)
    assert ours.config.qkv_layout == "fused"
    assert len(list(ours.parameters())) == len(list(native.parameters()))


def test_conversion_both_ways_for_a_fused_model_without_a_fused_native():
    torch.manual_seed(0)
    ours = build("llama", num_key_value_heads=2, qkv_layout="fused")
    native = to_native(ours).eval()
    assert isinstance(native, transformers.LlamaForCausalLM)
    batch = inputs(ours)
    torch.testing.assert_close(native(**batch).logits, ours(**batch).logits, rtol=0, atol=1e-5)
    native_gpt2 = to_native(build("gpt2"))
    back = from_native(native_gpt2)
    assert back.config.qkv_layout == "fused"
    assert torch.equal(back.state_dict()["model.decoder.layers.0.self_attn.qkv_proj.weight"],
                       native_gpt2.state_dict()["transformer.h.0.attn.c_attn.weight"].t())


def test_fan_in_init_draws_each_part_at_its_scale_and_keeps_loaded_weights(tmp_path):
    """T5's init: q at (d_model * d_kv) ** -0.5, k and v at d_model ** -0.5 - also as rows of one fused weight; the
    rows are views, so transformers' guard against redrawing loaded weights is checked on the parameter."""
    torch.manual_seed(0)
    config = tiny_config("t5", hidden_size=64, head_dim=32, num_attention_heads=4, qkv_layout="fused")
    model = hf_variants.VARIANTS["t5"].classes["ForConditionalGeneration"](config)
    weight = model.model.encoder.layers[0].self_attn.qkv_proj.weight
    q, k, v = weight.split([128, 128, 128])
    assert abs(q.std().item() / (64 * 32) ** -0.5 - 1) < 0.1
    assert abs(k.std().item() / 64**-0.5 - 1) < 0.1 and abs(v.std().item() / 64**-0.5 - 1) < 0.1
    model.save_pretrained(tmp_path)
    reloaded = load_checkpoint(type(model), tmp_path)
    for key, value in model.state_dict().items():
        assert torch.equal(reloaded.state_dict()[key], value), key


def test_a_checkpoint_saved_before_the_field_loads_separate(tmp_path):
    torch.manual_seed(0)
    model = build("gpt2", qkv_layout="separate")
    model.save_pretrained(tmp_path)
    path = tmp_path / "config.json"
    saved = json.loads(path.read_text())
    assert saved["qkv_layout"] == "separate"  # always written
    del saved["qkv_layout"]
    path.write_text(json.dumps(saved))
    reloaded = load_checkpoint(type(model), tmp_path).eval()  # refuses missing or unexpected tensors
    assert reloaded.config.qkv_layout == "separate"
    batch = inputs(model)
    assert torch.equal(reloaded(**batch).logits, model(**batch).logits)


def test_bad_layouts_are_refused_by_name():
    with pytest.raises(ValueError, match="qkv_layout='interleaved' is not supported; allowed values"):
        tiny_config("llama", qkv_layout="interleaved")
    with pytest.raises(ValueError, match="qkv_layout='fused'.*attention_type='linformer'"):
        tiny_config("bert", qkv_layout="fused", attention_type="linformer", linformer_k=4)


def test_a_layout_override_at_load_is_refused(tmp_path):
    """Overriding how a checkpoint stores its weights would leave them unused (transformers only warns about the
    missing keys and draws new ones): refused, naming the field; the saved value and other fields still load."""
    build("gpt2", qkv_layout="separate").save_pretrained(tmp_path / "gpt2")
    with pytest.raises(ValueError, match="qkv_layout='fused' cannot override the saved qkv_layout='separate'"):
        transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "gpt2", qkv_layout="fused")
    loaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "gpt2", qkv_layout="separate")
    assert loaded.config.qkv_layout == "separate"
    build("mixtral", expert_layout="stacked").save_pretrained(tmp_path / "mixtral")
    with pytest.raises(ValueError, match="expert_layout='separate' cannot override"):
        transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "mixtral", expert_layout="separate",
                                                          moe_implementation="eager")
    build("llama").save_pretrained(tmp_path / "dense")  # no experts saved: nothing stored in an expert layout
    config = transformers.AutoConfig.from_pretrained(tmp_path / "dense", expert_layout="separate")
    assert config.expert_layout == "separate"
