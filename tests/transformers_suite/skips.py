"""ModelTesterMixin tests skipped by name, with the reason: native-only assumptions (docs/transformers_model_tests.md).

Keys: "*" (every variant), a family ("encoder", "decoder", "encoder-decoder") or a variant name.
"""

SKIPS: dict[str, dict[str, str]] = {
    "*": {},
}
