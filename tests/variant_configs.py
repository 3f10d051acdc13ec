"""Tiny test configurations, one per variant. Listing a variant here enrolls it in the common suite
(tests/test_common.py); every family adds its variants here and nowhere else."""

TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
            activation_dropout=0.0)

# name -> extra config kwargs over TINY
TEST_VARIANTS = {
    "bert": {},
    "distilbert": {},
    "albert": {"embedding_size": 16},
    "roberta": {},
    "electra": {"embedding_size": 16},
    "gpt": {"pad_token_id": 0, "intermediate_size": None},  # None = 4 * hidden_size, as native GPT-1
    "gpt2": {"pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2},
    "llama": {"num_key_value_heads": 2, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2},
    "mistral": {"num_key_value_heads": 1, "sliding_window": 4, "pad_token_id": 0, "bos_token_id": 1,
                "eos_token_id": 2},
    "mixtral": {"num_key_value_heads": 2, "num_experts": 4, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2},
    "transformer": {},
    "t5": {"head_dim": 8},
    "byt5": {"head_dim": 8, "num_hidden_layers": 3, "num_decoder_layers": 2},
    "bart": {"max_position_embeddings": 66},
    "switch": {"head_dim": 8, "num_experts": 4, "expert_capacity": 4, "router_jitter_noise": 0.0},
}


def tiny_config(name: str, **overrides):
    """The tiny config of variant `name` (its own defaults, shrunk), with overrides."""
    import hf_variants

    spec = hf_variants.VARIANTS[name]
    return spec.config_class(**{**TINY, **TEST_VARIANTS[name], **overrides})


def native_head_cases() -> list[tuple[str, str]]:
    """(variant, head) for every head of every variant whose native transformers counterpart has that head."""
    import transformers

    import hf_variants

    cases = []
    for name, spec in hf_variants.VARIANTS.items():
        if spec.native is None:
            continue
        for head in spec.classes:
            if getattr(transformers, spec.native.class_prefix + spec.native.heads.get(head, head), None) is not None:
                cases.append((name, head))
    return cases
