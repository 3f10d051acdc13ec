"""transformers' ModelTesterMixin on every decoder variant (see suite.py)."""

from tests.transformers_suite.suite import family_test_classes

globals().update(family_test_classes("decoder", __name__))
