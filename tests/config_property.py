"""Drawn configurations and the check every one of them must pass (used by tests/test_config_property.py and by
scripts/config_sweep.py).

A config drawn over the composable fields either is refused at construction with a ValueError/TypeError that names
one of the drawn fields, or it builds, runs forward and backward on a padded batch with finite loss, outputs and
gradients, and round-trips through save_pretrained/from_pretrained exactly (config, weights and outputs).
"""

from __future__ import annotations

import copy
import math
import random
import tempfile

import torch

import hf_variants
from hf_variants.families.decoder import DecoderConfig
from tests.variant_configs import tiny_config

NAN, INF = math.nan, math.inf
# Values per field: sensible ones, edge cases, and wrong types/values (each must be refused naming the field).
GOOD: dict[str, list] = {
    "vocab_size": [50, 99, 7],
    "hidden_size": [8, 12, 16, 24, 32],
    "num_hidden_layers": [1, 2, 3],
    "num_attention_heads": [1, 2, 3, 4, 8],
    "num_key_value_heads": [None, 1, 2, 3, 4],
    "head_dim": [None, 2, 3, 4, 5, 6, 8],
    "intermediate_size": [4, 16, 37],
    "embedding_size": [None, 8, 16],
    "num_hidden_groups": [None, 1, 2, 3],
    "num_decoder_layers": [None, 1, 2, 3],
    "max_position_embeddings": [8, 16, 64, 2],
    "type_vocab_size": [0, 1, 2],
    "position_embedding_type": ["learned", "sinusoidal", "rope", "alibi", "relative_bias", "relative_xl", "none"],
    "memory_length": [0, 4],
    "position_offset": [0, 2],
    "pad_aware_positions": [False, True],
    "rope_parameters": [
        None, {"rope_type": "default", "rope_theta": 10000.0}, {"rope_type": "linear", "factor": 2.0},
        {"rope_type": "dynamic", "factor": 2.0}, {"rope_type": "yarn", "factor": 4.0},
        {"rope_type": "longrope", "factor": 2.0}, {"rope_type": "default", "rope_theta": 1e4,
                                                    "partial_rotary_factor": 0.5},
    ],
    "relative_attention_num_buckets": [1, 2, 4, 8, 32],
    "relative_attention_max_distance": [1, 2, 4, 16, 128],
    "norm_type": ["layernorm", "rmsnorm"],
    "norm_position": ["pre", "post"],
    "layer_norm_eps": [1e-12, 1e-5, 1.0],
    "embedding_norm": [None, True, False],
    "final_norm": [None, True, False],
    "ffn_type": ["mlp", "glu"],
    "hidden_act": ["gelu", "relu", "silu", "gelu_new", "tanh"],
    "attention_bias": [True, False],
    "mlp_bias": [True, False],
    "attention_scale": [None, 1.0, 0.125],
    "scale_embedding": [False, True],
    "sliding_window": [None, 1, 3, 8],
    "attention_window": [None, 1, 2],
    "global_attention_positions": [None, [0], [1, 4]],
    "random_attention_blocks": [0, 1, 2],
    "attention_block_size": [2, 64],
    "layer_attention_pattern": [None, ["full", "local"], ["local"]],
    "num_experts": [0, 2, 4],
    "num_experts_per_tok": [1, 2, 3],
    "router_type": ["topk", "switch"],
    "moe_layer_frequency": [1, 2, 3],
    "expert_capacity_factor": [None, 1.0, 0.5],
    "expert_capacity": [None, 1, 4],
    "router_aux_loss_coef": [0.0, 0.01],
    "router_z_loss_coef": [0.0, 0.001],
    "router_jitter_noise": [0.0, 0.1],
    "moe_implementation": ["grouped", "eager"],
    "expert_layout": ["stacked", "separate"],
    "qkv_layout": ["separate", "fused"],
    "hidden_dropout_prob": [0.0, 0.1],
    "attention_probs_dropout_prob": [0.0, 0.1],
    "activation_dropout": [0.0, 0.1],
    "classifier_dropout": [None, 0.1],
    "initializer_range": [0.02, 0.0],
    "pad_token_id": [None, 0, 1, 49, 98],
    "bos_token_id": [None, 1],
    "eos_token_id": [None, 2, [2, 3]],
    "tie_word_embeddings": [True, False],
    "attention_score": ["scaled_dot", "dot", "general", "additive"],
    "attention_type": ["softmax", "linformer", "linear"],
    "linformer_k": [None, 2, 4],
    # linear attention (issue 15)
    "linear_feature_map": ["elu", "favor"],
    "linear_num_features": [None, 1, 7],
    "linear_redraw_interval": [0, 1],
    "linear_feature_seed": [None, 0],
}
# Wrong types and values: each must be refused naming its field.
BAD: dict[str, list] = {
    "vocab_size": [0, "99", 99.0], "hidden_size": [0, -8, "32", 32.0, None],
    "num_hidden_layers": [0, "2", 2.0, None, 2**40], "num_attention_heads": [0, -1],
    "num_key_value_heads": [0], "head_dim": [0, 8.0], "intermediate_size": [0, NAN], "embedding_size": [0],
    "num_decoder_layers": [0, 10**6], "max_position_embeddings": [0, 2**50], "type_vocab_size": [-1],
    "position_embedding_type": ["xpos", None], "position_offset": [-1], "pad_aware_positions": [1],
    "rope_parameters": [{"rope_type": "default", "rope_theta": -1.0}, {"rope_type": "bogus"}, "rope"],
    "norm_type": ["batchnorm"], "norm_position": ["middle"], "layer_norm_eps": [0.0, -1e-5, NAN, INF],
    "embedding_norm": ["yes"], "ffn_type": ["moe"], "hidden_act": ["swish2", 3], "mlp_bias": [None],
    "attention_scale": [0.0, NAN], "sliding_window": [0],
    "attention_window": [0, 2.5], "global_attention_positions": [[-1], "0", [1, 1]], "random_attention_blocks": [-1],
    "attention_block_size": [0], "layer_attention_pattern": [["dense"], "local"], "num_experts": [1, -2, 10**5], "num_experts_per_tok": [0],
    "router_type": ["hash"], "expert_capacity_factor": [0.0, INF], "expert_capacity": [0],
    "router_aux_loss_coef": [-1.0, INF], "router_z_loss_coef": [NAN], "router_jitter_noise": [1.0],
    "moe_implementation": ["fast"], "expert_layout": ["rows"], "qkv_layout": ["interleaved", 1],
    "hidden_dropout_prob": [1.0, NAN, "0.1"], "attention_probs_dropout_prob": [-0.1],
    "activation_dropout": [INF], "classifier_dropout": [2.0], "initializer_range": [-0.02, NAN],
    "pad_token_id": [99, 200, -1], "bos_token_id": [99, "1"], "eos_token_id": [[2, 500], 500, -3],
    "tie_word_embeddings": ["yes"], "loss_chunk_size": [0, 2.0], "memory_length": [-1, "4"],
    "attention_score": ["cosine", 1], "attention_type": ["performer", "kernel", None], "linformer_k": [0, 2.0],
    "linear_feature_map": ["relu"], "linear_num_features": [0, 2.0],
    "linear_redraw_interval": [-1], "linear_feature_seed": ["0"],
}
SEQ_LEN = 6


def draw_random(rng: random.Random) -> dict:
    """A random override dict (the sweep's drawer; the property test draws through hypothesis): 1-8 fields with
    plausible values and, one time in four, one wrong value."""
    names = rng.sample(sorted(GOOD), rng.randint(1, 8))
    overrides = {name: copy.deepcopy(rng.choice(GOOD[name])) for name in names}
    if rng.random() < 0.25:
        name = rng.choice(sorted(BAD))
        overrides[name] = copy.deepcopy(rng.choice(BAD[name]))
    return overrides


def _main_class(variant: str):
    classes = hf_variants.VARIANTS[variant].classes
    for head in ("ForConditionalGeneration", "ForCausalLM", "ForMaskedLM", "Model"):
        if head in classes:
            return classes[head]
    raise AssertionError(f"{variant} has no head to test")


def _inputs(config, generator: torch.Generator) -> dict:
    start = config.position_offset + (config.pad_token_id + 1 if config.pad_aware_positions else 0)
    bounded = config.position_embedding_type in ("learned", "sinusoidal") or config.attention_type == "linformer"
    room = config.max_position_embeddings - start if bounded else SEQ_LEN
    seq = max(1, min(SEQ_LEN, room))
    ids = torch.randint(0, config.vocab_size, (2, seq), generator=generator)
    mask = torch.ones(2, seq, dtype=torch.long)
    mask[1, max(1, seq - 2):] = 0  # a padded row
    if config.pad_token_id is not None:
        ids[mask == 0] = config.pad_token_id
    labels = ids.masked_fill(mask == 0, -100)
    inputs = {"input_ids": ids, "attention_mask": mask}
    if seq > 1 or config.is_encoder_decoder or not isinstance(config, DecoderConfig):
        inputs["labels"] = labels  # a one-token causal LM batch has no next-token target (its loss is NaN, as native)
    if config.is_encoder_decoder:
        inputs["decoder_input_ids"] = ids.clone()
        inputs["decoder_attention_mask"] = mask.clone()
    return inputs


def _finite_tensors(value, path: str = "output"):
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() and not torch.isfinite(value).all():
            yield path
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from _finite_tensors(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _finite_tensors(item, f"{path}.{key}")


def check_config(variant: str, overrides: dict, seed: int = 0) -> str:
    """'refused' or 'ok'; raises AssertionError describing a failure (opaque refusal, crash, non-finite, no
    exact round trip)."""
    overrides = copy.deepcopy(overrides)
    try:
        config = tiny_config(variant, **overrides)
    except (ValueError, TypeError) as error:
        message = str(error)
        named = [name for name in overrides if name in message]
        assert named, f"{variant} {overrides}: refused without naming a drawn field: {type(error).__name__}: {message}"
        return "refused"
    except Exception as error:  # noqa: BLE001 - any other exception type is the failure being looked for
        raise AssertionError(f"{variant} {overrides}: refused with {type(error).__name__}: {error}") from error
    cls = _main_class(variant)
    try:
        torch.manual_seed(seed)
        model = cls(config)
        model.train()
        inputs = _inputs(config, torch.Generator().manual_seed(seed))
        outputs = model(**inputs)
        bad = list(_finite_tensors(outputs.to_tuple()))
        assert not bad, f"non-finite {bad}"
        loss = outputs.loss if outputs.loss is not None else outputs[0].float().square().mean()
        loss.backward()
        bad = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
        assert not bad, f"non-finite gradients {bad[:3]}"
        model.eval()
        with tempfile.TemporaryDirectory() as folder:
            model.save_pretrained(folder)
            loaded = cls.from_pretrained(folder).eval()
        ours, theirs = model.config.to_dict(), loaded.config.to_dict()
        for key in ("_name_or_path", "transformers_version", "architectures", "dtype", "auto_map"):  # auto_map: remote code
            ours.pop(key, None), theirs.pop(key, None)
        assert ours == theirs, f"config differs after reload: {set(ours.items()) ^ set(theirs.items())}"
        state, reloaded = model.state_dict(), loaded.state_dict()
        assert state.keys() == reloaded.keys(), f"state keys differ: {set(state) ^ set(reloaded)}"
        different = [k for k in state if not torch.equal(state[k], reloaded[k])]
        assert not different, f"weights differ after reload: {different[:3]}"
        with torch.no_grad():
            first, second = model(**inputs), loaded(**inputs)
        # the weights are equal bit for bit (above); the outputs within fp32 tolerance: reloaded weights are not
        # 64-byte aligned, which changes some CPUs' GEMM summation order (AVX-512: ~1e-7)
        first, second = (first.logits if "logits" in first else first[0]), (second.logits if "logits" in second else second[0])
        assert torch.allclose(first, second, rtol=1e-5, atol=1e-5), "outputs differ after reload"
    except Exception as error:  # noqa: BLE001 - every failure is reported with the config that caused it
        raise AssertionError(f"{variant} {overrides}: accepted, then {type(error).__name__}: {error}") from error
    return "ok"
