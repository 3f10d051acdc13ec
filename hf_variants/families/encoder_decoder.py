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
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput, Seq2SeqSequenceClassifierOutput

from ..core.compat import EncoderDecoderCache, cache_output, can_return_tuple, output_cache, resolve_cache
from ..core.heads import SequenceClassificationHead
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
from .losses import (
    add_aux_loss,
    chunked_lm_loss,
    chunked_loss_applies,
    count_items,
    items_share,
    pop_loss_kwargs,
    unshifted_token_loss,
)
from .plans import LM_HEAD_FSDP_PLAN, LM_HEAD_TP_PLAN


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


class EncoderDecoderForConditionalGeneration(Seq2SeqLMAccessors, EncoderDecoderPreTrainedModel, GenerationMixin):
    """Seq2seq LM: `labels` become decoder inputs by shifting right behind `decoder_start_token_id`."""

    _tied_weights_keys = {"lm_head.weight": "model.shared.weight"}
    _tp_plan = LM_HEAD_TP_PLAN
    _fsdp_plan = LM_HEAD_FSDP_PLAN

    def __init__(self, config: EncoderDecoderConfig):
        super().__init__(config)
        self.model = EncoderDecoderModel(config)
        # Factorized embeddings: project back to embedding_size so the head can share the embedding matrix.
        self.lm_head_projection = (
            nn.Linear(config.hidden_size, config.embedding_size, bias=False)
            if config.embedding_size != config.hidden_size else None
        )
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

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: tuple | BaseModelOutput | None = None,
        cache: EncoderDecoderCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        past_key_values: EncoderDecoderCache | None = None,
        **kwargs,
    ) -> Seq2SeqLMOutputWithAux:
        loss_kwargs = pop_loss_kwargs(kwargs)
        if labels is not None and use_cache is None:
            use_cache = False  # training: no KV cache to fill (copies of every key/value; native BART does the same)
        if labels is not None and decoder_input_ids is None and decoder_inputs_embeds is None:
            decoder_input_ids = self.prepare_decoder_input_ids_from_labels(labels)
        outputs = self.model(
            input_ids, attention_mask, decoder_input_ids, decoder_attention_mask, encoder_outputs,
            resolve_cache(cache, past_key_values), inputs_embeds, decoder_inputs_embeds, use_cache=use_cache, **kwargs,
        )
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
        share = items_share(count_items(labels, ignore_index=loss_kwargs.get("ignore_index", -100)),
                            loss_kwargs.get("num_items_in_batch"))
        loss, moe = add_aux_loss(self, loss, outputs, attention_mask, share, decoder_attention_mask)
        return Seq2SeqLMOutputWithAux(loss=loss, logits=logits, **cache_output(output_cache(outputs)),
                                      **moe, router_logits=outputs.router_logits,
                                      encoder_router_logits=outputs.encoder_router_logits,
                                      decoder_router_logits=outputs.decoder_router_logits, **_seq2seq_fields(outputs))


class EncoderDecoderForSequenceClassification(SharedEmbeddingsAccessors, EncoderDecoderPreTrainedModel):
    """Classifies from the decoder state at the last EOS token of each input (BART/T5 style). The loss is a mean
    over sequences: Trainer averages it over accumulation steps (`accepts_loss_kwargs = False`)."""

    accepts_loss_kwargs = False

    def __init__(self, config: EncoderDecoderConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = EncoderDecoderModel(config)
        self.classification_head = SequenceClassificationHead(config, config.num_labels)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: tuple | BaseModelOutput | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> Seq2SeqSequenceClassifierOutput:
        if input_ids is None:
            raise ValueError("sequence classification needs input_ids (the EOS token positions pick the state)")
        eos = self.config.eos_token_id
        eos = eos[0] if isinstance(eos, list) else eos
        if eos is None:
            raise ValueError("sequence classification needs config.eos_token_id (its last occurrence is pooled)")
        kwargs.pop("use_cache", None)
        pop_loss_kwargs(kwargs)  # a sequence-level mean: not weighted by token counts
        if decoder_input_ids is None and kwargs.get("decoder_inputs_embeds") is None:
            # As native BART and T5: the decoder reads the shifted source.
            decoder_input_ids = shift_tokens_right(input_ids, self.config.pad_token_id,
                                                   self.config.decoder_start_token_id)
        outputs = self.model(input_ids, attention_mask, decoder_input_ids, decoder_attention_mask, encoder_outputs,
                             use_cache=False, **kwargs)
        hidden = outputs.last_hidden_state
        eos_mask = input_ids.eq(eos)
        counts = eos_mask.sum(1)
        if not torch.compiler.is_compiling() and (counts.min() != counts.max() or int(counts.min()) == 0):
            raise ValueError(f"every example needs the same (non-zero) number of EOS tokens (id {eos})")
        pooled = hidden[eos_mask].view(hidden.shape[0], -1, hidden.shape[-1])[:, -1:]
        logits = self.classification_head(pooled, None)
        loss = None
        if labels is not None:
            loss = self.loss_function(labels=labels, pooled_logits=logits, config=self.config)
        loss, _ = add_aux_loss(self, loss, outputs, attention_mask, decoder_attention_mask=decoder_attention_mask)
        return Seq2SeqSequenceClassifierOutput(loss=loss, logits=logits, **_seq2seq_fields(outputs))


# Head name -> (class, Auto class name). `declare_variant` builds one subclass per entry.
SEQ2SEQ_HEADS = {
    "Model": (EncoderDecoderModel, "AutoModel"),
    "ForConditionalGeneration": (EncoderDecoderForConditionalGeneration, "AutoModelForSeq2SeqLM"),
    "ForSequenceClassification": (EncoderDecoderForSequenceClassification, "AutoModelForSequenceClassification"),
}
