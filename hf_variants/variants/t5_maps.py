"""Key map and config fields shared by the T5-style native checkpoints (T5, and ByT5 which is a T5 model)."""

from .keymap import KeyMap
from .spec import ConfigField, NativeMapping


def _stack_rules(stack: str, is_decoder: bool) -> tuple[tuple[str, str], ...]:
    native, ours = f"{stack}.block.{{i}}.layer", f"{stack}.layers.{{i}}"
    ffn = 2 if is_decoder else 1
    rules = [
        # T5 keeps the stack's relative bias in block 0's self-attention; ours is one stack-level module.
        (f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias", f"{stack}.position_bias.relative_attention_bias"),
        (f"{native}.0.layer_norm", f"{ours}.self_attn_norm"),
        (f"{native}.{ffn}.DenseReluDense.wi", f"{ours}.mlp.up_proj"),
        (f"{native}.{ffn}.DenseReluDense.wi_0", f"{ours}.mlp.gate_proj"),
        (f"{native}.{ffn}.DenseReluDense.wi_1", f"{ours}.mlp.up_proj"),
        (f"{native}.{ffn}.DenseReluDense.wo", f"{ours}.mlp.down_proj"),
        (f"{native}.{ffn}.layer_norm", f"{ours}.mlp_norm"),
        (f"{stack}.final_layer_norm", f"{stack}.final_norm"),
    ]
    for proj in "qkvo":
        rules.append((f"{native}.0.SelfAttention.{proj}", f"{ours}.self_attn.{proj}_proj"))
        if is_decoder:
            rules.append((f"{native}.1.EncDecAttention.{proj}", f"{ours}.cross_attn.{proj}_proj"))
    if is_decoder:
        rules.append((f"{native}.1.layer_norm", f"{ours}.cross_attn_norm"))
    return tuple(rules)


def _gated_up_to_native(state: dict) -> dict:
    """Our `up_proj` is native `wi` in a plain MLP but `wi_1` next to a gate (`wi_0`): rename after the key map."""
    if not any(".DenseReluDense.wi_0." in key for key in state):
        return state
    return {key.replace(".DenseReluDense.wi.", ".DenseReluDense.wi_1."): value for key, value in state.items()}


T5_KEY_MAP = KeyMap(
    native_prefix="transformer",
    native_prefix_for={"ForConditionalGeneration": ""},
    base_rules=(("shared", "shared"),) + _stack_rules("encoder", False) + _stack_rules("decoder", True),
    head_rules=(
        ("lm_head", "lm_head"),
        ("classification_head.dense", "classification_head.dense"),
        ("classification_head.out_proj", "classification_head.out_proj"),
    ),
    # Tied copies of `shared`; the decoder's cross-attention never has a relative bias.
    ignore_native=(r"^(transformer\.)?(en|de)coder\.embed_tokens\.",),
    state_transforms=((lambda state: state, _gated_up_to_native),),
)


def _feed_forward_proj(config) -> str:
    """Native `feed_forward_proj` from our ffn_type + hidden_act ("gated-gelu" means GeGLU with gelu_new)."""
    if config.ffn_type == "glu":
        return "gated-gelu" if config.hidden_act == "gelu_new" else f"gated-{config.hidden_act}"
    return config.hidden_act


T5_CONFIG_FIELDS = (
    "vocab_size", "num_decoder_layers", "relative_attention_num_buckets", "relative_attention_max_distance",
    "pad_token_id", "eos_token_id", "decoder_start_token_id", "classifier_dropout", "scale_decoder_outputs",
    "initializer_factor",
    ConfigField("d_model", "hidden_size"), ConfigField("d_kv", "head_dim", native_from_config=lambda c: c.resolved_head_dim), ConfigField("d_ff", "intermediate_size"),
    ConfigField("num_layers", "num_hidden_layers"), ConfigField("num_heads", "num_attention_heads"),
    ConfigField("dropout_rate", "hidden_dropout_prob"), ConfigField("dropout_rate", "attention_probs_dropout_prob"),
    ConfigField("dropout_rate", "activation_dropout"),
    ConfigField("layer_norm_epsilon", "layer_norm_eps"),
    ConfigField("feed_forward_proj", "ffn_type", to_ours=lambda v: "glu" if v.startswith("gated-") else "mlp",
                native_from_config=_feed_forward_proj),
    ConfigField("feed_forward_proj", "hidden_act",
                to_ours=lambda v: "gelu_new" if v == "gated-gelu" else v.split("-")[-1],
                native_from_config=_feed_forward_proj),
)

T5_NATIVE = NativeMapping(
    model_type="t5",
    class_prefix="T5",
    key_map=T5_KEY_MAP,
    config_fields=T5_CONFIG_FIELDS,
    requires={
        "position_embedding_type": "relative_bias",
        "norm_type": "rmsnorm",
        "norm_position": "pre",
        "num_experts": 0,
        "num_key_value_heads": lambda c: c.num_attention_heads,
        "attention_bias": False,
        "mlp_bias": False,
        "attention_scale": 1.0,
        "scale_embedding": False,
        "use_embedding_norm": False,
        "use_final_norm": True,
        "embedding_size": lambda c: c.hidden_size,
        "num_hidden_groups": lambda c: c.num_hidden_layers,
        "sliding_window": None,
        "final_logits_bias": False,
        "type_vocab_size": 0,
        "classifier_activation": "tanh",
        "hidden_dropout_prob": lambda c: c.attention_probs_dropout_prob,
        "activation_dropout": lambda c: c.attention_probs_dropout_prob,  # native T5 has one dropout_rate
        "embedding_padding_idx": False,
        "classifier_input_dropout": True,
        "attention_output_dropout": True,
        "ffn_output_dropout": True,
    },
    # Native T5Config always says tie_word_embeddings=True and keeps the tie it was given as scale_decoder_outputs.
    ours_overrides={"type_vocab_size": 0, "tie_word_embeddings": lambda n: n.get("scale_decoder_outputs", True)},
)
