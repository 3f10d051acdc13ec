"""Task heads that read one vector per token — identical for encoders and decoders, so written once.

A family combines each mixin with its task-head base (families/task_head.py: the family's inputs, one forward) and
says how to build a headless base model (`_base_model`) and what to pass it besides the inputs
(`base_call_kwargs`, e.g. no KV cache for decoders).
"""

from __future__ import annotations

from torch import nn
from transformers.modeling_outputs import QuestionAnsweringModelOutput, TokenClassifierOutput

from ..core.heads import TokenClassificationHead
from .losses import add_aux_loss, token_share


class _PerTokenHeadMixin:
    @staticmethod
    def _base_model(config) -> nn.Module:
        raise NotImplementedError


class TokenClassificationMixin(_PerTokenHeadMixin):
    """dropout -> linear per token; loss = cross-entropy over labelled tokens (-100 ignored), a sum over the step's
    labelled tokens / `num_items_in_batch` when Trainer passes it."""

    accepts_loss_kwargs = True

    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = self._base_model(config)
        self.classifier = TokenClassificationHead(config, config.num_labels)
        self.post_init()

    def head_outputs(self, outputs, inputs, loss_kwargs, labels=None) -> TokenClassifierOutput:
        logits = self.classifier(outputs.last_hidden_state)
        loss = self.loss_function(logits, labels, self.config, **loss_kwargs) if labels is not None else None
        loss, _ = add_aux_loss(self, loss, outputs, inputs.get("attention_mask"), token_share(labels, loss_kwargs))
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                     attentions=outputs.attentions)


class QuestionAnsweringMixin(_PerTokenHeadMixin):
    """Extractive QA: start/end scores per token from one linear layer (after `config.qa_dropout`). The loss is a
    mean over sequences, as native: Trainer averages it over accumulation steps itself (`accepts_loss_kwargs = False`)."""

    accepts_loss_kwargs = False
    head_arguments = {"start_positions": None, "end_positions": None}

    def __init__(self, config):
        super().__init__(config)
        self.model = self._base_model(config)
        self.dropout = nn.Dropout(config.qa_dropout)  # DistilBERT's qa_dropout; p=0 draws no random numbers
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def head_outputs(self, outputs, inputs, loss_kwargs, start_positions=None,
                     end_positions=None) -> QuestionAnsweringModelOutput:
        # loss_kwargs unused: a sequence-level mean is not weighted by token counts
        start_logits, end_logits = self.qa_outputs(self.dropout(outputs.last_hidden_state)).split(1, dim=-1)
        start_logits, end_logits = start_logits.squeeze(-1).contiguous(), end_logits.squeeze(-1).contiguous()
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = self.loss_function(start_logits, end_logits, start_positions, end_positions)
        loss, _ = add_aux_loss(self, loss, outputs, inputs.get("attention_mask"))
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start_logits, end_logits=end_logits,
                                            hidden_states=outputs.hidden_states, attentions=outputs.attentions)
