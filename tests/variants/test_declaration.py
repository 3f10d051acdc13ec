"""One declaration per variant: everything the tools and tests need is read from `declare_variant`, variant modules
are found without a list, and imports flow one way (core -> families -> variants -> tools)."""

import ast
from pathlib import Path

import pytest

import hf_variants
from hf_variants.families.encoder import ENCODER_HEADS, EncoderConfig
from hf_variants.objectives.recipes import PRETRAINING_RECIPES, pretraining_recipe
from hf_variants.tokenization import HfvBertTokenizer, HfvTokenizerBase
from hf_variants.variants import VARIANTS, declare_variant

PACKAGE = Path(hf_variants.__file__).parent


def _module_level_calls(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.Call) and getattr(node.func, "id", None) == name
               for statement in tree.body for node in ast.walk(statement))


def test_every_variant_module_is_discovered_without_a_list():
    declaring = {f"hf_variants.variants.{p.stem}" for p in (PACKAGE / "variants").glob("*.py")
                 if p.stem != "spec" and _module_level_calls(p, "declare_variant")}
    assert declaring == {spec.classes["Model"].__module__ for spec in VARIANTS.values()}


def test_every_objective_resolves_to_a_recipe():
    for name, spec in VARIANTS.items():
        assert pretraining_recipe(spec.objective) is PRETRAINING_RECIPES[spec.objective], name
    with pytest.raises(ValueError, match="objective='mlm-typo' has no pretraining recipe; known objectives: mlm"):
        pretraining_recipe("mlm-typo")


def test_every_variant_has_its_own_tokenizer_class():
    classes = [spec.tokenizer for spec in VARIANTS.values()]
    assert len(set(classes)) == len(classes)
    for spec in VARIANTS.values():
        assert issubclass(spec.tokenizer, HfvTokenizerBase)
        assert spec.tokenizer.__name__ == spec.classes["Model"].__name__.removesuffix("Model") + "Tokenizer"


class HfvScratchConfig(EncoderConfig):
    model_type = "hfv_scratch"


class ScratchConfig(EncoderConfig):
    model_type = "hfv_scratch"


def _declare(config_class=HfvScratchConfig, **overrides):
    namespace = {"__name__": "tests.variants.scratch"}
    kwargs = dict(tokenizer=HfvBertTokenizer, objective="mlm", description="scratch", test_config={})
    try:
        return declare_variant("scratch", "encoder", config_class, ENCODER_HEADS, namespace, **{**kwargs, **overrides})
    finally:
        VARIANTS.pop("scratch", None)


def test_declare_variant_derives_the_class_names_and_tokenizer():
    spec = _declare()
    assert spec.classes["ForMaskedLM"].__name__ == "HfvScratchForMaskedLM"
    assert spec.tokenizer.__name__ == "HfvScratchTokenizer" and spec.tokenizer.__bases__ == (HfvBertTokenizer,)
    own = type("HfvScratchTokenizer", (HfvBertTokenizer,), {})
    assert _declare(tokenizer=own).tokenizer is own  # a class named for the variant is used as it is


@pytest.mark.parametrize(("overrides", "error", "message"), [
    ({"config_class": ScratchConfig}, ValueError, "config class 'ScratchConfig' must be named Hfv<Name>Config"),
    ({"tokenizer": "wordpiece"}, TypeError, "tokenizer must be a tokenizer class"),
    ({"objective": None}, TypeError, "objective must be the key of a pretraining recipe"),
    ({"test_config": ["head_dim", 8]}, TypeError, "test_config must be a dict of config overrides or None"),
])
def test_declare_variant_refuses_an_incomplete_declaration(overrides, error, message):
    with pytest.raises(error, match=message):
        _declare(**overrides)
    assert "scratch" not in VARIANTS


# What each layer may import from the package (relative imports, resolved): nothing above itself.
_ALLOWED = {
    "core": {"core"},
    "families": {"core", "families"},
    # Variant files also import the tokenizer classes (which import nothing from the model side).
    "variants": {"core", "families", "variants", "tokenization"},
}


def _package_imports(path: Path, layer: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = [layer] if node.level == 1 else []
            found.add((parts + (node.module or "").split("."))[0] or layer)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hf_variants"):
            found.add((node.module.split(".") + ["<package>"])[1])
        elif isinstance(node, ast.Import):
            found |= {(a.name.split(".") + ["<package>"])[1] for a in node.names if a.name.startswith("hf_variants")}
    return found


@pytest.mark.parametrize("layer", sorted(_ALLOWED))
def test_imports_flow_one_way(layer):
    upward = {path.name: sorted(_package_imports(path, layer) - _ALLOWED[layer])
              for path in sorted((PACKAGE / layer).glob("*.py"))}
    assert {name: found for name, found in upward.items() if found} == {}
