"""Decoder-only family (GPT-2, LLaMA, Mistral, Mixtral): the causal base model, its task heads and generation.

Generation is transformers' own: the models inherit `GenerationMixin`, keep keys/values in transformers' Cache
classes (a `DynamicCache` built from the config, so a `sliding_window` gives sliding-window cache layers; a
`StaticCache` with `cache_implementation="static"`), and take `position_ids` from `generate`, which derives them
from the attention mask so left-padded prompts get the right positions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers.generation import GenerationMixin
from transformers.modeling_outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
    SequenceClassifierOutputWithPast,
)

from ..core.compat import (
    Cache,
    DynamicCache,
    cache_output,
    output_cache,
    resolve_cache,
    slice_logits_to_keep,
)
from ..core.config import HfvConfig
from ..core.embeddings import Embeddings
from ..core.heads import lm_head_projection
from ..core.paged import past_length as paged_past_length
from ..core.recording import recordable_outputs, records_outputs
from ..core.relative_xl import SegmentMemory, use_cache_with_memory
from ..core.stack import TransformerStack
from .base import HfvPreTrainedModel
from .continuous_batching import ContinuousBatchingMixin
from .losses import add_aux_loss, chunked_lm_loss, chunked_loss_applies, token_share
from .plans import DECODER_FSDP_PLAN, LM_HEAD_FSDP_PLAN, LM_HEAD_TP_PLAN, decoder_tp_plan
from .task_head import TaskHead
from .token_heads import QuestionAnsweringMixin, TokenClassificationMixin


class DecoderConfig(HfvConfig):
    """Decoder config: the shared fields with decoder defaults (pre-norm, no token types). Every SPEC §4 element is
    valid here; `sliding_window` limits how far back each token attends (and what the cache keeps)."""

    model_type = "hfv_decoder"
    @property
    def base_model_tp_plan(self) -> dict[str, str]:
        """transformers' tensor-parallel plan of the base model, for this config's layers (families/plans.py)."""
        return decoder_tp_plan(self)

    base_model_fsdp_plan = DECODER_FSDP_PLAN
    norm_position: str = "pre"
    type_vocab_size: int = 0
    layer_norm_eps: float = 1e-5
    # Token classification's dropout: native decoders use 0.1 unless their config sets classifier_dropout.
    classifier_dropout: float | None = 0.1
    supports_relative_xl = True  # Transformer-XL (issue 15): relative_xl positions and memory_length


@dataclass
class DecoderModelOutput(BaseModelOutputWithPast):
    """`memory`: Transformer-XL's per-layer memory for the next segment (when `memory_length` > 0). Returned by
    models with experts or segment memory; the others return transformers' `BaseModelOutputWithPast`, as native
    dense decoders do (each field of a ModelOutput costs a scan of all its fields per assignment, every token)."""

    router_logits: tuple[torch.Tensor, ...] | None = None
    memory: tuple[torch.Tensor, ...] | None = None


@dataclass
class DecoderCausalLMOutput(CausalLMOutputWithPast):
    """`aux_loss` is the unweighted balancing loss and `router_logits` one [batch * seq, experts] tensor per MoE
    layer, as native Mixtral; `z_loss` the unweighted router z-loss (when `router_z_loss_coef` > 0); `memory`
    Transformer-XL's per-layer memory for the next segment (when `memory_length` > 0). Models without experts or
    segment memory return transformers' `CausalLMOutputWithPast`, as native dense decoders do."""

    aux_loss: torch.Tensor | None = None
    z_loss: torch.Tensor | None = None
    router_logits: tuple[torch.Tensor, ...] | None = None
    memory: tuple[torch.Tensor, ...] | None = None


class DecoderPreTrainedModel(HfvPreTrainedModel):
    config_class = DecoderConfig
    _can_record_outputs = recordable_outputs()

    @property
    def _can_compile_fullgraph(self) -> bool:
        """transformers' flag, per model: a dense decoder traces into one graph (a forward without cache and a
        static-cache decode step; tests/test_compile.py). With experts it does not: the expert loop, and the
        grouped path where grouped_mm cannot run, read per-expert token counts back to the host."""
        return not self.config.num_experts


class DecoderModel(DecoderPreTrainedModel):
    """Embeddings -> causal transformer stack (-> final norm for pre-norm), with a KV cache when `use_cache`."""

    def __init__(self, config: DecoderConfig):
        super().__init__(config)
        self.embeddings = Embeddings(config)
        self.decoder = TransformerStack(config, is_causal=True)
        # experts are built here or not at all: whether outputs carry router logits (DecoderModelOutput)
        self.has_experts = bool(config.num_experts)
        if self.decoder.final_dropout is not None:
            # GPT-2/LLaMA-style decoders apply no dropout after the final norm (T5's stacks do).
            self.decoder.final_dropout = nn.Identity()
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
        position_ids: torch.Tensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        token_type_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        memory: list[torch.Tensor] | None = None,
        **kwargs,
    ) -> DecoderModelOutput | BaseModelOutputWithPast:
        """Hidden states, attentions and router logits are recorded (`output_attentions=True`, ...:
        core/recording.py). `memory`: Transformer-XL segment recurrence (outputs.memory of the previous segment;
        core/relative_xl.py)."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if past_key_values is not None:
            cache = resolve_cache(cache, past_key_values)
        if memory is not None:
            use_cache = use_cache_with_memory(self.config, memory, use_cache, cache)
        use_cache = self.config.use_cache if use_cache is None else use_cache
        # (the layers' own flags: transformers' `is_activation_checkpointing` walks every module, per forward)
        if use_cache and self.training and any(layer.gradient_checkpointing for layer in self.decoder.layers):
            use_cache = False  # recomputed layers must not append to the cache twice
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config)
        reference = input_ids if input_ids is not None else inputs_embeds
        past_length = None  # (read from the cache only where needed: `generate` passes position_ids)
        if position_ids is None:
            # Consecutive positions after the cached ones; `generate` passes mask-derived ids for left padding.
            past_length = paged_past_length(cache)
            position_ids = torch.arange(reference.shape[1], device=reference.device).unsqueeze(0) + past_length
        if attention_mask is not None and attention_mask.ndim == 2 and attention_mask.device != reference.device:
            attention_mask = attention_mask.to(reference.device)  # (compared first: a no-op `to` is still a dispatch)

        hidden = self.embeddings(input_ids, inputs_embeds, token_type_ids, position_ids, past_length)
        memory_length = self.config.memory_length
        if memory_length:
            kwargs["xl_memory"] = segments = SegmentMemory(self.config, memory, self.decoder.num_layers)
        stack = self.decoder(hidden, attention_mask=attention_mask, position_ids=position_ids, cache=cache,
                             past_length=past_length, **kwargs)
        if not (memory_length or self.has_experts):  # transformers' own class, as native dense decoders
            return BaseModelOutputWithPast(last_hidden_state=stack.last_hidden_state,
                                           **cache_output(cache if use_cache else None))
        return DecoderModelOutput(last_hidden_state=stack.last_hidden_state,
                                  **cache_output(cache if use_cache else None),
                                  memory=segments.output() if memory_length else None)


class DecoderHead(TaskHead, DecoderPreTrainedModel):
    """A decoder task head: its inputs are `DecoderModel.forward`'s (families/task_head.py)."""

    base_model_class = DecoderModel


class DecoderForCausalLM(DecoderHead, ContinuousBatchingMixin, GenerationMixin):
    """Next-token prediction; the LM head is tied to the word embeddings when `tie_word_embeddings`."""

    _tied_weights_keys = {"lm_head.weight": "model.embeddings.word_embeddings.weight"}
    _tp_plan = LM_HEAD_TP_PLAN
    _fsdp_plan = LM_HEAD_FSDP_PLAN
    # `logits_to_keep`: only the positions whose logits are needed go through the head (1 during generation)
    head_arguments = {"labels": None, "logits_to_keep": 0}

    def __init__(self, config: DecoderConfig):
        super().__init__(config)
        self.model = DecoderModel(config)
        self.lm_head_projection = lm_head_projection(config)  # factorized embeddings only
        self.lm_head = nn.Linear(config.embedding_size, config.vocab_size, bias=False)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    def head_outputs(self, outputs, inputs, loss_kwargs, labels=None,
                     logits_to_keep=0) -> DecoderCausalLMOutput | CausalLMOutputWithPast:
        hidden = slice_logits_to_keep(outputs.last_hidden_state, logits_to_keep)
        if self.lm_head_projection is not None:
            hidden = self.lm_head_projection(hidden)
        logits = loss = None
        if labels is not None and chunked_loss_applies(self, labels, self.lm_head):  # loss_chunk_size: no logits
            loss = chunked_lm_loss(self.config, hidden, self.lm_head, labels, shifted=True, **loss_kwargs)
        else:
            logits = self.lm_head(hidden)
        if labels is not None and logits is not None:  # shifted inside (or `shift_labels`); sum / num_items_in_batch
            loss = self.loss_function(logits, labels, vocab_size=self.config.vocab_size, **loss_kwargs)
        # No experts, no memory, router logits not asked for: transformers' own class, as native dense decoders (a
        # dense model asked for them gets `router_logits=()`, recorded into the base output, and our class)
        if not isinstance(outputs, DecoderModelOutput) and "router_logits" not in outputs:
            return CausalLMOutputWithPast(loss=loss, logits=logits, **cache_output(output_cache(outputs)),
                                          hidden_states=outputs.hidden_states, attentions=outputs.attentions)
        share = token_share(labels, loss_kwargs, shifted=True) if loss is not None else 1.0  # (only weights a loss)
        loss, moe = add_aux_loss(self, loss, outputs, inputs.get("attention_mask"), share)
        return DecoderCausalLMOutput(
            loss=loss, aux_loss=moe.get("aux_loss"), z_loss=moe.get("z_loss"), logits=logits,
            **cache_output(output_cache(outputs)),
            hidden_states=outputs.hidden_states, attentions=outputs.attentions,
            router_logits=outputs.get("router_logits"), memory=outputs.get("memory"),
        )


def last_token_index(
    config, input_ids: torch.Tensor | None, attention_mask: torch.Tensor | None, batch_size: int, device
) -> torch.Tensor:
    """Index of each row's last real token: the rightmost non-pad id (either padding side, as native models do);
    from the attention mask when only embeddings are given; the last position otherwise."""
    if config.pad_token_id is None and batch_size != 1:
        raise ValueError(
            "sequence classification of a batch needs config.pad_token_id to find each row's last token "
            f"(pad_token_id=None, batch_size={batch_size})"
        )
    if input_ids is not None and config.pad_token_id is not None:
        present = input_ids.ne(config.pad_token_id)
    elif attention_mask is not None and attention_mask.ndim == 2:
        present = attention_mask.bool()
    else:
        return torch.full((batch_size,), -1, dtype=torch.long, device=device)
    positions = torch.arange(present.shape[-1], device=device)
    return (positions * present.to(device).long()).argmax(-1)


class DecoderForSequenceClassification(DecoderHead):
    """Scores every position with a bias-free `score` layer and reads the last real token's scores.
    The loss is a mean over sequences: Trainer averages it over accumulation steps (`accepts_loss_kwargs = False`)."""

    accepts_loss_kwargs = False

    def __init__(self, config: DecoderConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = DecoderModel(config)
        self.score = nn.Linear(config.hidden_size, config.num_labels, bias=False)
        self.post_init()

    def head_outputs(self, outputs, inputs, loss_kwargs, labels=None) -> SequenceClassifierOutputWithPast:
        # loss_kwargs unused: a sequence-level mean is not weighted by token counts
        logits = self.score(outputs.last_hidden_state)
        batch_size = logits.shape[0]
        attention_mask = inputs.get("attention_mask")
        last = last_token_index(self.config, inputs.get("input_ids"), attention_mask, batch_size, logits.device)
        pooled_logits = logits[torch.arange(batch_size, device=logits.device), last]
        loss = None
        if labels is not None:
            loss = self.loss_function(logits=logits, labels=labels, pooled_logits=pooled_logits, config=self.config)
        loss, _ = add_aux_loss(self, loss, outputs, attention_mask)
        return SequenceClassifierOutputWithPast(
            loss=loss, logits=pooled_logits, **cache_output(output_cache(outputs)),
            hidden_states=outputs.hidden_states, attentions=outputs.attentions,
        )


# Per-token heads score a whole sequence at once: they keep no cache (and no Transformer-XL memory).
_NO_CACHE = ("cache", "past_key_values", "use_cache", "memory")


class DecoderForTokenClassification(TokenClassificationMixin, DecoderHead):
    unused_inputs = _NO_CACHE
    base_call_kwargs = {"use_cache": False}
    _base_model = DecoderModel


class DecoderForQuestionAnswering(QuestionAnsweringMixin, DecoderHead):
    unused_inputs = _NO_CACHE
    base_call_kwargs = {"use_cache": False}
    _base_model = DecoderModel


# Head name -> (class, Auto class name). `declare_variant` builds one subclass per entry.
DECODER_HEADS = {
    "Model": (DecoderModel, "AutoModel"),
    "ForCausalLM": (DecoderForCausalLM, "AutoModelForCausalLM"),
    "ForSequenceClassification": (DecoderForSequenceClassification, "AutoModelForSequenceClassification"),
    "ForTokenClassification": (DecoderForTokenClassification, "AutoModelForTokenClassification"),
    "ForQuestionAnswering": (DecoderForQuestionAnswering, "AutoModelForQuestionAnswering"),
}
