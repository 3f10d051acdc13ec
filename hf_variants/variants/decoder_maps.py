"""Key-map rules and native requirements shared by the decoder variants (LLaMA-style checkpoints: LLaMA, Mistral,
and the attention/norm part of Mixtral)."""

from .keymap import KeyMap
from .spec import ConfigField

LLAMA_BASE_RULES = (
    ("embed_tokens", "embeddings.word_embeddings"),
    ("layers.{i}.self_attn.q_proj", "decoder.layers.{i}.self_attn.q_proj"),
    ("layers.{i}.self_attn.k_proj", "decoder.layers.{i}.self_attn.k_proj"),
    ("layers.{i}.self_attn.v_proj", "decoder.layers.{i}.self_attn.v_proj"),
    ("layers.{i}.self_attn.o_proj", "decoder.layers.{i}.self_attn.o_proj"),
    ("layers.{i}.input_layernorm", "decoder.layers.{i}.self_attn_norm"),
    ("layers.{i}.post_attention_layernorm", "decoder.layers.{i}.mlp_norm"),
    ("norm", "decoder.final_norm"),
)

LLAMA_MLP_RULES = (
    ("layers.{i}.mlp.gate_proj", "decoder.layers.{i}.mlp.gate_proj"),
    ("layers.{i}.mlp.up_proj", "decoder.layers.{i}.mlp.up_proj"),
    ("layers.{i}.mlp.down_proj", "decoder.layers.{i}.mlp.down_proj"),
)

# transformers' generic heads: `lm_head`, `score` (sequence and token classification), `qa_outputs`.
LLAMA_HEAD_RULES = (
    ("lm_head", "lm_head"),
    ("score", "score"),
    ("qa_outputs", "qa_outputs"),
)
LLAMA_HEAD_RULES_FOR = {"ForTokenClassification": (("score", "classifier.out_proj"),)}

# Config fields LLaMA-style native configs name like we do (plus the few renamed ones).
LLAMA_CONFIG_FIELDS = (
    "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "hidden_act", "max_position_embeddings", "initializer_range",
    "rope_parameters", "pad_token_id", "bos_token_id", "eos_token_id", "classifier_dropout",
    ConfigField("rms_norm_eps", "layer_norm_eps"),
    ConfigField("attention_dropout", "attention_probs_dropout_prob"),
)


def llama_key_map(feedforward_rules=LLAMA_MLP_RULES, **options) -> KeyMap:
    """The key map of LLaMA-style natives (`model.` base, generic heads); Mixtral swaps the feed-forward rules."""
    return KeyMap(native_prefix="model", base_rules=LLAMA_BASE_RULES + feedforward_rules,
                  head_rules=LLAMA_HEAD_RULES, head_rules_for=LLAMA_HEAD_RULES_FOR, **options)


def decoder_native_requires(**extra):
    """Element values every native decoder here is fixed to (pre-norm, no token types, no sharing, dense FFN)."""
    return {
        "norm_position": "pre",
        "num_experts": 0,
        "type_vocab_size": 0,
        "embedding_size": lambda c: c.hidden_size,
        "num_hidden_groups": lambda c: c.num_hidden_layers,
        "position_offset": 0,
        "pad_aware_positions": False,
        "scale_embedding": False,
        "use_embedding_norm": False,
        "use_final_norm": True,
        "attention_scale": None,
        "activation_dropout": 0.0,
        "embedding_padding_idx": True,
        "token_types_in_word_embeddings": False,
        "token_classifier_dropout": None,
        "qa_dropout": 0.0,
        "attention_output_dropout": True,
        "ffn_output_dropout": True,
        **extra,
    }


def llama_native_requires(**extra):
    """LLaMA-style natives: RoPE, RMSNorm, SwiGLU-style gated FFN, any GQA; attention dropout only."""
    return decoder_native_requires(position_embedding_type="rope", norm_type="rmsnorm", ffn_type="glu",
                                   hidden_dropout_prob=0.0, **extra)
