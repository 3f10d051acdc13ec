"""transformers' ModelTesterMixin on every encoder-decoder variant (see suite.py)."""

from tests.transformers_suite.suite import family_test_classes

globals().update(family_test_classes("encoder-decoder", __name__))
