"""GPT-1 (Radford et al. 2018, "Improving Language Understanding by Generative Pre-Training"): a 12-layer
post-LayerNorm decoder with learned positions, a GELU (tanh approximation) MLP of 4x width, dropout 0.1 on
embeddings, attention weights and both sublayer outputs, no final norm, and a tied LM head.

Native counterpart: transformers' `openai-gpt` (OpenAIGPTModel, OpenAIGPTLMHeadModel,
OpenAIGPTForSequenceClassification). Its weights use GPT-2's layout (a fused `c_attn` Conv1D and Conv1D
projections), so the GPT-2 split/fuse transforms convert them. Differences of the native model that do not change
the outputs on real tokens: it masks future keys with -1e4 (ours -inf), has no KV cache (each generation step
recomputes the whole prefix) and counts positions from 0 even under left padding unless given `position_ids`
(ours, in `generate`, from the attention mask). Native `token_type_ids` index the *word* embedding table; that
feature is not expressed here (type_vocab_size=0 refuses non-zero token types).
"""

from __future__ import annotations

from ..families.decoder import DECODER_HEADS, DecoderConfig
from ..tokenization import HfvGPTTokenizer
from .decoder_maps import decoder_native_requires
from .gpt2 import _fuse_split, _split_fused  # the same Conv1D layout as GPT-2
from .keymap import KeyMap
from .spec import ConfigField, NativeMapping, declare_variant

# Native `afn` names -> our `hidden_act` (native "gelu" is the tanh approximation, transformers' "gelu_new").
_ACTIVATIONS = {"gelu": "gelu_new", "relu": "relu", "silu": "silu", "swish": "silu"}
_NATIVE_ACTIVATIONS = {"gelu_new": "gelu", "relu": "relu", "silu": "silu"}


class HfvGPTConfig(DecoderConfig):
    model_type = "hfv_gpt"
    vocab_size: int = 40478
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    # None = 4 * hidden_size (native GPT-1's MLP width is fixed at 4x).
    intermediate_size: int | None = None
    max_position_embeddings: int = 512
    hidden_act: str = "gelu_new"
    position_embedding_type: str = "learned"
    norm_type: str = "layernorm"
    norm_position: str = "post"
    layer_norm_eps: float = 1e-5
    # Post-norm, but no LayerNorm on the embeddings and none after the last layer.
    embedding_norm: bool | None = False
    final_norm: bool | None = False
    ffn_type: str = "mlp"
    qkv_layout: str = "fused"  # one q/k/v projection, as native's c_attn
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    tie_word_embeddings: bool = True
    embedding_padding_idx: bool = False  # native GPT-1's token table has no padding row

    def __post_init__(self, **kwargs):
        if self.intermediate_size is None and type(self.hidden_size) is int:  # else the type check names hidden_size
            self.intermediate_size = 4 * self.hidden_size
        super().__post_init__(**kwargs)


_LAYER = "h.{i}"

NATIVE = NativeMapping(
    model_type="openai-gpt",
    class_prefix="OpenAIGPT",
    key_map=KeyMap(
        native_prefix="transformer",
        base_rules=(
            ("tokens_embed", "embeddings.word_embeddings"),
            ("positions_embed", "embeddings.position_embeddings"),
            (f"{_LAYER}.attn.q_proj", "decoder.layers.{i}.self_attn.q_proj"),
            (f"{_LAYER}.attn.k_proj", "decoder.layers.{i}.self_attn.k_proj"),
            (f"{_LAYER}.attn.v_proj", "decoder.layers.{i}.self_attn.v_proj"),
            (f"{_LAYER}.attn.c_proj", "decoder.layers.{i}.self_attn.o_proj"),
            (f"{_LAYER}.ln_1", "decoder.layers.{i}.self_attn_norm"),
            (f"{_LAYER}.mlp.c_fc", "decoder.layers.{i}.mlp.up_proj"),
            (f"{_LAYER}.mlp.c_proj", "decoder.layers.{i}.mlp.down_proj"),
            (f"{_LAYER}.ln_2", "decoder.layers.{i}.mlp_norm"),
        ),
        head_rules=(("lm_head", "lm_head"), ("score", "score")),
        state_transforms=((_split_fused, _fuse_split),),
    ),
    config_fields=(
        "vocab_size", "initializer_range", "pad_token_id", "bos_token_id", "eos_token_id",
        ConfigField("n_positions", "max_position_embeddings"), ConfigField("n_embd", "hidden_size"),
        ConfigField("n_layer", "num_hidden_layers"), ConfigField("n_head", "num_attention_heads"),
        ConfigField("afn", "hidden_act", to_ours=_ACTIVATIONS.get, to_native=_NATIVE_ACTIVATIONS.get),
        ConfigField("resid_pdrop", "hidden_dropout_prob"), ConfigField("embd_pdrop", "hidden_dropout_prob"),
        ConfigField("attn_pdrop", "attention_probs_dropout_prob"),
        ConfigField("layer_norm_epsilon", "layer_norm_eps"),
    ),
    requires=decoder_native_requires(
        norm_position="post", use_final_norm=False, position_embedding_type="learned", norm_type="layernorm",
        ffn_type="mlp", sliding_window=None, attention_bias=True, mlp_bias=True,
        num_key_value_heads=lambda c: c.num_attention_heads,
        resolved_head_dim=lambda c: c.hidden_size // c.num_attention_heads,
        intermediate_size=lambda c: 4 * c.hidden_size, embedding_padding_idx=False,
        hidden_act=lambda c: c.hidden_act if c.hidden_act in _NATIVE_ACTIVATIONS else "gelu_new",
    ),
    # One dropout rate serves embeddings and sublayer outputs here; native GPT-1 has two.
    native_requires={"embd_pdrop": lambda native: native["resid_pdrop"]},
    heads={"ForCausalLM": "LMHeadModel"},
)

SPEC = declare_variant(
    "gpt", "decoder", HfvGPTConfig, DECODER_HEADS, globals(),
    tokenizer=HfvGPTTokenizer, objective="causal-lm", native=NATIVE,
    description="GPT-1: post-LayerNorm decoder with learned positions, GELU MLP and a tied LM head",
    test_config={"pad_token_id": 0, "intermediate_size": None},  # None = 4 * hidden_size, as native GPT-1
)
