"""transformers' ModelTesterMixin on every encoder variant (see suite.py)."""

from tests.transformers_suite.suite import variant_test_class

BertModelTest = variant_test_class("bert", __name__)
DistilbertModelTest = variant_test_class("distilbert", __name__)
AlbertModelTest = variant_test_class("albert", __name__)
RobertaModelTest = variant_test_class("roberta", __name__)
ElectraModelTest = variant_test_class("electra", __name__)
