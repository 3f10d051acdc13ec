"""ModelTesterMixin tests skipped by name, with the reason (docs/transformers_model_tests.md lists them).

Keys: "*" (every variant), a family ("encoder", "decoder", "encoder-decoder") or a variant name.
"""

_SDPA = [f"test_eager_matches_sdpa_inference_{i:02d}_{dtype}_pad_{side}{mask}{kernels}"
         for i, (dtype, side, mask, kernels) in enumerate(
             (d, s, m, k) for d in ("fp16", "fp32", "bf16") for s in ("left", "right")
             for m in ("", "_no_attn_mask") for k in ("_sdpa_kernels", ""))]
_SDPA.append("test_eager_matches_sdpa_inference_24_fp32_pad_left_output_attentions")
SLIDING_WINDOW_FIELD = (
    "native-only assumption: the mixin sets config.sliding_window = 2 whenever the config has that attribute, "
    "taking it to mean 'this model supports a sliding window'; HfvConfig carries every element field "
    "(sliding_window=None here) and bidirectional attention rightly refuses a window. eager == sdpa is checked "
    "by tests/test_common.py::test_attention_backends_agree")

GENERATION_MIXIN = (
    "GenerationTesterMixin is not in the sdist (tests/generation is not shipped); what it checks is in "
    "tests/test_generation.py")

SKIPS: dict[str, dict[str, str]] = {
    "encoder": dict.fromkeys(_SDPA, SLIDING_WINDOW_FIELD),
    "encoder-decoder": {**dict.fromkeys(_SDPA, SLIDING_WINDOW_FIELD),
                        "test_generation_tester_mixin_inheritance": GENERATION_MIXIN},
    "decoder": {"test_generation_tester_mixin_inheritance": GENERATION_MIXIN},
    "gpt2": {"test_model_forward_default_config_values": (
        "deliberate difference (issue 14): special token ids must lie inside the vocabulary; with its token fields "
        "removed the config falls back to GPT-2's default bos/eos id 50256, outside the tester's 99-token "
        "vocabulary, and is refused naming bos_token_id (native accepts it and would fail only on such an id)")},
    "switch": {"test_attention_outputs": (
        "documented difference: our Switch always returns encoder/decoder router logits (its auxiliary losses are "
        "always computed, issue 11 item 1); native returns them only with output_router_logits=True, and the "
        "mixin counts output fields. Attention shapes: tests/test_common.py::test_hidden_states_and_attentions")},
}
