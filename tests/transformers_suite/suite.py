"""Builds the per-variant test classes over transformers' ModelTesterMixin (see upstream.py and testers.py)."""

from __future__ import annotations

import unittest

import pytest

import hf_variants
from tests.transformers_suite import upstream
from tests.transformers_suite.skips import SKIPS
from tests.transformers_suite.testers import VariantModelTest


def mixin() -> type:
    """transformers' ModelTesterMixin of the installed release; skips the calling test module without PyPI."""
    try:
        return upstream.test_modeling_common().ModelTesterMixin
    except upstream.UpstreamUnavailable as error:
        pytest.skip(f"transformers' ModelTesterMixin unavailable: {error}", allow_module_level=True)


def family_test_classes(family: str, module: str) -> dict[str, type]:
    """`<Variant>ModelTest` for every declared variant of `family` with a tiny test config, by class name (a test
    module puts them in its globals, so a new variant file is enrolled without an edit here)."""
    classes = [variant_test_class(name, module) for name, spec in hf_variants.VARIANTS.items()
               if spec.family == family and spec.test_config is not None]
    return {cls.__name__: cls for cls in classes}


def variant_test_class(variant: str, module: str) -> type:
    """`<Variant>ModelTest(VariantModelTest, ModelTesterMixin, unittest.TestCase)` over every head of `variant`,
    with the documented native-only assumptions (skips.py) skipped by name."""
    spec = hf_variants.VARIANTS[variant]
    attributes = {"variant": variant, "all_model_classes": tuple(spec.classes.values()),
                  "is_encoder_decoder": spec.family == "encoder-decoder", "__module__": module}
    for test_name, reason in {**SKIPS.get("*", {}), **SKIPS.get(spec.family, {}), **SKIPS.get(variant, {})}.items():
        attributes[test_name] = unittest.skip(reason)(lambda self: None)
    name = "".join(part.capitalize() for part in variant.split("_")) + "ModelTest"
    return type(name, (VariantModelTest, mixin(), unittest.TestCase), attributes)
