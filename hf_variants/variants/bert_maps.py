"""Key-map rules shared by the BERT-style native checkpoints (BERT, RoBERTa, ELECTRA)."""

BERT_EMBEDDING_RULES = (
    ("embeddings.word_embeddings", "embeddings.word_embeddings"),
    ("embeddings.position_embeddings", "embeddings.position_embeddings"),
    ("embeddings.token_type_embeddings", "embeddings.token_type_embeddings"),
    ("embeddings.LayerNorm", "embeddings.norm"),
)

BERT_LAYER_RULES = (
    ("encoder.layer.{i}.attention.self.query", "encoder.layers.{i}.self_attn.q_proj"),
    ("encoder.layer.{i}.attention.self.key", "encoder.layers.{i}.self_attn.k_proj"),
    ("encoder.layer.{i}.attention.self.value", "encoder.layers.{i}.self_attn.v_proj"),
    ("encoder.layer.{i}.attention.output.dense", "encoder.layers.{i}.self_attn.o_proj"),
    ("encoder.layer.{i}.attention.output.LayerNorm", "encoder.layers.{i}.self_attn_norm"),
    ("encoder.layer.{i}.intermediate.dense", "encoder.layers.{i}.mlp.up_proj"),
    ("encoder.layer.{i}.output.dense", "encoder.layers.{i}.mlp.down_proj"),
    ("encoder.layer.{i}.output.LayerNorm", "encoder.layers.{i}.mlp_norm"),
)

# Config fields that BERT-style native configs name exactly as we do.
BERT_CONFIG_FIELDS = (
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
    "hidden_dropout_prob", "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
    "initializer_range", "layer_norm_eps", "pad_token_id", "classifier_dropout", "bos_token_id", "eos_token_id",
)


# Native BERT-style configs that turn the encoder into a decoder: not expressible here.
ENCODER_ONLY = {"is_decoder": False, "add_cross_attention": False}


def encoder_native_requires(**extra):
    """Element values a BERT-style native encoder is fixed to (post-norm LayerNorm, GELU-style MLP, MHA)."""
    return {
        "norm_type": "layernorm",
        "norm_position": "post",
        "ffn_type": "mlp",
        "num_experts": 0,
        "num_key_value_heads": lambda c: c.num_attention_heads,
        "head_dim": lambda c: c.hidden_size // c.num_attention_heads,
        "attention_bias": True,
        "mlp_bias": True,
        "attention_scale": None,
        "scale_embedding": False,
        "use_embedding_norm": True,
        "use_final_norm": False,
        "activation_dropout": 0.0,
        "embedding_padding_idx": True,
        "token_types_in_word_embeddings": False,
        "classifier_input_dropout": True,
        "token_classifier_dropout": None,
        "qa_dropout": 0.0,
        "multiple_choice_pooling": None,
        "attention_output_dropout": True,
        "ffn_output_dropout": True,
        **extra,
    }
