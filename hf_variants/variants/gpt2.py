"""GPT-2 (Radford et al. 2019): pre-LayerNorm decoder, learned positions, GELU MLP with biases, tied LM head."""

from __future__ import annotations

import re

import torch

from ..families.decoder import DECODER_HEADS, DecoderConfig
from ..tokenization import HfvGPT2Tokenizer
from .decoder_maps import decoder_native_requires
from .keymap import KeyMap
from .spec import ConfigField, NativeMapping, declare_variant


class HfvGPT2Config(DecoderConfig):
    model_type = "hfv_gpt2"
    vocab_size: int = 50257
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    # None = 4 * hidden_size, as GPT-2's `n_inner=None`.
    intermediate_size: int | None = None
    max_position_embeddings: int = 1024
    hidden_act: str = "gelu_new"
    position_embedding_type: str = "learned"
    norm_type: str = "layernorm"
    layer_norm_eps: float = 1e-5
    ffn_type: str = "mlp"
    qkv_layout: str = "fused"  # one q/k/v projection, as native's c_attn
    pad_token_id: int | None = None
    bos_token_id: int | None = 50256
    eos_token_id: int | list[int] | None = 50256
    tie_word_embeddings: bool = True
    initializer_scheme: str = "scaled_residual"  # residual projections at initializer_range / sqrt(2 * layers)
    embedding_padding_idx: bool = False
    token_types_in_word_embeddings: bool = True

    def __post_init__(self, **kwargs):
        if self.intermediate_size is None and type(self.hidden_size) is int:  # else the type check names hidden_size
            self.intermediate_size = 4 * self.hidden_size
        super().__post_init__(**kwargs)


# Native GPT-2 stores attention as one fused `c_attn` Conv1D ([in, 3 * out], x @ W) and every projection as Conv1D;
# ours are nn.Linear ([out, in]), q/k/v fused or not by `qkv_layout` (convert/qkv.py splits a fused one before
# renaming). The transforms below split/fuse and transpose under native names, so the rename rules stay one-to-one.
_FUSED = re.compile(r"^(?P<layer>(?:.*\.)?h\.\d+\.attn\.)c_attn\.(?P<kind>weight|bias)$")
_CONV1D = re.compile(r"^(?:.*\.)?h\.\d+\.(?:attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$")
_SPLIT = re.compile(r"^(?P<layer>(?:.*\.)?h\.\d+\.attn\.)(?P<part>q|k|v)_proj\.(?P<kind>weight|bias)$")


def _split_fused(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Native -> native-named pieces: c_attn -> q/k/v_proj as Linear weights; Conv1D weights transposed."""
    out = {}
    for key, value in state.items():
        fused = _FUSED.match(key)
        if fused:
            parts = value.chunk(3, dim=-1)  # weight [in, 3*out] or bias [3*out]
            for name, part in zip("qkv", parts):
                part = part.t() if fused["kind"] == "weight" else part
                out[f"{fused['layer']}{name}_proj.{fused['kind']}"] = part.contiguous()
        elif _CONV1D.match(key):
            out[key] = value.t().contiguous()
        else:
            out[key] = value
    return out


def _fuse_split(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of `_split_fused`: q/k/v_proj -> c_attn Conv1D; Linear weights transposed back to Conv1D."""
    out, pieces = {}, {}
    for key, value in state.items():
        split = _SPLIT.match(key)
        if split:
            pieces.setdefault((split["layer"], split["kind"]), {})[split["part"]] = value
        elif _CONV1D.match(key):
            out[key] = value.t().contiguous()
        else:
            out[key] = value
    for (layer, kind), parts in pieces.items():
        ordered = [parts[p] for p in "qkv"]
        fused = torch.cat([p.t() for p in ordered], dim=-1) if kind == "weight" else torch.cat(ordered)
        out[f"{layer}c_attn.{kind}"] = fused.contiguous()
    return out


_LAYER = "h.{i}"

NATIVE = NativeMapping(
    model_type="gpt2",
    class_prefix="GPT2",
    key_map=KeyMap(
        native_prefix="transformer",
        base_rules=(
            ("wte", "embeddings.word_embeddings"),
            ("wpe", "embeddings.position_embeddings"),
            (f"{_LAYER}.ln_1", "decoder.layers.{i}.self_attn_norm"),
            (f"{_LAYER}.attn.q_proj", "decoder.layers.{i}.self_attn.q_proj"),
            (f"{_LAYER}.attn.k_proj", "decoder.layers.{i}.self_attn.k_proj"),
            (f"{_LAYER}.attn.v_proj", "decoder.layers.{i}.self_attn.v_proj"),
            (f"{_LAYER}.attn.c_proj", "decoder.layers.{i}.self_attn.o_proj"),
            (f"{_LAYER}.ln_2", "decoder.layers.{i}.mlp_norm"),
            (f"{_LAYER}.mlp.c_fc", "decoder.layers.{i}.mlp.up_proj"),
            (f"{_LAYER}.mlp.c_proj", "decoder.layers.{i}.mlp.down_proj"),
            ("ln_f", "decoder.final_norm"),
        ),
        head_rules=(
            ("lm_head", "lm_head"),
            ("score", "score"),
            ("classifier", "classifier.out_proj"),
            ("qa_outputs", "qa_outputs"),
        ),
        state_transforms=((_split_fused, _fuse_split),),
    ),
    config_fields=(
        "vocab_size", "initializer_range", "pad_token_id", "bos_token_id", "eos_token_id", "classifier_dropout",
        ConfigField("n_positions", "max_position_embeddings"), ConfigField("n_embd", "hidden_size"),
        ConfigField("n_layer", "num_hidden_layers"), ConfigField("n_head", "num_attention_heads"),
        ConfigField("n_inner", "intermediate_size"), ConfigField("activation_function", "hidden_act"),
        ConfigField("resid_pdrop", "hidden_dropout_prob"), ConfigField("embd_pdrop", "hidden_dropout_prob"),
        ConfigField("attn_pdrop", "attention_probs_dropout_prob"),
        ConfigField("layer_norm_epsilon", "layer_norm_eps"),
        # scale_attn_weights=False is GPT-2's unscaled attention: a logit scale of 1.
        ConfigField("scale_attn_weights", "attention_scale",
                    to_ours=lambda v: None if v else 1.0, to_native=lambda v: v is None),
    ),
    requires=decoder_native_requires(
        position_embedding_type="learned", norm_type="layernorm", ffn_type="mlp", sliding_window=None,
        num_key_value_heads=lambda c: c.num_attention_heads,
        resolved_head_dim=lambda c: c.hidden_size // c.num_attention_heads,
        attention_bias=True, mlp_bias=True, embedding_padding_idx=False, token_types_in_word_embeddings=True,
        attention_scale=lambda c: c.attention_scale if c.attention_scale in (None, 1.0) else None,
    ),
    # Native GPT-2 options with no counterpart here, pinned to what our model computes (the upcast only changes
    # low-precision rounding, so it converts; per-layer logit scaling does not).
    native_overrides={"scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False},
    # One hidden_dropout_prob is both native embedding and residual dropouts: they must agree.
    native_requires={"scale_attn_by_inverse_layer_idx": False, "embd_pdrop": lambda n: n["resid_pdrop"],
                     "add_cross_attention": False},
    heads={"ForCausalLM": "LMHeadModel"},
)

SPEC = declare_variant(
    "gpt2", "decoder", HfvGPT2Config, DECODER_HEADS, globals(),
    tokenizer=HfvGPT2Tokenizer, objective="causal-lm", native=NATIVE,
    description="GPT-2: pre-LayerNorm decoder with learned positions, GELU MLP and a tied LM head",
    test_config={"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2},
)
