"""The recurrent baseline as transformers models: the base model (shared embeddings, RNN encoder, attentional RNN
decoder; rnn_layers.py) and its seq2seq LM and sequence classification heads.

Generation uses transformers' `GenerationMixin` (greedy, beam, sampling) without a state cache: the encoder runs
once and each step re-reads the target prefix through the decoder RNN (see rnn_layers.py). The encoder and decoder
read the model's `shared` token table by reference, as in the encoder-decoder family; with no attention module to
hook, the base model collects its hidden states and attention weights itself.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import GenerationMixin
from transformers import initialization as init
from transformers.modeling_outputs import (
    BaseModelOutput,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
    SequenceClassifierOutput,
)

from ..core.compat import can_return_tuple
from .base import HfvPreTrainedModel
from .encoder_decoder_model import Seq2SeqLMAccessors, SharedEmbeddingsAccessors
from .losses import unshifted_token_loss
from .rnn_layers import RNNConfig, RNNDecoder, RNNEncoder, _lengths, final_states
from .task_head import TaskHead

__all__ = ["RNN_HEADS", "RNNConfig", "RNNForConditionalGeneration", "RNNForSequenceClassification", "RNNModel"]


class RNNPreTrainedModel(HfvPreTrainedModel):
    config_class = RNNConfig
    config: RNNConfig
    supports_gradient_checkpointing = False
    _no_split_modules: list[str] = []
    # The attention-backend flags stay inherited so that any `attn_implementation` loads (Trainer workflows pass
    # "sdpa"); it has no effect here: RNNAttention computes its scores itself.

    def floating_point_ops(self, input_dict: dict, exclude_embeddings: bool = True) -> int:
        """hf_variants.accounting counts transformer stacks; recurrent layers keep transformers' 6 x parameters x
        tokens estimate."""
        return self.estimated_flops(input_dict, exclude_embeddings)

    def _init_weights(self, module: nn.Module) -> None:
        """Luong et al.: every weight uniform in [-initializer_range, initializer_range]; biases zero."""
        if isinstance(module, (nn.Linear, nn.Embedding, nn.GRU, nn.LSTM)):
            for name, param in module.named_parameters(recurse=False):
                if name.startswith("bias"):
                    init.zeros_(param)
                else:
                    init.uniform_(param, -self.config.initializer_range, self.config.initializer_range)


class RNNModel(RNNPreTrainedModel):
    """Shared embeddings, the RNN encoder and the attentional RNN decoder; returns the attentional states."""

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        pad = config.pad_token_id if config.pad_token_id is not None and config.pad_token_id < config.vocab_size else None
        self.shared = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=pad)
        self.encoder = RNNEncoder(config, self.shared)
        self.decoder = RNNDecoder(config, self.shared)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.shared = value
        self.encoder.__dict__["embed_tokens"] = self.decoder.__dict__["embed_tokens"] = value

    def get_encoder(self, modality: str | None = None) -> RNNEncoder:
        return self.encoder

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: tuple | BaseModelOutput | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> Seq2SeqModelOutput:
        """`decoder_attention_mask` and `use_cache` are accepted and unused: the decoder is causal by construction
        (padding after a target's end cannot reach its real positions) and keeps no cache."""
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        kwargs.pop("return_dict", None)  # always a ModelOutput inside (`can_return_tuple` honours it)
        if encoder_outputs is None:
            encoder_outputs = self.encoder(input_ids, attention_mask, inputs_embeds,
                                           output_hidden_states=output_hidden_states)
        elif not isinstance(encoder_outputs, BaseModelOutput):
            encoder_outputs = BaseModelOutput(*encoder_outputs)
        states = encoder_outputs.last_hidden_state
        if attention_mask is None:
            attention_mask = torch.ones(states.shape[:2], dtype=torch.long, device=states.device)
        hidden, weights, decoder_hidden = self.decoder(decoder_input_ids, states, attention_mask,
                                                       decoder_inputs_embeds, output_hidden_states)
        return Seq2SeqModelOutput(
            last_hidden_state=hidden,
            decoder_hidden_states=decoder_hidden,
            cross_attentions=(weights[:, None],) if output_attentions else None,
            encoder_last_hidden_state=states,
            encoder_hidden_states=encoder_outputs.hidden_states,
        )


class RNNForConditionalGeneration(Seq2SeqLMAccessors, TaskHead, RNNPreTrainedModel, GenerationMixin):
    """Seq2seq LM: `labels` (aligned with the decoder positions) become decoder inputs by shifting right behind
    `decoder_start_token_id`; the loss is a mean over labelled tokens, or their sum / `num_items_in_batch` when
    Trainer passes it. Its inputs are `RNNModel.forward`'s (families/task_head.py)."""

    _tied_weights_keys = {"lm_head.weight": "model.shared.weight"}
    base_model_class = RNNModel

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        self.model = RNNModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def prepare_inputs_for_generation(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                                      encoder_outputs: BaseModelOutput | None = None, **kwargs) -> dict:
        """Every step gets the whole target prefix (no state cache) and the encoder outputs computed once."""
        inputs = {"decoder_input_ids": input_ids, "attention_mask": attention_mask, "encoder_outputs": encoder_outputs}
        for key in ("output_attentions", "output_hidden_states"):
            if kwargs.get(key) is not None:
                inputs[key] = kwargs[key]
        return inputs

    def head_outputs(self, outputs, inputs, loss_kwargs, labels=None) -> Seq2SeqLMOutput:
        logits = self.lm_head(outputs.last_hidden_state)
        loss = unshifted_token_loss(logits, labels, **loss_kwargs) if labels is not None else None
        return Seq2SeqLMOutput(
            loss=loss, logits=logits, decoder_hidden_states=outputs.decoder_hidden_states,
            cross_attentions=outputs.cross_attentions, encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
        )


class RNNForSequenceClassification(SharedEmbeddingsAccessors, TaskHead, RNNPreTrainedModel):
    """Classifies the encoder's final states (dropout -> linear); the decoder is kept, unused, so that a seq2seq
    checkpoint loads into it whole. Its inputs are `RNNEncoder.forward`'s (families/task_head.py). The loss is a
    mean over sequences: Trainer averages it over accumulation steps (`accepts_loss_kwargs = False`)."""

    accepts_loss_kwargs = False
    base_model_class = RNNEncoder

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = RNNModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.encoder_output_size, config.num_labels)
        self.post_init()

    def base_outputs(self, inputs, targets):
        return self.model.encoder(**inputs)

    def head_outputs(self, outputs, inputs, loss_kwargs, labels=None) -> SequenceClassifierOutput:
        # loss_kwargs unused: a sequence-level mean is not weighted by token counts
        states, attention_mask = outputs.last_hidden_state, inputs.get("attention_mask")
        lengths = states.new_full(states.shape[:1], states.shape[1], dtype=torch.long) if attention_mask is None \
            else _lengths(attention_mask)
        logits = self.classifier(self.dropout(final_states(self.config, states, lengths)))
        loss = None
        if labels is not None:
            loss = self.loss_function(labels=labels, pooled_logits=logits, config=self.config)
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)


RNN_HEADS = {
    "Model": (RNNModel, "AutoModel"),
    "ForConditionalGeneration": (RNNForConditionalGeneration, "AutoModelForSeq2SeqLM"),
    "ForSequenceClassification": (RNNForSequenceClassification, "AutoModelForSequenceClassification"),
}
