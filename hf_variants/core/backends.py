"""Which attention kernel a forward runs: the configured backend, or the one an element needs instead.

Only this module decides the kernel; `masks.py` builds each mask in the form of the kernel chosen here and
`attention.py` calls it. Attention weights are only materialised by the eager kernel; a per-head additive bias is
only taken by eager and sdpa; a sparse pattern (core/sparse.py) needs a mask, which flash kernels do not take.
"""

from __future__ import annotations

from .attention_scores import needs_eager

PAGED_EAGER = "paged|eager"
# Kernels that take a per-head additive bias, and kernels that take an arbitrary mask pattern (flex: a BlockMask).
BIAS_BACKENDS = ("eager", "sdpa")
PATTERN_BACKENDS = ("eager", "sdpa", "flex_attention")


def forced_backend(config) -> str | None:
    """The kernel this config's elements run whatever the configured backend (eager for Transformer-XL's kernel and
    additive scores), or None. It depends only on fields that shape the modules, so a stack reads it once at build."""
    if config.position_embedding_type == "relative_xl":  # its own eager-style kernel (core/relative_xl.py)
        return "eager"
    if needs_eager(config):  # additive scores run on their own eager kernel (core/attention_scores.py)
        return "eager"
    return None


def attention_backend(config, has_bias: bool, output_attentions: bool, has_pattern: bool = False) -> str | None:
    """The backend this forward must use, or None for the configured one: eager for attention weights (and for
    the paged eager kernel outside continuous batching), sdpa for a bias or a sparse pattern the configured
    kernel cannot take. Masks must be built for the backend returned here."""
    return select_backend(config._attn_implementation, forced_backend(config), has_bias, output_attentions,
                          has_pattern)


def select_backend(configured: str | None, forced: str | None, has_bias: bool, output_attentions: bool,
                   has_pattern: bool = False) -> str | None:
    """`attention_backend` from the configured backend (read per forward: `set_attn_implementation` changes it) and
    the config's `forced_backend` (read once)."""
    if output_attentions or configured == PAGED_EAGER:
        return "eager"
    if forced is not None:
        return forced
    if has_bias and configured not in BIAS_BACKENDS:
        return "sdpa"
    if has_pattern and configured not in PATTERN_BACKENDS:
        return "sdpa"
    return None

