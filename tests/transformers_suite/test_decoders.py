"""transformers' ModelTesterMixin on every decoder variant (see suite.py)."""

from tests.transformers_suite.suite import variant_test_class

Gpt2ModelTest = variant_test_class("gpt2", __name__)
LlamaModelTest = variant_test_class("llama", __name__)
MistralModelTest = variant_test_class("mistral", __name__)
MixtralModelTest = variant_test_class("mixtral", __name__)
