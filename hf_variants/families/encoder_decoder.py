"""Encoder-decoder family (original Transformer, T5, ByT5, BART): shared embeddings, a bidirectional encoder, a
causal decoder with cross-attention, and the seq2seq task heads.

As in the encoder family, variants never subclass these by hand: `declare_variant` makes one named subclass per
entry of `SEQ2SEQ_HEADS` with the variant's config class.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from transformers import GenerationMixin
from transformers.modeling_outputs import (
    BaseModelOutput,
    BaseModelOutputWithPastAndCrossAttentions,
    ModelOutput,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
    Seq2SeqSequenceClassifierOutput,
)

from ..core.compat import (
    DynamicCache,
    EncoderDecoderCache,
    cache_output,
    can_return_tuple,
    output_cache,
    resolve_cache,
)
from ..core.config import HfvConfig
from ..core.embeddings import Embeddings, build_word_embeddings
from ..core.heads import SequenceClassificationHead
from ..core.moe import moe_losses, weighted_moe_loss
from ..core.stack import TransformerStack
from .base import HfvPreTrainedModel
from .losses import (
    chunked_lm_loss,
    chunked_loss_applies,
    count_items,
    items_share,
    pop_loss_kwargs,
    unshifted_token_loss,
)
from .plans import ENCODER_DECODER_FSDP_PLAN, LM_HEAD_FSDP_PLAN, LM_HEAD_TP_PLAN, encoder_decoder_tp_plan


class EncoderDecoderConfig(HfvConfig):
    """Encoder-decoder config: `num_hidden_layers` is the encoder depth, `num_decoder_layers` the decoder's.

    scale_decoder_outputs: multiply the decoder output by hidden_size**-0.5 before the LM head (T5 v1.0, whose
    head is tied to the embeddings). final_logits_bias: a (non-trained) per-token bias on the logits (BART).
    """

    model_type = "hfv_encoder_decoder"
    @property
    def base_model_tp_plan(self) -> dict[str, str]:
        """transformers' tensor-parallel plan of the base model, for this config's layers (families/plans.py)."""
        return encoder_decoder_tp_plan(self)

    base_model_fsdp_plan = ENCODER_DECODER_FSDP_PLAN
    is_encoder_decoder: bool = True
    # None = same depth as the encoder.
    num_decoder_layers: int | None = None
    decoder_start_token_id: int | None = 0
    type_vocab_size: int = 0
    classifier_pooling: str = "head"
    scale_decoder_outputs: bool = False
    final_logits_bias: bool = False
    # The base model given no decoder inputs decodes the source shifted right (native BartModel); otherwise it
    # refuses, as native T5 does.
    decoder_reads_shifted_source: bool = False

    def validate_elements(self) -> None:
        super().validate_elements()
        if self.classifier_pooling != "head":
            raise ValueError(
                f"classifier_pooling={self.classifier_pooling!r}: encoder-decoder models classify from the decoder "
                "state at the last EOS token; allowed: 'head'"
            )
        if self.num_hidden_groups != self.num_hidden_layers and self.num_decoder_layers % self.num_hidden_groups:
            raise ValueError(
                f"num_hidden_groups={self.num_hidden_groups} must divide num_decoder_layers={self.num_decoder_layers} "
                "(cross-layer sharing applies to both stacks)"
            )
        if self.num_experts and self.num_decoder_layers < self.moe_layer_frequency:
            raise ValueError(
                f"moe_layer_frequency={self.moe_layer_frequency} exceeds num_decoder_layers={self.num_decoder_layers}"
            )

    def get_text_config(self, decoder=None, encoder=None):
        """The decoder view used to build generation caches: decoder depth, and no sliding-window cache layers
        (the window is enforced by the mask; cross-attention caches must keep every encoder position)."""
        config = super().get_text_config(decoder=decoder, encoder=encoder)
        if decoder and not encoder:
            config = copy.deepcopy(config) if config is self else config
            config.num_hidden_layers = self.num_decoder_layers
            config.sliding_window = None
        return config


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int | None, decoder_start_token_id: int | None):
    """Teacher forcing: decoder inputs are the labels shifted right behind the start token (-100 -> pad)."""
    if decoder_start_token_id is None:
        raise ValueError("decoder_start_token_id is None: set it in the config to derive decoder inputs from labels")
    if pad_token_id is None:
        raise ValueError("pad_token_id is None: set it in the config to derive decoder inputs from labels")
    shifted = labels.new_full(labels.shape, decoder_start_token_id)
    shifted[:, 1:] = labels[:, :-1]
    return shifted.masked_fill(shifted == -100, pad_token_id)


@dataclass
class Seq2SeqStackOutput(BaseModelOutputWithPastAndCrossAttentions):
    router_logits: tuple[torch.Tensor, ...] | None = None


class Seq2SeqStack(TransformerStack):
    """Positions/norm/dropout on the shared token embeddings, then a transformer stack.

    The token table is the model's `shared` embedding, held here as a plain reference (not a submodule) so that
    its weight appears once in the state dict whatever `tie_word_embeddings` says.
    """

    def __init__(self, config: EncoderDecoderConfig, embed_tokens: nn.Embedding, is_decoder: bool):
        super().__init__(config, is_causal=is_decoder, has_cross_attention=is_decoder,
                         num_layers=config.num_decoder_layers if is_decoder else None)
        self.is_decoder = is_decoder
        self.embeddings = Embeddings(config, with_word_embeddings=False)
        self.set_embed_tokens(embed_tokens)

    def set_embed_tokens(self, embed_tokens: nn.Embedding) -> None:
        self.__dict__["embed_tokens"] = embed_tokens  # bypasses nn.Module registration on purpose

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cache: EncoderDecoderCache | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        past_key_values: EncoderDecoderCache | None = None,
        **kwargs,
    ) -> Seq2SeqStackOutput:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        cache = resolve_cache(cache, past_key_values)
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if self.training and any(layer.gradient_checkpointing for layer in self.layers):
            use_cache = False  # recomputed layers must not append to the cache twice
        if not (self.is_decoder and use_cache):
            cache = None
        elif cache is None:  # layers appended lazily, so any decoder depth fits
            cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        if inputs_embeds is None:
            Embeddings._check_ids("input_ids", input_ids, self.config.vocab_size)
            inputs_embeds = self.embed_tokens(input_ids)
        past_length = cache.get_seq_length() if cache is not None else 0
        if position_ids is None:
            self.embeddings.check_length(inputs_embeds.shape[1], past_length)
        hidden = self.embeddings(input_ids, inputs_embeds, position_ids=position_ids, past_length=past_length)
        for name in ("cache_position", "return_dict"):  # positions come from the cache length; always a ModelOutput
            kwargs.pop(name, None)
        stack = super().forward(
            hidden,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            **kwargs,
        )
        return Seq2SeqStackOutput(
            last_hidden_state=stack.last_hidden_state,
            **cache_output(cache),
            hidden_states=stack.hidden_states,
            attentions=stack.attentions,
            cross_attentions=stack.cross_attentions,
            router_logits=stack.router_logits,
        )


@dataclass
class Seq2SeqModelOutputWithRouter(Seq2SeqModelOutput):
    """`router_logits` holds the encoder's then the decoder's MoE layers; the balancing losses use each stack's own."""

    router_logits: tuple[torch.Tensor, ...] | None = None
    encoder_router_logits: tuple[torch.Tensor, ...] | None = None
    decoder_router_logits: tuple[torch.Tensor, ...] | None = None


class EncoderDecoderPreTrainedModel(HfvPreTrainedModel):
    config_class = EncoderDecoderConfig
    _no_split_modules = ["TransformerBlock"]

    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, EncoderDecoderForConditionalGeneration) and module.final_logits_bias is not None:
            from transformers import initialization as init

            init.zeros_(module.final_logits_bias)


class EncoderDecoderModel(EncoderDecoderPreTrainedModel):
    """Shared token embeddings -> encoder; decoder with causal self-attention and cross-attention."""

    def __init__(self, config: EncoderDecoderConfig):
        super().__init__(config)
        self.shared = build_word_embeddings(config)
        self.encoder = Seq2SeqStack(config, self.shared, is_decoder=False)
        self.decoder = Seq2SeqStack(config, self.shared, is_decoder=True)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.shared = value
        self.encoder.set_embed_tokens(value)
        self.decoder.set_embed_tokens(value)

    def get_encoder(self, modality: str | None = None) -> Seq2SeqStack:
        return self.encoder

    def get_decoder(self) -> Seq2SeqStack:
        return self.decoder

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
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        past_key_values: EncoderDecoderCache | None = None,
        **kwargs,
    ) -> Seq2SeqModelOutputWithRouter:
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            if input_ids is None or not self.config.decoder_reads_shifted_source:
                raise ValueError("pass decoder_input_ids (or decoder_inputs_embeds, or labels to a task head); only "
                                 "configs with decoder_reads_shifted_source=True (BART) decode the shifted source")
            # BART-style denoising default: the decoder reads the (shifted) source.
            decoder_input_ids = shift_tokens_right(input_ids, self.config.pad_token_id,
                                                   self.config.decoder_start_token_id)
        flags = dict(output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        if encoder_outputs is None:
            encoder_outputs = self.encoder(input_ids, attention_mask, inputs_embeds, **flags, **kwargs)
        elif not isinstance(encoder_outputs, ModelOutput):  # a tuple (last_hidden_state, hidden_states, attentions)
            encoder_outputs = BaseModelOutput(*encoder_outputs)
        decoder_outputs = self.decoder(
            decoder_input_ids,
            decoder_attention_mask,
            decoder_inputs_embeds,
            encoder_hidden_states=encoder_outputs.last_hidden_state,
            encoder_attention_mask=attention_mask,
            cache=resolve_cache(cache, past_key_values),
            use_cache=use_cache,
            **flags,
            **kwargs,
        )
        encoder_router_logits = getattr(encoder_outputs, "router_logits", None)
        router_logits = (encoder_router_logits or ()) + (decoder_outputs.router_logits or ())
        return Seq2SeqModelOutputWithRouter(
            last_hidden_state=decoder_outputs.last_hidden_state,
            **cache_output(output_cache(decoder_outputs)),
            decoder_hidden_states=decoder_outputs.hidden_states,
            decoder_attentions=decoder_outputs.attentions,
            cross_attentions=decoder_outputs.cross_attentions,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
            router_logits=router_logits or None,
            encoder_router_logits=encoder_router_logits,
            decoder_router_logits=decoder_outputs.router_logits,
        )


def _add_aux_loss(config, loss, outputs, attention_mask=None, decoder_attention_mask=None, share=1.0):
    """Add the weighted MoE balancing losses (when coefficients > 0), times `share` (this micro-batch's share of
    the step's items), to `loss`; returns (loss, unweighted losses as native Switch names them:
    encoder_aux_loss, encoder_z_loss, decoder_aux_loss, decoder_z_loss, and their sums aux_loss, z_loss).

    Each stack's losses are computed over its own tokens (and padding mask) and the two are summed, as native
    Switch Transformers does: the stacks' sequences differ in length and padding, so one joint loss would not."""
    parts = {"encoder": moe_losses(config, outputs.encoder_router_logits, attention_mask),
             "decoder": moe_losses(config, outputs.decoder_router_logits, decoder_attention_mask)}
    unweighted = {f"{stack}_{name}": value for stack, losses in parts.items() for name, value in losses.items()}
    for name in ("aux_loss", "z_loss"):
        values = [losses[name] for losses in parts.values() if name in losses]
        if values:
            unweighted[name] = sum(values[1:], values[0])
    weighted = weighted_moe_loss(config, {k: v for k, v in unweighted.items() if k in ("aux_loss", "z_loss")})
    if weighted is not None and loss is not None:
        loss = loss + share * weighted
    return loss, unweighted


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


class EncoderDecoderForConditionalGeneration(EncoderDecoderPreTrainedModel, GenerationMixin):
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

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    def get_encoder(self, modality: str | None = None) -> Seq2SeqStack:
        return self.model.encoder

    def get_decoder(self) -> Seq2SeqStack:
        return self.model.decoder

    def resize_token_embeddings(self, new_num_tokens=None, pad_to_multiple_of=None, mean_resizing=True):
        embeddings = super().resize_token_embeddings(new_num_tokens, pad_to_multiple_of, mean_resizing)
        if self.final_logits_bias is not None:  # keep BART's logits bias the size of the vocabulary
            size, old = embeddings.weight.shape[0], self.final_logits_bias
            extra = old.new_zeros(1, max(0, size - old.shape[-1]))
            self.final_logits_bias = nn.Buffer(torch.cat([old[:, :size], extra], dim=1))
        return embeddings

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

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
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
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
            resolve_cache(cache, past_key_values), inputs_embeds, decoder_inputs_embeds, use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states, **kwargs,
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
        loss, moe = _add_aux_loss(self.config, loss, outputs, attention_mask, decoder_attention_mask, share)
        return Seq2SeqLMOutputWithAux(loss=loss, logits=logits, **cache_output(output_cache(outputs)),
                                      **moe, router_logits=outputs.router_logits,
                                      encoder_router_logits=outputs.encoder_router_logits,
                                      decoder_router_logits=outputs.decoder_router_logits, **_seq2seq_fields(outputs))


class EncoderDecoderForSequenceClassification(EncoderDecoderPreTrainedModel):
    """Classifies from the decoder state at the last EOS token of each input (BART/T5 style). The loss is a mean
    over sequences: Trainer averages it over accumulation steps (`accepts_loss_kwargs = False`)."""

    accepts_loss_kwargs = False

    def __init__(self, config: EncoderDecoderConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = EncoderDecoderModel(config)
        self.classification_head = SequenceClassificationHead(config, config.num_labels)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.set_input_embeddings(value)

    def get_encoder(self, modality: str | None = None) -> Seq2SeqStack:
        return self.model.encoder

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs: tuple | BaseModelOutput | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
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
                             use_cache=False, output_attentions=output_attentions,
                             output_hidden_states=output_hidden_states, **kwargs)
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
        loss, _ = _add_aux_loss(self.config, loss, outputs, attention_mask, decoder_attention_mask)
        return Seq2SeqSequenceClassifierOutput(loss=loss, logits=logits, **_seq2seq_fields(outputs))


# Head name -> (class, Auto class name). `declare_variant` builds one subclass per entry.
SEQ2SEQ_HEADS = {
    "Model": (EncoderDecoderModel, "AutoModel"),
    "ForConditionalGeneration": (EncoderDecoderForConditionalGeneration, "AutoModelForSeq2SeqLM"),
    "ForSequenceClassification": (EncoderDecoderForSequenceClassification, "AutoModelForSequenceClassification"),
}
