"""Tiny test configurations. Every variant whose declaration has a `test_config` (hf_variants/variants/<name>.py)
is enrolled in the common suite (tests/test_common.py) and the suites built on `TEST_VARIANTS`; nothing is listed
here by hand."""

import hf_variants

TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
            activation_dropout=0.0)

# name -> extra config kwargs over TINY, from each variant's declaration
TEST_VARIANTS = {name: spec.test_config for name, spec in hf_variants.VARIANTS.items() if spec.test_config is not None}


def tiny_config(name: str, **overrides):
    """The tiny config of variant `name` (its own defaults, shrunk), with overrides."""
    spec = hf_variants.VARIANTS[name]
    return spec.config_class(**{**TINY, **TEST_VARIANTS[name], **overrides})


def native_head_cases() -> list[tuple[str, str]]:
    """(variant, head) for every head of every variant whose native transformers counterpart has that head."""
    import transformers

    cases = []
    for name, spec in hf_variants.VARIANTS.items():
        if spec.native is None:
            continue
        for head in spec.classes:
            if getattr(transformers, spec.native.class_prefix + spec.native.heads.get(head, head), None) is not None:
                cases.append((name, head))
    return cases
