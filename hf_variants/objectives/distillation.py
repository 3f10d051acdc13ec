"""DistilBERT distillation (Sanh et al. 2019): a student trained on
    alpha_ce · T² · KL(teacher/T ‖ student/T)  +  alpha_mlm · MLM  +  alpha_cos · (1 − cos(h_student, h_teacher)),
initialised from every other layer of its teacher (`init_student_from_teacher`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedModel, Trainer

from ..variants.distilbert import HfvDistilBertConfig, HfvDistilBertForMaskedLM

_LAYER_KEY = re.compile(r"^model\.encoder\.layers\.(\d+)\.(.+)$")
# Teacher config entries that describe the teacher's own heads/history rather than the architecture elements.
_NOT_COPIED = ("model_type", "architectures", "transformers_version", "pretraining_heads", "classifier_pooling",
               "classifier_activation", "classifier_dropout", "num_hidden_layers", "num_hidden_groups",
               "type_vocab_size", "auto_map", "_name_or_path",
               # DistilBERT's own initialisation, padding row and dropout layout, not the teacher's
               "initializer_scheme", "initializer_factor", "embedding_padding_idx", "token_types_in_word_embeddings",
               "classifier_input_dropout", "token_classifier_dropout", "qa_dropout", "attention_output_dropout",
               "ffn_output_dropout", "add_pooling_layer", "multiple_choice_pooling")


def _as_hfv(teacher: PreTrainedModel | str) -> PreTrainedModel:
    """A teacher given as a directory or as a native transformers model becomes our equivalent model."""
    from ..convert import from_native  # imported lazily: conversion pulls in every native mapping

    if isinstance(teacher, str):
        from transformers import AutoModelForMaskedLM
        teacher = AutoModelForMaskedLM.from_pretrained(teacher)
    if not str(teacher.config.model_type).startswith("hfv_"):
        teacher = from_native(teacher)
    return teacher


def init_student_from_teacher(teacher: PreTrainedModel | str, layers: Sequence[int] | None = None,
                              **config_overrides: Any) -> HfvDistilBertForMaskedLM:
    """An `hfv_distilbert` masked-LM student copying the teacher's embeddings, MLM head and the layers `layers`
    (default: every other one, 0, 2, 4, ...). The teacher is an hf_variants encoder with an MLM head (e.g.
    `hfv_bert` ForMaskedLM/ForPreTraining), a native transformers one (converted first), or a directory.
    Token-type embeddings are dropped, as in DistilBERT."""
    teacher = _as_hfv(teacher)
    config = teacher.config
    if getattr(teacher, "lm_head", None) is None or not hasattr(getattr(teacher, "model", None), "encoder"):
        raise ValueError(f"the teacher must be an encoder with an MLM head, got {type(teacher).__name__}")
    if config.num_hidden_groups != config.num_hidden_layers:
        raise ValueError(f"teacher shares layers (num_hidden_groups={config.num_hidden_groups}): "
                         "there are no separate layers to copy")
    layers = list(range(0, config.num_hidden_layers, 2)) if layers is None else [int(i) for i in layers]
    if not layers or any(not 0 <= i < config.num_hidden_layers for i in layers):
        raise ValueError(f"layers={layers} must be a non-empty list of teacher layers in [0, {config.num_hidden_layers})")
    values = {k: v for k, v in config.to_dict().items() if k not in _NOT_COPIED}
    values.update(num_hidden_layers=len(layers), type_vocab_size=0, **config_overrides)
    student = HfvDistilBertForMaskedLM(HfvDistilBertConfig(**values))
    teacher_state = teacher.state_dict()
    mapped = {}
    for key in student.state_dict():
        match = _LAYER_KEY.match(key)
        source = f"model.encoder.layers.{layers[int(match[1])]}.{match[2]}" if match else key
        if source not in teacher_state:
            raise ValueError(f"teacher has no weight {source!r} for the student's {key!r}")
        mapped[key] = teacher_state[source].detach().clone()
    student.load_state_dict(mapped, strict=True)
    return student


def _mlm_logits(outputs: Any) -> torch.Tensor:
    logits = getattr(outputs, "logits", None)
    return outputs.prediction_logits if logits is None else logits


def distillation_loss_terms(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                            student_hidden: torch.Tensor | None, teacher_hidden: torch.Tensor | None,
                            positions: torch.Tensor, temperature: float) -> dict[str, torch.Tensor]:
    """Soft-target KL (scaled by T² so its gradients keep their size) and hidden-state cosine loss, both over
    the token `positions` (bool [batch, seq])."""
    s = student_logits[positions].float() / temperature
    t = teacher_logits[positions].float() / temperature
    ce = nn.functional.kl_div(nn.functional.log_softmax(s, -1), nn.functional.softmax(t, -1),
                              reduction="batchmean") * temperature**2
    terms = {"loss_ce": ce}
    if student_hidden is not None:
        cos = nn.functional.cosine_similarity(student_hidden[positions].float(), teacher_hidden[positions].float(), -1)
        terms["loss_cos"] = (1.0 - cos).mean()
    return terms


class DistillationTrainer(Trainer):
    """`Trainer` whose loss is DistilBERT's weighted sum; the teacher is frozen and never saved.

    Weights default to DistilBERT's (alpha_ce 5, alpha_mlm 2, alpha_cos 1, T 2). The soft loss runs over every
    non-padding token, or only masked ones with `restrict_ce_to_mask`. The latest terms are in `last_loss_terms`
    and their averages are added to each Trainer log.
    """

    def __init__(self, *args: Any, teacher_model: PreTrainedModel, temperature: float = 2.0, alpha_ce: float = 5.0,
                 alpha_mlm: float = 2.0, alpha_cos: float = 1.0, restrict_ce_to_mask: bool = False, **kwargs: Any):
        if temperature <= 0:
            raise ValueError(f"temperature={temperature} must be > 0")
        if min(alpha_ce, alpha_mlm, alpha_cos) < 0 or alpha_ce + alpha_mlm + alpha_cos == 0:
            raise ValueError(f"loss weights must be >= 0 and not all zero, got alpha_ce={alpha_ce}, "
                             f"alpha_mlm={alpha_mlm}, alpha_cos={alpha_cos}")
        super().__init__(*args, **kwargs)
        # The distillation terms are per-micro-batch means: Trainer must average them over accumulation steps
        # itself rather than expect sums over `num_items_in_batch` (the student's heads accept loss keywords).
        self.model_accepts_loss_kwargs = False
        if teacher_model.config.vocab_size != self.model.config.vocab_size:
            raise ValueError(f"teacher vocab_size={teacher_model.config.vocab_size} differs from the student's "
                             f"{self.model.config.vocab_size}: soft targets need the same vocabulary")
        if alpha_cos and teacher_model.config.hidden_size != self.model.config.hidden_size:
            raise ValueError(f"alpha_cos={alpha_cos} needs equal hidden sizes (teacher "
                             f"{teacher_model.config.hidden_size}, student {self.model.config.hidden_size})")
        self.teacher = teacher_model.to(self.args.device).eval().requires_grad_(False)
        self.temperature, self.restrict_ce_to_mask = temperature, restrict_ce_to_mask
        self.alphas = {"loss_ce": alpha_ce, "loss_mlm": alpha_mlm, "loss_cos": alpha_cos}
        self.last_loss_terms: dict[str, float] = {}
        self._term_sums: dict[str, float] = {}
        self._term_count = 0

    def compute_loss(self, model: nn.Module, inputs: dict[str, torch.Tensor], return_outputs: bool = False,
                     num_items_in_batch: Any = None):
        labels = inputs.get("labels")
        if labels is None and self.alphas["loss_mlm"]:
            raise ValueError("alpha_mlm > 0 needs `labels` (use an MLM collator)")
        want_hidden = self.alphas["loss_cos"] > 0
        student = model(**inputs, output_hidden_states=want_hidden)
        with torch.no_grad():
            teacher = self.teacher(**{k: v for k, v in inputs.items() if k != "labels"},
                                   output_hidden_states=want_hidden)
        attention_mask = inputs.get("attention_mask")
        positions = torch.ones_like(inputs["input_ids"], dtype=torch.bool) if attention_mask is None \
            else attention_mask.bool()
        if self.restrict_ce_to_mask and labels is not None:
            positions = labels != -100
        terms = distillation_loss_terms(
            _mlm_logits(student), _mlm_logits(teacher),
            student.hidden_states[-1] if want_hidden else None, teacher.hidden_states[-1] if want_hidden else None,
            positions, self.temperature)
        if labels is not None:
            terms["loss_mlm"] = student.loss
        loss = sum(self.alphas[name] * value for name, value in terms.items())
        self.last_loss_terms = {name: float(value.detach()) for name, value in terms.items()}
        for name, value in self.last_loss_terms.items():
            self._term_sums[name] = self._term_sums.get(name, 0.0) + value
        self._term_count += 1
        return (loss, student) if return_outputs else loss

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        if self._term_count and "loss" in logs:
            logs.update({name: total / self._term_count for name, total in self._term_sums.items()})
            self._term_sums, self._term_count = {}, 0
        super().log(logs, *args, **kwargs)
