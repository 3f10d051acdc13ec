"""hf_variants.accounting against torch's own FLOP counter on real forward + backward passes, and hand counts."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import hf_variants
from hf_variants.accounting import account, attention_pairs, model_for_config
from tests.variant_configs import TEST_VARIANTS, tiny_config

BATCH, SEQ, TARGET = 2, 16, 8


def _model(name: str, **overrides):
    overrides.setdefault("attn_implementation", "eager")  # matmuls torch's counter sees (CPU sdpa is not counted)
    if TEST_VARIANTS[name].get("num_experts"):
        overrides.update(moe_implementation="eager", expert_capacity=None)  # no grouped_mm, no dropped tokens
    config = tiny_config(name, **overrides)
    spec = hf_variants.VARIANTS[name]
    torch.manual_seed(0)
    return model_for_config(config).__class__(config).eval(), spec


@pytest.mark.parametrize("name", sorted(TEST_VARIANTS))
def test_training_flops_match_torch_flop_counter(name):
    model, spec = _model(name)
    inputs = {"input_ids": torch.randint(3, 99, (BATCH, SEQ))}
    if spec.family == "encoder-decoder":
        inputs["decoder_input_ids"] = torch.randint(3, 99, (BATCH, TARGET))
    with FlopCounterMode(display=False) as counter:
        model(**inputs).logits.float().pow(2).mean().backward()
    measured = counter.get_total_flops()
    predicted = BATCH * account(model, SEQ, TARGET, dense_attention=True).training_flops
    assert abs(predicted - measured) <= 0.05 * measured, (predicted, measured)
    assert model.floating_point_ops(inputs) == BATCH * account(model, SEQ, TARGET).training_flops


@pytest.mark.parametrize("name", sorted(TEST_VARIANTS))
def test_parameter_counts_are_exact(name):
    model, _ = _model(name)
    report = account(model, SEQ)
    assert report.params == sum(p.numel() for p in model.parameters())


def test_moe_active_parameters_by_hand():
    config = tiny_config("mixtral")  # hidden 32, 2 layers, 4 experts, top-2, SwiGLU experts of width 37
    report = account(model_for_config(config), SEQ)
    hidden, inner, layers, experts, top_k = 32, 37, 2, 4, 2
    expert = 3 * hidden * inner  # gate, up, down (no biases)
    assert report.elements["experts"].params == layers * experts * expert
    assert report.params - report.active_params == layers * (experts - top_k) * expert
    assert report.elements["router"].params == layers * hidden * experts
    # Each token runs top_k experts: forward FLOPs 2 * top_k * expert parameters per layer.
    assert report.elements["experts"].forward_flops == SEQ * layers * 2 * top_k * expert


@pytest.mark.parametrize("name", ["gpt2", "mistral", "bert"])
def test_attention_pairs_are_the_pairs_the_mask_allows(name):
    """Causal, sliding-window (mistral: 4) and bidirectional: the attended (query, key) pairs, counted on the
    attention weights the eager kernel really used."""
    model, _ = _model(name)
    out = model(input_ids=torch.randint(3, 99, (1, SEQ)), output_attentions=True)
    allowed = int((out.attentions[0][0, 0] > 0).sum())
    attn = model.base_model.decoder.layers[0].self_attn if name != "bert" else \
        model.base_model.encoder.layers[0].self_attn
    assert attention_pairs(SEQ, SEQ, attn.is_causal, attn.sliding_window) == allowed
    scores = account(model, SEQ).elements["attention scores"].forward_flops
    assert scores == 2 * 4 * attn.num_heads * attn.head_dim * allowed


def test_meta_model_needs_no_memory_and_rejects_unknown_heads():
    config = tiny_config("llama", hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                         num_attention_heads=32, num_key_value_heads=32, vocab_size=32000)
    report = account(model_for_config(config), 2048)
    assert 6.7e9 < report.params < 6.8e9  # LLaMA-7B's 6.74B
    with pytest.raises(ValueError, match="head='ForSpeech'"):
        model_for_config(config, head="ForSpeech")
    with pytest.raises(ValueError, match="seq_len"):
        account(model_for_config(tiny_config("llama")), 0)


def test_hfv_flops_command(tmp_path, capsys):
    from hf_variants.cli import main

    assert main(["flops", "mixtral", "--seq-len", "64", "--set", "num_hidden_layers=2", "--set", "hidden_size=64",
                 "--set", "intermediate_size=96", "--set", "num_attention_heads=4", "--set", "num_key_value_heads=2"]) == 0
    out = capsys.readouterr().out
    assert "experts" in out and "router" in out and "attention scores" in out
    config = tiny_config("t5")
    config.save_pretrained(tmp_path)
    assert main(["flops", str(tmp_path), "--seq-len", "32", "--target-len", "8", "--json"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["training_flops"] == account(model_for_config(config), 32, 8).training_flops
    assert main(["flops", str(tmp_path / "missing")]) == 2
    assert "neither a variant name" in capsys.readouterr().err
    xl = tiny_config("llama", position_embedding_type="relative_xl", memory_length=8)
    xl.save_pretrained(tmp_path / "xl")
    assert main(["flops", str(tmp_path / "xl"), "--seq-len", "16", "--memory-len", "4", "--batch-size", "2",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = account(model_for_config(xl), 16, memory_len=4, batch_size=2)
    assert (data["memory_len"], data["batch_size"], data["training_flops"]) == (4, 2, expected.training_flops)
    assert main(["flops", "llama", "--batch-size", "0"]) == 2
    assert "batch_size=0 must be positive" in capsys.readouterr().err


# --- the attention kinds of issue 15 -------------------------------------------------------------------------------

def _measured_and_predicted(model, inputs, seq, memory_len=0):
    """(FlopCounterMode's forward + backward FLOPs, the accounting's with every pair a dense kernel computes).
    The new kinds are counted exactly, so their tests hold them to 1% rather than the issue's 5%."""
    with FlopCounterMode(display=False) as counter:
        model(**inputs).logits.float().pow(2).mean().backward()
    batch = inputs["input_ids"].shape[0]
    report = account(model, seq, TARGET, dense_attention=True, memory_len=memory_len, batch_size=batch)
    return counter.get_total_flops(), batch * report.training_flops


@pytest.mark.parametrize("name, seq, overrides", [
    ("bert", SEQ, {"linear_feature_map": "elu"}),  # bidirectional
    ("bart", SEQ, {"linear_feature_map": "favor", "linear_num_features": 24}),  # bidirectional + causal, cross stays
    ("llama", 80, {"linear_feature_map": "elu"}),  # causal over two chunks of CHUNK=64 (the second one padded)
    ("llama", 80, {"linear_feature_map": "favor", "linear_num_features": 24}),
])
def test_linear_attention_flops_match_torch_flop_counter(name, seq, overrides):
    """Feature maps (FAVOR+'s W x, whose W takes no gradient), the bidirectional sums and the chunked causal form."""
    model, spec = _model(name, attention_type="linear", **overrides)
    inputs = {"input_ids": torch.randint(3, 99, (BATCH, seq))}
    if spec.family == "encoder-decoder":
        inputs["decoder_input_ids"] = torch.randint(3, 99, (BATCH, TARGET))
    measured, predicted = _measured_and_predicted(model, inputs, seq)
    assert abs(predicted - measured) <= 0.01 * measured, (predicted, measured)  # the bound is 5%


def test_causal_linear_attention_counts_the_triangle_inside_chunks():
    """Model FLOPs (the default) count the causal triangle of each chunk; dense counts the chunk squares computed."""
    model, _ = _model("llama", attention_type="linear", linear_feature_map="elu")
    layers, heads, dim = 2, 4, 8
    dense = account(model, 80, dense_attention=True).elements["attention scores"].forward_flops
    useful = account(model, 80).elements["attention scores"].forward_flops
    triangle = 64 * 65 // 2 + 16 * 17 // 2  # chunks of 64 and 16 tokens
    # the quadratic form costs 2 * (features + dim + 1) per pair; the sums 2 * 2 * features * (dim + 1) per token
    # over the length padded to 128 (dense) or 80 (useful)
    assert dense - useful == layers * heads * (2 * (128 * 64 - triangle) * (dim + dim + 1) + 4 * 48 * dim * (dim + 1))


@pytest.mark.parametrize("memory", [0, 12])
def test_relative_xl_flops_match_torch_flop_counter(memory):
    """r_net over the relative table (once per batch), the (q + v)·R term per pair, and memory as extra keys."""
    model, _ = _model("gpt2", position_embedding_type="relative_xl", memory_length=max(memory, 1))
    inputs = {"input_ids": torch.randint(3, 99, (BATCH, SEQ))}
    if memory:
        with torch.no_grad():
            inputs["memory"] = model(input_ids=torch.randint(3, 99, (BATCH, memory)), use_cache=False).memory
        inputs["use_cache"] = False
    measured, predicted = _measured_and_predicted(model, inputs, SEQ, memory_len=memory)
    assert abs(predicted - measured) <= 0.01 * measured, (predicted, measured)  # the bound is 5%
    assert model.floating_point_ops(inputs) == BATCH * account(model, SEQ, memory_len=memory,
                                                               batch_size=BATCH).training_flops


SPARSE = {"attention_window": 3, "global_attention_positions": [0, 9], "random_attention_blocks": 1,
          "attention_block_size": 4, "layer_attention_pattern": ["local", "full", "local"], "num_hidden_layers": 3}


@pytest.mark.parametrize("name, overrides", [
    ("gpt2", SPARSE),  # causal: band, globals, random blocks, a dense middle layer
    ("bert", SPARSE),  # bidirectional
    ("bert", {"attention_window": 2}),  # band only
    ("gpt2", {"global_attention_positions": [3], "random_attention_blocks": 2, "attention_block_size": 5}),
])
def test_sparse_pattern_counts_the_pairs_its_mask_allows(name, overrides):
    """The attended pairs of every layer, read off the attention weights the eager kernel used with the pattern's
    mask (a naive count), equal the pairs the accounting counts; dense kernels compute every pair."""
    length = 19  # not a multiple of the block size: a partial last block
    model, _ = _model(name, max_position_embeddings=64, **overrides)
    out = model(input_ids=torch.randint(3, 99, (1, length)), output_attentions=True)
    allowed = sum(int((weights[0, 0] > 0).sum()) for weights in out.attentions)
    attn = out.attentions[0]
    heads, dim = model.config.num_attention_heads, model.config.resolved_head_dim
    assert attn.shape[1] == heads
    scores = account(model, length).elements["attention scores"].forward_flops
    assert scores == 2 * 2 * heads * dim * allowed
    dense = account(model, length, dense_attention=True).elements["attention scores"].forward_flops
    assert dense == 2 * 2 * heads * dim * length * length * model.config.num_hidden_layers
    assert allowed < model.config.num_hidden_layers * length * length
