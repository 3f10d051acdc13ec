"""What moves between transformers releases: the KV-cache keyword (5.24 renamed `past_key_values` -> `cache`), and
keywords a forward does not know, which must fail loudly instead of vanishing into **kwargs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import transformers
from packaging.version import Version

import hf_variants
from hf_variants.core import compat
from tests.variant_configs import TEST_VARIANTS, tiny_config

ROOT = Path(__file__).resolve().parents[1]
GENERATIVE = {"decoder": "ForCausalLM", "encoder-decoder": "ForConditionalGeneration"}
# Switch drops tokens over an expert's capacity, which depends on how many tokens a forward holds: with room for
# every token, a step-by-step forward must equal the full one.
NO_DROPPING = {"switch": {"expert_capacity": 64}}


def _heads():
    for name in sorted(TEST_VARIANTS):
        for head, cls in hf_variants.VARIANTS[name].classes.items():
            yield pytest.param(name, head, cls, id=f"{name}-{head}")


@pytest.mark.parametrize("name, head, cls", list(_heads()))
def test_unknown_keyword_is_a_type_error(name, head, cls):
    model = cls(tiny_config(name)).eval()
    ids = torch.randint(4, 50, (1, 6))
    with pytest.raises(TypeError, match="pastkeyvalues"):
        model(input_ids=ids, pastkeyvalues=None)


@pytest.mark.parametrize("name", [n for n in sorted(TEST_VARIANTS) if hf_variants.VARIANTS[n].family in GENERATIVE])
def test_cache_under_either_name_continues_the_sequence(name):
    """A cache passed as `cache` or `past_key_values` is read (logits of the continuation equal the uncached
    forward), and the output holds it under the installed release's field name."""
    spec = hf_variants.VARIANTS[name]
    torch.manual_seed(0)
    model = spec.classes[GENERATIVE[spec.family]](tiny_config(name, **NO_DROPPING.get(name, {}))).eval()
    ids = torch.randint(4, 50, (2, 7))
    key = "decoder_input_ids" if spec.family == "encoder-decoder" else "input_ids"
    extra = {"input_ids": torch.randint(4, 50, (2, 5))} if spec.family == "encoder-decoder" else {}
    with torch.no_grad():
        full = model(**extra, **{key: ids}).logits[:, -1]
        for keyword in compat.CACHE_KWARGS:
            first = model(**extra, **{key: ids[:, :-1]}, use_cache=True)
            assert compat.CACHE_FIELD in first.keys(), f"cache missing from output under {compat.CACHE_FIELD!r}"
            cache = compat.output_cache(first)
            assert cache.get_seq_length() == ids.shape[1] - 1
            step = model(**extra, **{key: ids[:, -1:]}, use_cache=True, **{keyword: cache}).logits[:, -1]
            assert (step - full).abs().max().item() < 1e-5, keyword
            assert cache.get_seq_length() == ids.shape[1], f"{keyword}: cache not updated"
        other = compat.output_cache(model(**extra, **{key: ids[:, :2]}, use_cache=True))
        with pytest.raises(ValueError, match="cache"):
            model(**extra, **{key: ids[:, -1:]}, cache=cache, past_key_values=other)


@pytest.mark.parametrize("name", [n for n in sorted(TEST_VARIANTS) if hf_variants.VARIANTS[n].family in GENERATIVE])
def test_cached_generate_equals_uncached(name):
    """Greedy tokens with the KV cache equal those without: the cache reaches the model on this release."""
    spec = hf_variants.VARIANTS[name]
    torch.manual_seed(0)
    model = spec.classes[GENERATIVE[spec.family]](tiny_config(name, **NO_DROPPING.get(name, {}))).eval()
    ids = torch.randint(4, 50, (2, 5))
    kwargs = dict(max_new_tokens=6, do_sample=False, min_new_tokens=6, pad_token_id=model.config.pad_token_id or 0)
    cached = model.generate(ids, attention_mask=torch.ones_like(ids), use_cache=True, **kwargs)
    uncached = model.generate(ids, attention_mask=torch.ones_like(ids), use_cache=False, **kwargs)
    assert torch.equal(cached, uncached)


def test_declared_range_includes_the_installed_release():
    """pyproject's range, the lowest release CI tests (Makefile) and the installed release agree."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    low, high = re.search(r'"transformers>=([\d.]+),<([\d.]+)"', pyproject).groups()
    lowest = re.search(r"^TRANSFORMERS_LOWEST \?= ([\d.]+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert Version(lowest) == Version(low)
    assert Version(low) <= Version(transformers.__version__) < Version(high)
