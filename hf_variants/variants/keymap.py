"""Declarative parameter-name maps between hf_variants models and their native transformers counterparts.

A map is a list of (native, ours) module-path templates; `{i}` stands for a layer index, `{e}` for an expert's.
Keys are renamed by the longest matching prefix, so the same table converts in both directions. Keys under the
native base-model prefix (`bert.`, `roberta.`, ...) map to ours under `model.`; head keys use `head_rules`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch


def _template_regex(template: str) -> re.Pattern:
    pattern = re.escape(template).replace(r"\{i\}", r"(?P<i>\d+)").replace(r"\{e\}", r"(?P<e>\d+)")
    return re.compile("^" + pattern + r"(?=\.|$)")


@dataclass(frozen=True)
class KeyMap:
    """Rename rules for one variant.

    base_rules: inside the base model; head_rules: task heads outside it. native_prefix: the attribute name of the
    native base model inside its task models ("bert"). Unmatched keys are an error, so a map cannot silently drop
    weights. `state_transforms` handle what a rename cannot (fused or transposed weights): pairs of functions
    (to_ours, to_native) applied to the whole state dict before/after renaming.
    """

    native_prefix: str
    base_rules: tuple[tuple[str, str], ...]
    head_rules: tuple[tuple[str, str], ...] = ()
    # Extra head rules for one head class ("ForTokenClassification"), tried before head_rules; they settle names
    # that mean different things in different native heads (ELECTRA's `classifier`).
    head_rules_for: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    # Native base-model attribute for one head class when it differs from native_prefix (LlamaForQuestionAnswering
    # keeps its base model under `transformer`, the other Llama heads under `model`); "" = at the top level.
    native_prefix_for: dict[str, str] = field(default_factory=dict)
    ignore_native: tuple[str, ...] = ()  # native keys with no counterpart (e.g. unused position_ids buffers)
    state_transforms: tuple[tuple[Callable, Callable], ...] = field(default=())

    def _rename(self, key: str, rules: Iterable[tuple[str, str]], to_ours: bool) -> str | None:
        best = None
        for native, ours in rules:
            source, target = (native, ours) if to_ours else (ours, native)
            match = _template_regex(source).match(key)
            if match and (best is None or match.end() > best[0].end()):  # longest wins; ties: first rule
                best = (match, target)
        if best is None:
            return None
        match, target = best
        for name, index in match.groupdict().items():
            target = target.replace("{" + name + "}", index)
        return target + key[match.end():]

    def rename(self, key: str, to_ours: bool, has_base_prefix: bool, head: str = "") -> str | None:
        """Map one key; None when no rule matches."""
        ours_prefix, native_prefix = "model.", self.native_prefix_for.get(head, self.native_prefix) + "."
        # Head-specific rules see whole keys first, so a head can claim a base-model weight (RoBERTa's multiple
        # choice classifies from `roberta.pooler`, which our head holds as `classifier.dense`).
        if has_base_prefix and (claimed := self._rename(key, self.head_rules_for.get(head, ()), to_ours)) is not None:
            return claimed
        if not has_base_prefix:
            return self._rename(key, self.base_rules, to_ours)
        if native_prefix == ".":  # native head keeps base weights at its top level (T5ForConditionalGeneration)
            if to_ours and (inner := self._rename(key, self.base_rules, True)) is not None:
                return ours_prefix + inner
            if not to_ours and key.startswith(ours_prefix):
                return self._rename(key[len(ours_prefix):], self.base_rules, False)
            return self._rename(key, self.head_rules_for.get(head, ()) + self.head_rules, to_ours)
        source_prefix, target_prefix = (native_prefix, ours_prefix) if to_ours else (ours_prefix, native_prefix)
        if key.startswith(source_prefix):
            inner = self._rename(key[len(source_prefix):], self.base_rules, to_ours)
            return None if inner is None else target_prefix + inner
        return self._rename(key, self.head_rules_for.get(head, ()) + self.head_rules, to_ours)

    def convert(
        self, state: dict[str, torch.Tensor], to_ours: bool, has_base_prefix: bool, head: str = ""
    ) -> dict[str, torch.Tensor]:
        """Rename a whole state dict; raises ValueError listing every key no rule covers."""
        if to_ours:
            for forward, _ in self.state_transforms:
                state = forward(state)
        out, missing = {}, []
        for key, value in state.items():
            if to_ours and any(re.search(pattern, key) for pattern in self.ignore_native):
                continue
            new_key = self.rename(key, to_ours, has_base_prefix, head)
            if new_key is None:
                missing.append(key)
            else:
                out[new_key] = value
        if missing:
            raise ValueError(f"no conversion rule for parameters: {missing}")
        if not to_ours:
            for _, backward in reversed(self.state_transforms):
                out = backward(out)
        return out
