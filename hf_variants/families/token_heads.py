"""Task heads that read one vector per token — identical for encoders and decoders, so written once.

A family combines each mixin with its PreTrainedModel base and says how to build a headless base model
(`_base_model`) and what to pass it besides the inputs (`_base_call_kwargs`, e.g. no KV cache for decoders).
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_outputs import QuestionAnsweringModelOutput, TokenClassifierOutput
from transformers.utils.generic import can_return_tuple

from ..core.heads import TokenClassificationHead
from .losses import add_aux_loss, count_items, items_share, pop_loss_kwargs


class _PerTokenHeadMixin:
    _base_call_kwargs: dict = {}

    @staticmethod
    def _base_model(config) -> nn.Module:
        raise NotImplementedError

    def _run_base(self, input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, kwargs):
        return self.model(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                          position_ids=position_ids, inputs_embeds=inputs_embeds, **self._base_call_kwargs, **kwargs)


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

    @can_return_tuple
    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, position_ids: torch.Tensor | None = None,
                inputs_embeds: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                **kwargs) -> TokenClassifierOutput:
        loss_kwargs = pop_loss_kwargs(kwargs)
        outputs = self._run_base(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, kwargs)
        logits = self.classifier(outputs.last_hidden_state)
        loss = self.loss_function(logits, labels, self.config, **loss_kwargs) if labels is not None else None
        share = items_share(count_items(labels, ignore_index=loss_kwargs.get("ignore_index", -100)),
                            loss_kwargs.get("num_items_in_batch"))
        loss, _ = add_aux_loss(self, loss, outputs, attention_mask, share)
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states,
                                     attentions=outputs.attentions)


class QuestionAnsweringMixin(_PerTokenHeadMixin):
    """Extractive QA: start/end scores per token from one linear layer (after `config.qa_dropout`). The loss is a
    mean over sequences, as native: Trainer averages it over accumulation steps itself (`accepts_loss_kwargs = False`)."""

    accepts_loss_kwargs = False

    def __init__(self, config):
        super().__init__(config)
        self.model = self._base_model(config)
        self.dropout = nn.Dropout(config.qa_dropout)  # DistilBERT's qa_dropout; p=0 draws no random numbers
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    @can_return_tuple
    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, position_ids: torch.Tensor | None = None,
                inputs_embeds: torch.Tensor | None = None, start_positions: torch.Tensor | None = None,
                end_positions: torch.Tensor | None = None, **kwargs) -> QuestionAnsweringModelOutput:
        pop_loss_kwargs(kwargs)  # a sequence-level mean: not weighted by token counts
        outputs = self._run_base(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, kwargs)
        start_logits, end_logits = self.qa_outputs(self.dropout(outputs.last_hidden_state)).split(1, dim=-1)
        start_logits, end_logits = start_logits.squeeze(-1).contiguous(), end_logits.squeeze(-1).contiguous()
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = self.loss_function(start_logits, end_logits, start_positions, end_positions)
        loss, _ = add_aux_loss(self, loss, outputs, attention_mask)
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start_logits, end_logits=end_logits,
                                            hidden_states=outputs.hidden_states, attentions=outputs.attentions)
