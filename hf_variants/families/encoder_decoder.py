"""The encoder-decoder family's task heads (seq2seq LM, sequence classification) and their MoE losses.

The config and base model live in encoder_decoder_model.py (re-exported here). As in the encoder family, variants
never subclass these by hand: `declare_variant` makes one named subclass per entry of `SEQ2SEQ_HEADS` with the
variant's config class.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import GenerationMixin
from transformers.modeling_outputs import Seq2SeqLMOutput, Seq2SeqSequenceClassifierOutput

from ..core.compat import cache_output, output_cache
from ..core.heads import SequenceClassificationHead, lm_head_projection
from .encoder_decoder_model import (  # noqa: F401 (re-exported: the family's public names)
    EncoderDecoderConfig,
    EncoderDecoderModel,
    EncoderDecoderPreTrainedModel,
    Seq2SeqDecoder,
    Seq2SeqEncoder,
    Seq2SeqLMAccessors,
    Seq2SeqModelOutputWithRouter,
    SharedEmbeddingsAccessors,
    shift_tokens_right,
)
from .losses import add_aux_loss, chunked_lm_loss, chunked_loss_applies, token_share, unshifted_token_loss
from .plans import LM_HEAD_FSDP_PLAN, LM_HEAD_TP_PLAN
from .task_head import TaskHead


def _seq2seq_fields(outputs: Seq2SeqModelOutputWithRouter) -> dict:
    return dict(
        decoder_hidden_states=outputs.decoder_hidden_states,
        decoder_attentions=outputs.decoder_attentions,
        cross_attentions=outputs.cross_attentions,
        encoder_last_hidden_state=outputs.encoder_last_hidden_state,
        encoder_hidden_states=outputs.encoder_hidden_states,
        encoder_attentions=outputs.encoder_attentions,
    )


@dataclass
class Seq2SeqLMOutputWithAux(Seq2SeqLMOutput):
    """The MoE losses unweighted, per stack under native Switch's names and summed over the stacks in `aux_loss`
    (balancing) and `z_loss`; the loss holds router_aux_loss_coef * aux_loss + router_z_loss_coef * z_loss."""

    aux_loss: torch.Tensor | None = None
    z_loss: torch.Tensor | None = None
    encoder_aux_loss: torch.Tensor | None = None
    encoder_z_loss: torch.Tensor | None = None
    decoder_aux_loss: torch.Tensor | None = None
    decoder_z_loss: torch.Tensor | None = None
    router_logits: tuple[torch.Tensor, ...] | None = None
    encoder_router_logits: tuple[torch.Tensor, ...] | None = None
    decoder_router_logits: tuple[torch.Tensor, ...] | None = None


class EncoderDecoderHead(TaskHead, EncoderDecoderPreTrainedModel):
    """An encoder-decoder task head: its inputs are `EncoderDecoderModel.forward`'s (families/task_head.py)."""

    base_model_class = EncoderDecoderModel


class EncoderDecoderForConditionalGeneration(Seq2SeqLMAccessors, EncoderDecoderHead, GenerationMixin):
    """Seq2seq LM: `labels` become decoder inputs by shifting right behind `decoder_start_token_id`."""

    _tied_weights_keys = {"lm_head.weight": "model.shared.weight"}
    _tp_plan = LM_HEAD_TP_PLAN
    _fsdp_plan = LM_HEAD_FSDP_PLAN

    def __init__(self, config: EncoderDecoderConfig):
        super().__init__(config)
        self.model = EncoderDecoderModel(config)
        self.lm_head_projection = lm_head_projection(config)  # factorized embeddings only
        self.lm_head = nn.Linear(config.embedding_size, config.vocab_size, bias=False)
        if config.final_logits_bias:
            self.final_logits_bias = nn.Buffer(torch.zeros(1, config.vocab_size))
        else:
            self.final_logits_bias = None
        self.post_init()

    def get_decoder(self) -> Seq2SeqDecoder:
        return self.model.decoder

    def resize_token_embeddings(self, new_num_tokens=None, pad_to_multiple_of=None, mean_resizing=True):
        embeddings = super().resize_token_embeddings(new_num_tokens, pad_to_multiple_of, mean_resizing)
        if self.final_logits_bias is not None:  # keep BART's logits bias the size of the vocabulary
            size, old = embeddings.weight.shape[0], self.final_logits_bias
            extra = old.new_zeros(1, max(0, size - old.shape[-1]))
            self.final_logits_bias = nn.Buffer(torch.cat([old[:, :size], extra], dim=1))
        return embeddings

    def base_outputs(self, inputs, targets):
        if targets["labels"] is not None and inputs.get("use_cache") is None:
            inputs["use_cache"] = False  # training: no KV cache to fill (copies of every key/value; as native BART)
        return super().base_outputs(inputs, targets)

    def head_outputs(self, outputs, inputs, loss_kwargs, labels=None) -> Seq2SeqLMOutputWithAux:
        sequence = outputs.last_hidden_state
        if self.config.scale_decoder_outputs:
            sequence = sequence * self.config.hidden_size**-0.5
        if self.lm_head_projection is not None:
            sequence = self.lm_head_projection(sequence)
        logits = loss = None
        if chunked_loss_applies(self, labels, self.lm_head):  # config.loss_chunk_size: no full logits (None)
            bias = None if self.final_logits_bias is None else self.final_logits_bias[0].to(sequence.dtype)
            loss = chunked_lm_loss(self.config, sequence, self.lm_head, labels, shifted=False, bias=bias,
                                   **{k: v for k, v in loss_kwargs.items() if k != "shift_labels"})
        else:
            logits = self.lm_head(sequence)
            if self.final_logits_bias is not None:
                logits = logits + self.final_logits_bias.to(logits.dtype)
        if labels is not None and logits is not None:
            # Labels are aligned with the decoder positions (shifted into its inputs), so the unshifted token loss,
            # not `self.loss_function` (which maps "ForConditionalGeneration" to the shifting causal-LM loss).
            loss = unshifted_token_loss(logits, labels, **loss_kwargs)
        loss, moe = add_aux_loss(self, loss, outputs, inputs.get("attention_mask"), token_share(labels, loss_kwargs),
                                 inputs.get("decoder_attention_mask"))
        return Seq2SeqLMOutputWithAux(loss=loss, logits=logits, **cache_output(output_cache(outputs)),
                                      **moe, router_logits=outputs.router_logits,
                                      encoder_router_logits=outputs.encoder_router_logits,
                                      decoder_router_logits=outputs.decoder_router_logits, **_seq2seq_fields(outputs))


class EncoderDecoderForSequenceClassification(SharedEmbeddingsAccessors, EncoderDecoderHead):
    """Classifies from the decoder state at the last EOS token of each input (BART/T5 style). The loss is a mean
    over sequences: Trainer averages it over accumulation steps (`accepts_loss_kwargs = False`)."""

    accepts_loss_kwargs = False
    # Reads the source ids (EOS positions) and keeps no cache: no embeddings in, no cache arguments.
    unused_inputs = ("cache", "past_key_values", "use_cache", "inputs_embeds", "decoder_inputs_embeds")
    base_call_kwargs = {"use_cache": False}

    def __init__(self, config: EncoderDecoderConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = EncoderDecoderModel(config)
        self.classification_head = SequenceClassificationHead(config, config.num_labels)
        self.post_init()

    def _eos_token_id(self) -> int:
        eos = self.config.eos_token_id
        eos = eos[0] if isinstance(eos, list) else eos
        if eos is None:
            raise ValueError("sequence classification needs config.eos_token_id (its last occurrence is pooled)")
        return eos

    def base_outputs(self, inputs, targets):
        input_ids = inputs.get("input_ids")
        if input_ids is None:
            raise ValueError("sequence classification needs input_ids (the EOS token positions pick the state)")
        self._eos_token_id()
        if inputs.get("decoder_input_ids") is None and inputs.get("decoder_inputs_embeds") is None:
            # As native BART and T5: the decoder reads the shifted source.
            inputs["decoder_input_ids"] = shift_tokens_right(input_ids, self.config.pad_token_id,
                                                             self.config.decoder_start_token_id)
        return super().base_outputs(inputs, targets)

    def head_outputs(self, outputs, inputs, loss_kwargs, labels=None) -> Seq2SeqSequenceClassifierOutput:
        # loss_kwargs unused: a sequence-level mean is not weighted by token counts
        eos = self._eos_token_id()
        hidden = outputs.last_hidden_state
        eos_mask = inputs["input_ids"].eq(eos)
        counts = eos_mask.sum(1)
        if not torch.compiler.is_compiling() and (counts.min() != counts.max() or int(counts.min()) == 0):
            raise ValueError(f"every example needs the same (non-zero) number of EOS tokens (id {eos})")
        pooled = hidden[eos_mask].view(hidden.shape[0], -1, hidden.shape[-1])[:, -1:]
        logits = self.classification_head(pooled, None)
        loss = None
        if labels is not None:
            loss = self.loss_function(labels=labels, pooled_logits=logits, config=self.config)
        loss, _ = add_aux_loss(self, loss, outputs, inputs.get("attention_mask"),
                               decoder_attention_mask=inputs.get("decoder_attention_mask"))
        return Seq2SeqSequenceClassifierOutput(loss=loss, logits=logits, **_seq2seq_fields(outputs))


# Head name -> (class, Auto class name). `declare_variant` builds one subclass per entry.
SEQ2SEQ_HEADS = {
    "Model": (EncoderDecoderModel, "AutoModel"),
    "ForConditionalGeneration": (EncoderDecoderForConditionalGeneration, "AutoModelForSeq2SeqLM"),
    "ForSequenceClassification": (EncoderDecoderForSequenceClassification, "AutoModelForSequenceClassification"),
}
