"""transformers' ModelTesterMixin on every encoder variant (see suite.py)."""

from tests.transformers_suite.suite import family_test_classes

globals().update(family_test_classes("encoder", __name__))
