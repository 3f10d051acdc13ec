"""BART (Lewis et al. 2020): a post-norm encoder-decoder with learned positions (offset 2), GELU, a LayerNorm on
the embeddings, tied embeddings and a final logits bias, pretrained by denoising."""

from ..families.encoder_decoder import SEQ2SEQ_HEADS, EncoderDecoderConfig
from ..tokenization import HfvBartTokenizer
from .keymap import KeyMap
from .spec import ConfigField, NativeMapping, declare_variant

# BART's position table has 2 extra rows (its ids start at 2); ours counts them in max_position_embeddings.
_OFFSET = 2


class HfvBartConfig(EncoderDecoderConfig):
    model_type = "hfv_bart"
    vocab_size: int = 50265
    hidden_size: int = 1024
    num_hidden_layers: int = 12
    num_decoder_layers: int | None = 12
    num_attention_heads: int = 16
    intermediate_size: int = 4096
    hidden_act: str = "gelu"
    max_position_embeddings: int = 1024 + _OFFSET
    position_embedding_type: str = "learned"
    position_offset: int = _OFFSET
    norm_position: str = "post"
    layer_norm_eps: float = 1e-5
    embedding_norm: bool | None = True
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.0
    classifier_dropout: float | None = 0.0
    pad_token_id: int | None = 1
    bos_token_id: int | None = 0
    eos_token_id: int | list[int] | None = 2
    decoder_start_token_id: int | None = 2
    # Generation default of the native model: end every output with EOS when max_length is reached.
    forced_eos_token_id: int | None = 2
    tie_word_embeddings: bool = True
    final_logits_bias: bool = True
    decoder_reads_shifted_source: bool = True


def _stack_rules(stack: str, is_decoder: bool) -> tuple[tuple[str, str], ...]:
    layer = f"{stack}.layers.{{i}}"
    rules = [
        (f"{stack}.embed_positions", f"{stack}.embeddings.position_embeddings"),
        (f"{stack}.layernorm_embedding", f"{stack}.embeddings.norm"),
        (f"{layer}.self_attn.out_proj", f"{layer}.self_attn.o_proj"),
        (f"{layer}.self_attn_layer_norm", f"{layer}.self_attn_norm"),
        (f"{layer}.fc1", f"{layer}.mlp.up_proj"),
        (f"{layer}.fc2", f"{layer}.mlp.down_proj"),
        (f"{layer}.final_layer_norm", f"{layer}.mlp_norm"),
    ]
    rules += [(f"{layer}.self_attn.{p}_proj", f"{layer}.self_attn.{p}_proj") for p in "qkv"]
    if is_decoder:
        rules += [(f"{layer}.encoder_attn.{p}_proj", f"{layer}.cross_attn.{p}_proj") for p in "qkv"]
        rules += [(f"{layer}.encoder_attn.out_proj", f"{layer}.cross_attn.o_proj"),
                  (f"{layer}.encoder_attn_layer_norm", f"{layer}.cross_attn_norm")]
    return tuple(rules)


NATIVE = NativeMapping(
    model_type="bart",
    class_prefix="Bart",
    key_map=KeyMap(
        native_prefix="model",
        base_rules=(("shared", "shared"),) + _stack_rules("encoder", False) + _stack_rules("decoder", True),
        head_rules=(
            ("lm_head", "lm_head"),
            ("final_logits_bias", "final_logits_bias"),
            ("classification_head.dense", "classification_head.dense"),
            ("classification_head.out_proj", "classification_head.out_proj"),
        ),
        ignore_native=(r"^(model\.)?(en|de)coder\.embed_tokens\.",),  # tied copies of `shared`
    ),
    config_fields=(
        "vocab_size", "scale_embedding", "pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id",
        "forced_eos_token_id", "classifier_dropout",
        ConfigField("d_model", "hidden_size"),
        ConfigField("encoder_layers", "num_hidden_layers"), ConfigField("decoder_layers", "num_decoder_layers"),
        ConfigField("encoder_attention_heads", "num_attention_heads"),
        ConfigField("decoder_attention_heads", "num_attention_heads"),
        ConfigField("encoder_ffn_dim", "intermediate_size"), ConfigField("decoder_ffn_dim", "intermediate_size"),
        ConfigField("activation_function", "hidden_act"), ConfigField("dropout", "hidden_dropout_prob"),
        ConfigField("attention_dropout", "attention_probs_dropout_prob"),
        ConfigField("activation_dropout", "activation_dropout"),
        ConfigField("init_std", "initializer_range"),
        ConfigField("max_position_embeddings", "max_position_embeddings",
                    to_ours=lambda v: v + _OFFSET, to_native=lambda v: v - _OFFSET),
    ),
    requires={
        "position_embedding_type": "learned",
        "position_offset": _OFFSET,
        "pad_aware_positions": False,
        "norm_type": "layernorm",
        "norm_position": "post",
        "layer_norm_eps": 1e-5,
        "ffn_type": "mlp",
        "num_experts": 0,
        "num_key_value_heads": lambda c: c.num_attention_heads,
        "head_dim": lambda c: c.hidden_size // c.num_attention_heads,
        "attention_bias": True,
        "mlp_bias": True,
        "attention_scale": None,
        "use_embedding_norm": True,
        "use_final_norm": False,
        "embedding_size": lambda c: c.hidden_size,
        "num_hidden_groups": lambda c: c.num_hidden_layers,
        "sliding_window": None,
        "type_vocab_size": 0,
        "scale_decoder_outputs": False,
        "final_logits_bias": True,
        "classifier_activation": "tanh",
        "embedding_padding_idx": True,
        "classifier_input_dropout": True,
        "attention_output_dropout": True,
        "ffn_output_dropout": True,
    },
    ours_overrides={"layer_norm_eps": 1e-5, "type_vocab_size": 0},
    # One set of sizes serves both stacks, and layers are never skipped (LayerDrop).
    native_requires={
        "decoder_attention_heads": lambda n: n["encoder_attention_heads"],
        "decoder_ffn_dim": lambda n: n["encoder_ffn_dim"],
        "encoder_layerdrop": 0.0,
        "decoder_layerdrop": 0.0,
    },
)

SPEC = declare_variant(
    "bart", "encoder-decoder", HfvBartConfig, SEQ2SEQ_HEADS, globals(),
    tokenizer=HfvBartTokenizer, objective="denoising", native=NATIVE,
    description="BART: post-norm denoising encoder-decoder with learned positions and tied embeddings",
    test_config={"max_position_embeddings": 66},
)
