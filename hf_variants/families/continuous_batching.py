"""Continuous batching (`generate_batch`, `init_continuous_batching`, `transformers serve --continuous-batching`)
for our causal LMs, on transformers' own manager and paged cache (core/paged.py serves the attention).

Two differences from transformers' defaults, both on purpose:
- a request that fails inside the batching worker is raised in the caller of `generate_batch` (transformers only
  logs it and returns the request with `error` set, or without it);
- on CPU the paged cache is bounded (`CPU_NUM_BLOCKS` blocks of `page_size` tokens, `CPU_MAX_BATCH_TOKENS` tokens
  per step) unless the config sizes it: unbounded, transformers sizes it from free RAM (tens of GB, seconds to zero).
"""

from __future__ import annotations

import dataclasses

from transformers import ContinuousBatchingConfig

from ..core.paged import check_support as check_paged_support

CPU_NUM_BLOCKS = 16
CPU_MAX_BATCH_TOKENS = 512


def bounded_config(config: ContinuousBatchingConfig | None, device) -> ContinuousBatchingConfig | None:
    """`config` with the CPU bounds filled in where it leaves the cache size to free memory (a copy; GPU: as is)."""
    if getattr(device, "type", str(device)) != "cpu":
        return config
    config = ContinuousBatchingConfig() if config is None else config
    if config.num_blocks is not None or config.max_memory_percent is not None:
        return config
    max_batch_tokens = CPU_MAX_BATCH_TOKENS if config.max_batch_tokens is None else config.max_batch_tokens
    return dataclasses.replace(config, num_blocks=CPU_NUM_BLOCKS, max_batch_tokens=max_batch_tokens)


def raise_failures(num_expected: int, results: dict) -> None:
    """Raise a RuntimeError naming the failed or missing requests and the first error message."""
    failed = {request_id: out.error for request_id, out in results.items() if out.error is not None}
    if not failed and len(results) == num_expected:
        return
    first = next(iter(failed.values()), "the generation worker stopped")
    raise RuntimeError(
        f"continuous batching failed: {len(failed)} request(s) failed ({', '.join(failed) or 'none'}) and "
        f"{num_expected - len(results)} returned no result, of {num_expected}; first error: {first}"
    )


class ContinuousBatchingMixin:
    """Put before `GenerationMixin`: bounded CPU cache, early refusal of what the paged cache cannot serve, and
    worker failures raised to the caller."""

    def init_continuous_batching(self, generation_config=None, continuous_batching_config=None, *args, **kwargs):
        check_paged_support(self.config)
        config = bounded_config(continuous_batching_config, self.device)
        return super().init_continuous_batching(generation_config, config, *args, **kwargs)

    def generate_batch(self, inputs: list[list[int]], generation_config=None, *args, **kwargs) -> dict:
        """transformers' `generate_batch`; raises RuntimeError if any request failed or went missing."""
        results = super().generate_batch(inputs, generation_config, *args, **kwargs)
        config = self.generation_config if generation_config is None else generation_config
        per_prompt = config.num_return_sequences or 1
        raise_failures(len(inputs) * per_prompt, results)
        return results
