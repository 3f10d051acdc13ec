"""transformers' ModelTesterMixin on every encoder-decoder variant (see suite.py)."""

from tests.transformers_suite.suite import variant_test_class

TransformerModelTest = variant_test_class("transformer", __name__)
T5ModelTest = variant_test_class("t5", __name__)
Byt5ModelTest = variant_test_class("byt5", __name__)
BartModelTest = variant_test_class("bart", __name__)
SwitchModelTest = variant_test_class("switch", __name__)
