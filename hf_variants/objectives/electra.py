"""ELECTRA replaced-token detection (Clark et al. 2020): a small MLM generator fills the masked positions with
samples, a discriminator learns which tokens were replaced; both train jointly on loss = MLM + λ·RTD (λ = 50).

`ElectraPreTrainingModel` wraps the two models so `Trainer` trains them as one; `save_pretrained(dir)` writes the
discriminator at `dir` (loads with `AutoModelForPreTraining`) and the generator at `dir/generator`
(`AutoModelForMaskedLM`). Feed it batches from `electra_collator` (masked inputs + MLM labels).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.modeling_outputs import ModelOutput

from ..families.losses import count_items, items_share, pop_loss_kwargs
from ..variants.electra import HfvElectraConfig, HfvElectraForMaskedLM, HfvElectraForPreTraining
from .mlm import MaskedLMCollator

GENERATOR_SUBFOLDER = "generator"
# The embedding parts both models share; the projection to hidden_size stays per model (their widths differ).
SHARED_EMBEDDINGS = ("word_embeddings", "position_embeddings", "token_type_embeddings", "norm")


@dataclass
class ElectraPreTrainingOutput(ModelOutput):
    loss: torch.Tensor | None = None
    mlm_loss: torch.Tensor | None = None
    rtd_loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None  # discriminator's replaced-token logits [batch, seq]
    generator_logits: torch.Tensor | None = None
    replaced: torch.Tensor | None = None  # 1 where the discriminator's input differs from the original


def electra_collator(tokenizer: PreTrainedTokenizerBase, mlm_probability: float = 0.15,
                     seed: int | None = None, **options: Any) -> MaskedLMCollator:
    """ELECTRA's masking: 15% of tokens, 85% of them [MASK] and 15% kept (no random tokens: the generator
    provides the replacements)."""
    options = {"mask_replace_prob": 0.85, "random_replace_prob": 0.0, **options}
    return MaskedLMCollator(tokenizer=tokenizer, mlm_probability=mlm_probability, seed=seed, **options)


def share_embeddings(generator: nn.Module, discriminator: nn.Module) -> None:
    """Make the generator use the discriminator's token/position/type embeddings (and their norm)."""
    gen, disc = generator.model.embeddings, discriminator.model.embeddings
    if gen.word_embeddings.weight.shape != disc.word_embeddings.weight.shape:
        raise ValueError(
            f"generator and discriminator token embeddings differ ({tuple(gen.word_embeddings.weight.shape)} vs "
            f"{tuple(disc.word_embeddings.weight.shape)}): give both the same vocab_size and embedding_size"
        )
    for name in SHARED_EMBEDDINGS:
        if getattr(disc, name) is not None:
            setattr(gen, name, getattr(disc, name))
    generator.tie_weights()  # its MLM decoder is tied to the (now shared) token table


class ElectraPreTrainingModel(PreTrainedModel):
    """Generator + discriminator trained jointly. Only the discriminator is used downstream."""

    config_class = HfvElectraConfig
    base_model_prefix = "discriminator"
    main_input_name = "input_ids"
    # Trainer passes `num_items_in_batch` (the step's masked-token count): the MLM part is then exact under gradient
    # accumulation and DDP, the RTD part a mean per micro-batch weighted by its share of the masked tokens.
    accepts_loss_kwargs = True
    # The wrapper shares the discriminator's config; it must accept whatever backend that config names.
    _supports_sdpa = _supports_flash_attn = _supports_flex_attn = _supports_attention_backend = True

    def __init__(self, discriminator: HfvElectraForPreTraining, generator: HfvElectraForMaskedLM,
                 rtd_weight: float = 50.0, mlm_weight: float = 1.0, temperature: float = 1.0):
        if discriminator.config.pretraining_heads != "rtd":
            raise ValueError(f"discriminator needs pretraining_heads='rtd', got {discriminator.config.pretraining_heads!r}")
        if getattr(generator, "lm_head", None) is None:
            raise ValueError(f"generator must be a masked-LM model (with lm_head), got {type(generator).__name__}")
        if temperature <= 0:
            raise ValueError(f"temperature={temperature} must be > 0")
        super().__init__(discriminator.config)
        self.discriminator = discriminator
        self.generator = generator
        self.rtd_weight, self.mlm_weight, self.temperature = rtd_weight, mlm_weight, temperature
        share_embeddings(generator, discriminator)

    @classmethod
    def from_config(cls, config: HfvElectraConfig, generator_size_ratio: float = 0.25,
                    **kwargs: Any) -> "ElectraPreTrainingModel":
        """Fresh models: the discriminator from `config`, the generator from `config.generator_config(ratio)`."""
        return cls(HfvElectraForPreTraining(config), HfvElectraForMaskedLM(config.generator_config(generator_size_ratio)),
                   **kwargs)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, **kwargs: Any) -> "ElectraPreTrainingModel":
        """Reload what `save_pretrained` wrote (e.g. to resume pretraining)."""
        discriminator = HfvElectraForPreTraining.from_pretrained(directory)
        generator = HfvElectraForMaskedLM.from_pretrained(os.path.join(directory, GENERATOR_SUBFOLDER))
        return cls(discriminator, generator, **kwargs)

    def get_input_embeddings(self) -> nn.Module:
        return self.discriminator.get_input_embeddings()

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, **kwargs: Any) -> ElectraPreTrainingOutput:
        """`input_ids`: masked inputs; `labels`: original ids at masked positions, -100 elsewhere."""
        if labels is None:
            raise ValueError("ELECTRA pretraining needs `labels` (original ids at masked positions, -100 elsewhere)")
        if self.generator.config.loss_chunk_size is not None:
            raise ValueError(f"ELECTRA's generator samples from its logits: its config.loss_chunk_size="
                             f"{self.generator.config.loss_chunk_size} must be None (the chunked loss returns none)")
        loss_kwargs = pop_loss_kwargs(kwargs)
        generated = self.generator(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                                   labels=labels, **loss_kwargs)
        masked = labels != -100
        original = torch.where(masked, labels, input_ids)
        with torch.no_grad():  # the sample is data for the discriminator: no gradient flows back through it
            logits = generated.logits[masked].float() / self.temperature
            sampled = torch.multinomial(torch.softmax(logits, dim=-1), 1).squeeze(-1) if logits.numel() else \
                original[masked]
            corrupted = original.clone()
            corrupted[masked] = sampled
            replaced = (corrupted != original).long()  # a sample equal to the original counts as "original"
        judged = self.discriminator(corrupted, attention_mask=attention_mask, token_type_ids=token_type_ids,
                                    labels=replaced)
        share = items_share(count_items(labels), loss_kwargs.get("num_items_in_batch"))
        loss = self.mlm_weight * generated.loss + self.rtd_weight * share * judged.loss
        return ElectraPreTrainingOutput(loss=loss, mlm_loss=generated.loss.detach(), rtd_loss=judged.loss.detach(),
                                        logits=judged.logits, generator_logits=generated.logits, replaced=replaced)

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs: Any) -> None:
        """Discriminator at `save_directory`, generator at `save_directory/generator` (each a normal checkpoint).

        A `state_dict` passed by Trainer is ignored: each model saves its own weights."""
        kwargs.pop("state_dict", None)
        self.discriminator.save_pretrained(save_directory, **kwargs)
        self.generator.save_pretrained(os.path.join(save_directory, GENERATOR_SUBFOLDER), **kwargs)

    def load_state_dict(self, state_dict: dict[str, torch.Tensor], strict: bool = True, assign: bool = False):
        """Accepts the wrapper's own keys, or a discriminator checkpoint's keys (what Trainer's resume reads from
        the root `model.safetensors`; the generator then comes from `from_pretrained`)."""
        if state_dict and not any(k.startswith(("discriminator.", "generator.")) for k in state_dict):
            return self.discriminator.load_state_dict(state_dict, strict=strict, assign=assign)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)
