"""The encoder-decoder family's config and base model: shared token embeddings, a bidirectional encoder and a causal
decoder with cross-attention.

Where embeddings live (the same in every family): the base model of a stack embeds, then runs its layers; a
`TransformerStack` embeds nothing. The encoder and decoder here are each such a base model (`Seq2SeqEncoder`,
`Seq2SeqDecoder`, PreTrainedModels like native BART's): its own positions/norm/dropout (`embeddings`) in front of
its own layers, and each records its own hidden states and attentions (core/recording.py). The token table is the
model's `shared` embedding, which both read by reference.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from transformers.modeling_outputs import (
    BaseModelOutput,
    BaseModelOutputWithPastAndCrossAttentions,
    ModelOutput,
    Seq2SeqModelOutput,
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
from ..core.recording import recordable_outputs, records_outputs
from ..core.stack import TransformerStack
from .base import HfvPreTrainedModel
from .plans import ENCODER_DECODER_FSDP_PLAN, encoder_decoder_tp_plan


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


class EncoderDecoderPreTrainedModel(HfvPreTrainedModel):
    config_class = EncoderDecoderConfig
    _no_split_modules = ["TransformerBlock"]

    def _init_weights(self, module):
        super()._init_weights(module)
        if getattr(module, "final_logits_bias", None) is not None:  # BART's (non-trained) logits bias
            from transformers import initialization as init

            init.zeros_(module.final_logits_bias)


class Seq2SeqStack(TransformerStack, EncoderDecoderPreTrainedModel):
    """One side of the model: positions/norm/dropout on the shared token embeddings, then the transformer layers.

    A PreTrainedModel so that it records its own outputs, and a `TransformerStack` itself (not holding one) so the
    parameter names stay `encoder.layers.N...` / `decoder.layers.N...`. The token table is held as a plain
    reference (not a submodule) so that its weight appears once in the state dict whatever `tie_word_embeddings`
    says.
    """

    def __init__(self, config: EncoderDecoderConfig, embed_tokens: nn.Embedding, is_decoder: bool):
        EncoderDecoderPreTrainedModel.__init__(self, config)  # (the stack's own __init__ would init nn.Module again)
        self.build_stack(config, is_causal=is_decoder, has_cross_attention=is_decoder,
                         num_layers=config.num_decoder_layers if is_decoder else None)
        self.is_decoder = is_decoder
        self.embeddings = Embeddings(config, with_word_embeddings=False)
        self.set_embed_tokens(embed_tokens)
        # No `post_init()` here: the model that holds both sides initialises them in module order (shared table,
        # encoder, decoder: the same random draws as before the sides were PreTrainedModels) and its parallel plans
        # already name `encoder.layers.*` / `decoder.layers.*` (a side's own post_init would prefix them twice).

    def set_embed_tokens(self, embed_tokens: nn.Embedding) -> None:
        self.__dict__["embed_tokens"] = embed_tokens  # bypasses nn.Module registration on purpose

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.set_embed_tokens(value)

    @records_outputs
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
        past_key_values: EncoderDecoderCache | None = None,
        labels: torch.Tensor | None = None,
        **kwargs,
    ) -> Seq2SeqStackOutput:
        """`labels` is accepted and ignored: `generate` hands the encoder the LM's model keywords (Seq2SeqTrainer's
        predict passes labels)."""
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
            inputs_embeds = Embeddings.lookup("input_ids", self.embed_tokens, input_ids, self.config.vocab_size)
        past_length = cache.get_seq_length() if cache is not None else 0
        if position_ids is None:
            self.embeddings.check_length(inputs_embeds.shape[1], past_length)
        hidden = self.embeddings(input_ids, inputs_embeds, position_ids=position_ids, past_length=past_length)
        kwargs.pop("cache_position", None)  # positions come from the cache length
        stack = super().forward(
            hidden,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask,
            **kwargs,
        )
        return Seq2SeqStackOutput(last_hidden_state=stack.last_hidden_state, **cache_output(cache))


class Seq2SeqEncoder(Seq2SeqStack):
    """The bidirectional side; records hidden states, self-attentions and router logits."""

    _can_record_outputs = recordable_outputs()

    def __init__(self, config: EncoderDecoderConfig, embed_tokens: nn.Embedding):
        super().__init__(config, embed_tokens, is_decoder=False)


class Seq2SeqDecoder(Seq2SeqStack):
    """The causal side reading the encoder; records cross-attentions as well."""

    _can_record_outputs = recordable_outputs(cross_attention=True)

    def __init__(self, config: EncoderDecoderConfig, embed_tokens: nn.Embedding):
        super().__init__(config, embed_tokens, is_decoder=True)


class SharedEmbeddingsAccessors:
    """What transformers reads on an encoder-decoder head whose base model is `self.model` with a `shared` token
    table: the input embeddings and the encoder (generation runs it once). Shared by the transformer and the
    recurrent encoder-decoder heads."""

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.set_input_embeddings(value)

    def get_encoder(self, modality: str | None = None) -> nn.Module:
        return self.model.encoder


class Seq2SeqLMAccessors(SharedEmbeddingsAccessors):
    """A seq2seq LM head's accessors: besides the shared table, the LM head `self.lm_head` (tied to it when
    `tie_word_embeddings`) and the decoder inputs derived from labels."""

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    def base_outputs(self, inputs: dict, targets: dict):
        """The base model's outputs; given `labels` and no decoder inputs, the decoder reads the labels shifted
        right (teacher forcing)."""
        labels = targets.get("labels")
        if labels is not None and inputs.get("decoder_input_ids") is None and inputs.get("decoder_inputs_embeds") is None:
            inputs["decoder_input_ids"] = self.prepare_decoder_input_ids_from_labels(labels)
        return super().base_outputs(inputs, targets)  # the task head's (families/task_head.py)


@dataclass
class Seq2SeqModelOutputWithRouter(Seq2SeqModelOutput):
    """`router_logits` holds the encoder's then the decoder's MoE layers; the balancing losses use each stack's own."""

    router_logits: tuple[torch.Tensor, ...] | None = None
    encoder_router_logits: tuple[torch.Tensor, ...] | None = None
    decoder_router_logits: tuple[torch.Tensor, ...] | None = None


class EncoderDecoderModel(EncoderDecoderPreTrainedModel):
    """Shared token embeddings -> encoder; decoder with causal self-attention and cross-attention."""

    def __init__(self, config: EncoderDecoderConfig):
        super().__init__(config)
        self.shared = build_word_embeddings(config)
        self.encoder = Seq2SeqEncoder(config, self.shared)
        self.decoder = Seq2SeqDecoder(config, self.shared)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.shared = value
        self.encoder.set_embed_tokens(value)
        self.decoder.set_embed_tokens(value)

    def get_encoder(self, modality: str | None = None) -> Seq2SeqEncoder:
        return self.encoder

    def get_decoder(self) -> Seq2SeqDecoder:
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
        past_key_values: EncoderDecoderCache | None = None,
        **kwargs,
    ) -> Seq2SeqModelOutputWithRouter:
        """The encoder and the decoder each record their outputs (`output_attentions=True`, ...)."""
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            if input_ids is None or not self.config.decoder_reads_shifted_source:
                raise ValueError("pass decoder_input_ids (or decoder_inputs_embeds, or labels to a task head); only "
                                 "configs with decoder_reads_shifted_source=True (BART) decode the shifted source")
            # BART-style denoising default: the decoder reads the (shifted) source.
            decoder_input_ids = shift_tokens_right(input_ids, self.config.pad_token_id,
                                                   self.config.decoder_start_token_id)
        if encoder_outputs is None:
            encoder_outputs = self.encoder(input_ids, attention_mask, inputs_embeds, **kwargs)
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
