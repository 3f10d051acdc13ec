"""Encoder-only family (BERT, DistilBERT, ALBERT, RoBERTa, ELECTRA): the base model and its task heads.

Variants never subclass these by hand: `hf_variants.variants.declare_variant` makes one named subclass per
head with the variant's config class, so each is a separate, Auto-registered transformers model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers.modeling_outputs import (
    BaseModelOutputWithPoolingAndCrossAttentions,
    MaskedLMOutput,
    ModelOutput,
    MultipleChoiceModelOutput,
    SequenceClassifierOutput,
)

from ..core.config import HfvConfig
from ..core.embeddings import Embeddings
from ..core.heads import (
    DiscriminatorHead,
    MaskedLMHead,
    Pooler,
    SequenceClassificationHead,
    classifier_dropout,
)
from ..core.recording import recordable_outputs, records_outputs
from ..core.stack import TransformerStack
from .base import HfvPreTrainedModel
from .losses import (
    add_aux_loss,
    binary_token_loss,
    chunked_lm_loss,
    chunked_loss_applies,
    token_share,
    unshifted_token_loss,
)
from .plans import ENCODER_FSDP_PLAN, encoder_tp_plan
from .task_head import TaskHead
from .token_heads import QuestionAnsweringMixin, TokenClassificationMixin

PRETRAINING_HEADS = ("mlm", "mlm+nsp", "mlm+sop", "rtd")


class EncoderConfig(HfvConfig):
    """Encoder config. `pretraining_heads` picks what `...ForPreTraining` carries:
    "mlm" (RoBERTa, DistilBERT), "mlm+nsp" (BERT), "mlm+sop" (ALBERT), "rtd" (ELECTRA's discriminator)."""

    model_type = "hfv_encoder"
    @property
    def base_model_tp_plan(self) -> dict[str, str]:
        """transformers' tensor-parallel plan of the base model, for this config's layers (families/plans.py)."""
        return encoder_tp_plan(self)

    base_model_fsdp_plan = ENCODER_FSDP_PLAN
    pretraining_heads: str = "mlm+nsp"
    # Whether the bare `...Model` (AutoModel) carries the tanh pooler; None = when classifier_pooling="pooler".
    # RoBERTa: True (native RobertaModel has one although its sequence classifier does not read it).
    add_pooling_layer: bool | None = None
    # How multiple choice scores a candidate; None = as classifier_pooling. RoBERTa: "pooler" (native reads
    # its pooler there, then dropout(hidden_dropout_prob) and a linear layer).
    multiple_choice_pooling: str | None = None

    def validate_elements(self) -> None:
        super().validate_elements()
        if self.pretraining_heads not in PRETRAINING_HEADS:
            raise ValueError(f"pretraining_heads={self.pretraining_heads!r} is not supported; allowed: {PRETRAINING_HEADS}")
        if self.sliding_window is not None:
            raise ValueError(f"sliding_window={self.sliding_window} needs causal attention; encoders attend both ways")
        if self.multiple_choice_pooling not in (None, "pooler", "head"):
            raise ValueError(f"multiple_choice_pooling={self.multiple_choice_pooling!r} is not supported; "
                             "allowed: None, 'pooler', 'head'")


@dataclass
class EncoderPreTrainingOutput(ModelOutput):
    """Pretraining outputs; the fields a variant does not use stay None.

    Field names are native transformers' for the same output: prediction_logits: MLM scores;
    seq_relationship_logits: next-sentence scores (BertForPreTrainingOutput); sop_logits: sentence-order scores
    (AlbertForPreTrainingOutput); logits: ELECTRA's replaced-token-detection logits [batch, seq]
    (ElectraForPreTrainingOutput); aux_loss / z_loss: the unweighted MoE balancing losses (the loss holds them
    times their coefficients)."""

    loss: torch.Tensor | None = None
    prediction_logits: torch.Tensor | None = None
    seq_relationship_logits: torch.Tensor | None = None
    sop_logits: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    aux_loss: torch.Tensor | None = None
    z_loss: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


@dataclass
class EncoderModelOutput(BaseModelOutputWithPoolingAndCrossAttentions):
    router_logits: tuple[torch.Tensor, ...] | None = None


class EncoderPreTrainedModel(HfvPreTrainedModel):
    config_class = EncoderConfig
    _can_record_outputs = recordable_outputs()


class EncoderModel(EncoderPreTrainedModel):
    """Embeddings -> bidirectional transformer stack -> optional tanh pooler."""

    def __init__(self, config: EncoderConfig, add_pooling_layer: bool | None = None):
        super().__init__(config)
        if add_pooling_layer is None:
            add_pooling_layer = config.add_pooling_layer
        if add_pooling_layer is None:
            add_pooling_layer = config.classifier_pooling == "pooler"
        self.embeddings = Embeddings(config)
        self.encoder = TransformerStack(config, is_causal=False)
        self.pooler = Pooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    @records_outputs
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        **kwargs,
    ) -> EncoderModelOutput:
        """Hidden states, attentions and router logits are recorded (`output_attentions=True`, ...:
        core/recording.py)."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if position_ids is None:
            self.embeddings.check_length((input_ids if input_ids is not None else inputs_embeds).shape[1])
        hidden = self.embeddings(input_ids, inputs_embeds, token_type_ids, position_ids)
        sequence = self.encoder(hidden, attention_mask=attention_mask, **kwargs).last_hidden_state
        return EncoderModelOutput(
            last_hidden_state=sequence, pooler_output=self.pooler(sequence) if self.pooler is not None else None
        )


class EncoderHead(TaskHead, EncoderPreTrainedModel):
    """An encoder task head: its inputs are `EncoderModel.forward`'s (families/task_head.py)."""

    base_model_class = EncoderModel


class EncoderForMaskedLM(EncoderHead):
    _tied_weights_keys = {"lm_head.decoder.weight": "model.embeddings.word_embeddings.weight"}

    def __init__(self, config: EncoderConfig):
        super().__init__(config)
        self.model = EncoderModel(config, add_pooling_layer=False)
        self.lm_head = MaskedLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head.decoder = value

    def head_outputs(self, outputs, inputs, loss_kwargs, labels=None) -> MaskedLMOutput:
        logits = loss = None
        if chunked_loss_applies(self, labels, self.lm_head.decoder):  # config.loss_chunk_size: no full logits (None)
            loss = chunked_lm_loss(self.config, self.lm_head.transform(outputs.last_hidden_state),
                                   self.lm_head.decoder, labels, shifted=False, **loss_kwargs)
        else:
            logits = self.lm_head(outputs.last_hidden_state)
        if labels is not None and logits is not None:
            # sum / num_items_in_batch when given (native BERT ignores it: docs/training_fidelity.md)
            loss = self.loss_function(logits, labels, vocab_size=self.config.vocab_size, **loss_kwargs)
        loss, _ = add_aux_loss(self, loss, outputs, inputs.get("attention_mask"), token_share(labels, loss_kwargs))
        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                              attentions=outputs.attentions)


class EncoderForPreTraining(EncoderHead):
    """MLM (+ NSP or SOP) for BERT/ALBERT/RoBERTa/DistilBERT, or replaced-token detection for ELECTRA."""

    _tied_weights_keys = {"lm_head.decoder.weight": "model.embeddings.word_embeddings.weight"}
    head_arguments = {"labels": None, "next_sentence_label": None, "sentence_order_label": None}

    def __init__(self, config: EncoderConfig):
        super().__init__(config)
        heads = config.pretraining_heads
        if heads == "rtd":  # no MLM decoder to tie
            self._tied_weights_keys = {}
        self.model = EncoderModel(config, add_pooling_layer=heads in ("mlm+nsp", "mlm+sop"))
        self.lm_head = MaskedLMHead(config) if heads.startswith("mlm") else None
        self.seq_relationship = nn.Linear(config.hidden_size, 2) if "+" in heads else None
        # ALBERT's sentence-order head drops out its input; BERT's next-sentence head does not (both native)
        self.pair_dropout = nn.Dropout(classifier_dropout(config)) if heads == "mlm+sop" else None
        self.discriminator = DiscriminatorHead(config) if heads == "rtd" else None
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear | None:
        return self.lm_head.decoder if self.lm_head is not None else None

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head.decoder = value

    def head_outputs(self, outputs, inputs, loss_kwargs, labels=None, next_sentence_label=None,
                     sentence_order_label=None) -> EncoderPreTrainingOutput:
        attention_mask = inputs.get("attention_mask")
        sequence = outputs.last_hidden_state
        result = EncoderPreTrainingOutput(hidden_states=outputs.hidden_states, attentions=outputs.attentions)
        # Token-level parts (MLM, replaced-token detection) are sums / num_items_in_batch when given; the sentence
        # pair part is a per-sequence mean weighted by this micro-batch's share of the step's labelled tokens.
        num_items = loss_kwargs.get("num_items_in_batch")
        ignore_index = loss_kwargs.get("ignore_index", -100)
        counted = labels
        if self.discriminator is not None and labels is not None and attention_mask is not None:
            counted = labels.masked_fill(attention_mask == 0, ignore_index)  # RTD counts real tokens only
        share = token_share(counted, loss_kwargs)
        losses = []
        if self.lm_head is not None:
            result.prediction_logits = self.lm_head(sequence)
            if labels is not None:
                losses.append(unshifted_token_loss(result.prediction_logits, labels, **loss_kwargs))
        if self.seq_relationship is not None:
            pooled = outputs.pooler_output
            pair_logits = self.seq_relationship(self.pair_dropout(pooled) if self.pair_dropout is not None else pooled)
            if self.config.pretraining_heads == "mlm+sop":
                result.sop_logits = pair_logits
            else:
                result.seq_relationship_logits = pair_logits
            pair_label = next_sentence_label if next_sentence_label is not None else sentence_order_label
            if pair_label is not None:
                losses.append(share * nn.functional.cross_entropy(pair_logits.float(), pair_label.view(-1)))
        if self.discriminator is not None:
            result.logits = self.discriminator(sequence)
            if labels is not None:
                losses.append(binary_token_loss(result.logits, labels, attention_mask, num_items, ignore_index))
        loss = sum(losses) if losses else None
        result.loss, moe = add_aux_loss(self, loss, outputs, attention_mask, share)
        result.aux_loss, result.z_loss = moe.get("aux_loss"), moe.get("z_loss")
        return result


class EncoderForSequenceClassification(EncoderHead):
    """Regression, single-label or multi-label classification (`config.problem_type`). The loss is a mean over
    sequences: Trainer averages it over accumulation steps (`accepts_loss_kwargs = False`)."""

    accepts_loss_kwargs = False

    def __init__(self, config: EncoderConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = EncoderModel(config, add_pooling_layer=config.classifier_pooling == "pooler")
        self.classifier = SequenceClassificationHead(config, config.num_labels)
        self.post_init()

    def head_outputs(self, outputs, inputs, loss_kwargs, labels=None) -> SequenceClassifierOutput:
        # loss_kwargs unused: a sequence-level mean is not weighted by token counts
        logits = self.classifier(outputs.last_hidden_state, outputs.pooler_output)
        loss = None
        if labels is not None:
            loss = self.loss_function(labels=labels, pooled_logits=logits, config=self.config)
        loss, _ = add_aux_loss(self, loss, outputs, inputs.get("attention_mask"))
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                        attentions=outputs.attentions)


# The inputs of a multiple-choice head that carry a choices dimension: [batch, choices, seq(, hidden)].
_PER_CHOICE = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "inputs_embeds")


class EncoderForMultipleChoice(EncoderHead):
    """Scores each [batch, choices, seq] candidate with a one-output classifier; softmax over choices. The loss is a
    mean over examples: Trainer averages it over accumulation steps (`accepts_loss_kwargs = False`)."""

    accepts_loss_kwargs = False

    def __init__(self, config: EncoderConfig):
        super().__init__(config)
        pooling = config.multiple_choice_pooling or config.classifier_pooling
        self.model = EncoderModel(config, add_pooling_layer=pooling == "pooler")
        # RoBERTa's layout (multiple_choice_pooling="pooler") drops out with hidden_dropout_prob, as native
        dropout = config.hidden_dropout_prob if config.multiple_choice_pooling == "pooler" else None
        self.classifier = SequenceClassificationHead(config, 1, pooling=pooling, dropout=dropout)
        self.post_init()

    def base_outputs(self, inputs, targets):
        """The base model runs over batch * choices sequences."""
        return self.model(**{name: value.reshape(-1, *value.shape[2:])
                             if name in _PER_CHOICE and value is not None else value
                             for name, value in inputs.items()})

    def head_outputs(self, outputs, inputs, loss_kwargs, labels=None) -> MultipleChoiceModelOutput:
        reference = inputs.get("input_ids")
        num_choices = (reference if reference is not None else inputs["inputs_embeds"]).shape[1]
        logits = self.classifier(outputs.last_hidden_state, outputs.pooler_output).view(-1, num_choices)
        loss = nn.functional.cross_entropy(logits.float(), labels) if labels is not None else None
        loss, _ = add_aux_loss(self, loss, outputs, inputs.get("attention_mask"))
        return MultipleChoiceModelOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                         attentions=outputs.attentions)


class EncoderForTokenClassification(TokenClassificationMixin, EncoderHead):
    @staticmethod
    def _base_model(config):
        return EncoderModel(config, add_pooling_layer=False)


class EncoderForQuestionAnswering(QuestionAnsweringMixin, EncoderHead):
    @staticmethod
    def _base_model(config):
        return EncoderModel(config, add_pooling_layer=False)


# Head name -> (class, Auto class name). `declare_variant` builds one subclass per entry.
ENCODER_HEADS = {
    "Model": (EncoderModel, "AutoModel"),
    "ForMaskedLM": (EncoderForMaskedLM, "AutoModelForMaskedLM"),
    "ForPreTraining": (EncoderForPreTraining, "AutoModelForPreTraining"),
    "ForSequenceClassification": (EncoderForSequenceClassification, "AutoModelForSequenceClassification"),
    "ForTokenClassification": (EncoderForTokenClassification, "AutoModelForTokenClassification"),
    "ForQuestionAnswering": (EncoderForQuestionAnswering, "AutoModelForQuestionAnswering"),
    "ForMultipleChoice": (EncoderForMultipleChoice, "AutoModelForMultipleChoice"),
}
