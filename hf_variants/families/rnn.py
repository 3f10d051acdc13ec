"""The pre-transformer baseline: a GRU/LSTM encoder-decoder with attention (Bahdanau et al. 2015; Luong et al. 2015).

Encoder: shared token embeddings -> dropout -> stacked (bi)directional GRU/LSTM layers over the real tokens only
(packed sequences, so padding never reaches a state). Decoder (Luong's global attention): embeddings -> stacked
unidirectional GRU/LSTM layers started from tanh(bridge(final encoder states)); each decoder state h_t queries
every encoder state h_s with `attention_score`, the context c_t = sum_s a_ts h_s, the attentional state
h~_t = tanh(W_c [c_t; h_t]) -> dropout -> LM head. Scores:

- "dot" (Luong):       score(h_t, h_s) = h_t . h_s
- "general" (Luong):   score(h_t, h_s) = h_t . (W_a h_s)
- "additive" (Bahdanau's alignment model, Luong's "concat"): score(h_t, h_s) = v_a . tanh(W_a h_t + U_a h_s)

Because attention reads the decoder state after its RNN step (Luong), teacher forcing runs every layer over the
whole target at once. Generation uses transformers' `GenerationMixin` (greedy, beam, sampling) without a state
cache: the encoder runs once and each step re-reads the target prefix through the decoder RNN — exact, and cheap
at these lengths (O(T^2) RNN steps for T new tokens).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from transformers import GenerationMixin, PreTrainedConfig
from transformers import initialization as init
from transformers.modeling_outputs import (
    BaseModelOutput,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
    SequenceClassifierOutput,
)

from ..core.compat import can_return_tuple
from .base import HfvPreTrainedModel
from .encoder_decoder import shift_tokens_right

RNN_TYPES = ("gru", "lstm")
ATTENTION_SCORES = ("additive", "general", "dot")
_RNN_CLASSES = {"gru": nn.GRU, "lstm": nn.LSTM}


def _positive_int(field: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{field}={value!r} must be a positive integer")


class RNNConfig(PreTrainedConfig):
    """Recurrent encoder-decoder with attention.

    - rnn_type: "gru" | "lstm"
    - attention_score: "additive" (Bahdanau) | "general" | "dot" (Luong); "dot" needs equal query and key sizes, so
      a unidirectional encoder (or use "general").
    - bidirectional_encoder: encoder states are [forward; backward] (2 * hidden_size wide).
    - num_hidden_layers / num_decoder_layers (None = same): stacked RNN layers of `hidden_size` units.
    - embedding_size (None = hidden_size): the shared source/target token table; a tied LM head needs it equal to
      hidden_size. attention_size (None = hidden_size): width of the additive score's tanh layer.
    - hidden_dropout_prob: on embeddings, between stacked layers and on the attentional state.
    - initializer_range: every weight ~ U(-r, r) (Luong et al.'s 0.1), biases 0.
    """

    model_type = "hfv_rnn_base"
    vocab_size: int = 16000
    hidden_size: int = 512
    embedding_size: int | None = None
    num_hidden_layers: int = 1
    num_decoder_layers: int | None = None
    rnn_type: str = "gru"
    bidirectional_encoder: bool = True
    attention_score: str = "additive"
    attention_size: int | None = None
    hidden_dropout_prob: float = 0.1
    initializer_range: float = 0.1
    pad_token_id: int | None = 0
    bos_token_id: int | None = 1
    eos_token_id: int | list[int] | None = 2
    decoder_start_token_id: int | None = 1
    is_encoder_decoder: bool = True
    tie_word_embeddings: bool = True
    # No KV cache: generation re-reads the target prefix each step (see the module docstring).
    use_cache: bool = False

    def __post_init__(self, **kwargs):
        if self.embedding_size is None:
            self.embedding_size = self.hidden_size
        if self.num_decoder_layers is None:
            self.num_decoder_layers = self.num_hidden_layers
        if self.attention_size is None:
            self.attention_size = self.hidden_size
        super().__post_init__(**kwargs)
        self.validate_elements()

    @property
    def encoder_output_size(self) -> int:
        return self.hidden_size * (2 if self.bidirectional_encoder else 1)

    def validate_elements(self) -> None:
        """Refuse impossible settings with the field, the value and what is allowed."""
        for name in ("vocab_size", "hidden_size", "embedding_size", "num_hidden_layers", "num_decoder_layers",
                     "attention_size"):
            _positive_int(name, getattr(self, name))
        if self.rnn_type not in RNN_TYPES:
            raise ValueError(f"rnn_type={self.rnn_type!r} is not supported; allowed values: 'gru', 'lstm'")
        if self.attention_score not in ATTENTION_SCORES:
            raise ValueError(f"attention_score={self.attention_score!r} is not supported by hfv_rnn; allowed values: "
                             "'additive', 'general', 'dot'")
        if not isinstance(self.bidirectional_encoder, bool):
            raise ValueError(f"bidirectional_encoder={self.bidirectional_encoder!r} must be True or False")
        if self.attention_score == "dot" and self.bidirectional_encoder:
            raise ValueError(
                "attention_score='dot' needs decoder states and encoder states of one size, but "
                f"bidirectional_encoder=True makes encoder states {self.encoder_output_size} wide against "
                f"hidden_size={self.hidden_size}: use attention_score='general' or bidirectional_encoder=False"
            )
        if self.tie_word_embeddings and self.embedding_size != self.hidden_size:
            raise ValueError(f"tie_word_embeddings=True needs embedding_size={self.embedding_size} to equal "
                             f"hidden_size={self.hidden_size} (or set tie_word_embeddings=False)")
        if not 0.0 <= self.hidden_dropout_prob < 1.0:
            raise ValueError(f"hidden_dropout_prob={self.hidden_dropout_prob!r} must be in [0, 1)")


class RNNAttention(nn.Module):
    """Scores every decoder state against every encoder state, softmax over the real source tokens."""

    def __init__(self, config: RNNConfig):
        super().__init__()
        self.score_type = config.attention_score
        query_size, key_size = config.hidden_size, config.encoder_output_size
        if self.score_type == "general":
            self.key_proj = nn.Linear(key_size, query_size, bias=False)  # W_a
        elif self.score_type == "additive":
            self.query_proj = nn.Linear(query_size, config.attention_size, bias=False)  # W_a
            self.key_proj = nn.Linear(key_size, config.attention_size, bias=False)  # U_a
            self.v = nn.Linear(config.attention_size, 1, bias=False)  # v_a

    def scores(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """query [batch, tgt, hidden], keys [batch, src, key] -> unnormalised scores [batch, tgt, src]."""
        if self.score_type == "dot":
            return query @ keys.transpose(1, 2)
        if self.score_type == "general":
            return query @ self.key_proj(keys).transpose(1, 2)
        hidden = torch.tanh(self.query_proj(query)[:, :, None] + self.key_proj(keys)[:, None])
        return self.v(hidden).squeeze(-1)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor | None):
        """(context [batch, tgt, key], weights [batch, tgt, src])."""
        scores = self.scores(query, keys)
        if key_mask is not None:
            scores = scores.masked_fill(~key_mask.bool()[:, None, :], torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1)
        return weights @ keys, weights


def _lengths(attention_mask: torch.Tensor) -> torch.Tensor:
    """Real lengths of right-padded rows; the RNN reads tokens in order, so a mask must be 1s then 0s."""
    lengths = attention_mask.long().sum(-1)
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    if not torch.equal((positions[None] < lengths[:, None]).long(), attention_mask.long()):
        raise ValueError("hfv_rnn reads right-padded inputs: each attention_mask row must be 1s followed by 0s")
    if bool((lengths == 0).any()):
        raise ValueError("hfv_rnn needs at least one real token in every input row")
    return lengths


def final_states(config: RNNConfig, encoder_hidden_states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The encoder's summary of each row: the forward direction's last real state (and the backward direction's
    first, which has read the whole input) -> [batch, encoder_output_size]."""
    rows = torch.arange(encoder_hidden_states.shape[0], device=encoder_hidden_states.device)
    last = encoder_hidden_states[rows, lengths.to(rows.device) - 1]
    if config.bidirectional_encoder:
        last = torch.cat([last[:, :config.hidden_size], encoder_hidden_states[:, 0, config.hidden_size:]], dim=-1)
    return last


class RNNEncoder(nn.Module):
    """Stacked (bi)directional RNN layers over packed sequences; outputs are zero at padding."""

    def __init__(self, config: RNNConfig, embed_tokens: nn.Embedding):
        super().__init__()
        self.config = config
        self.__dict__["embed_tokens"] = embed_tokens  # the model's `shared` table, not registered twice
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        rnn, directions = _RNN_CLASSES[config.rnn_type], 2 if config.bidirectional_encoder else 1
        self.layers = nn.ModuleList(
            rnn(config.embedding_size if i == 0 else config.hidden_size * directions, config.hidden_size,
                batch_first=True, bidirectional=config.bidirectional_encoder)
            for i in range(config.num_hidden_layers)
        )

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutput:
        """`output_attentions` / `return_dict` are accepted for `generate` (an RNN encoder has no attention)."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        hidden = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        if attention_mask is None:
            attention_mask = torch.ones(hidden.shape[:2], dtype=torch.long, device=hidden.device)
        lengths = _lengths(attention_mask).cpu()
        hidden = self.dropout(hidden)
        all_hidden = [hidden] if output_hidden_states else None
        for i, layer in enumerate(self.layers):
            if i > 0:
                hidden = self.dropout(hidden)
            packed = pack_padded_sequence(hidden, lengths, batch_first=True, enforce_sorted=False)
            hidden, _ = pad_packed_sequence(layer(packed)[0], batch_first=True, total_length=hidden.shape[1])
            if output_hidden_states:
                all_hidden.append(hidden)
        return BaseModelOutput(last_hidden_state=hidden, hidden_states=tuple(all_hidden) if all_hidden else None)


class RNNDecoder(nn.Module):
    """Stacked unidirectional RNN layers from the bridged encoder state, then global attention."""

    def __init__(self, config: RNNConfig, embed_tokens: nn.Embedding):
        super().__init__()
        self.config = config
        self.__dict__["embed_tokens"] = embed_tokens  # the model's `shared` table, not registered twice
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        rnn = _RNN_CLASSES[config.rnn_type]
        self.layers = nn.ModuleList(
            rnn(config.embedding_size if i == 0 else config.hidden_size, config.hidden_size, batch_first=True)
            for i in range(config.num_decoder_layers)
        )
        self.bridge = nn.Linear(config.encoder_output_size, config.num_decoder_layers * config.hidden_size)
        self.attention = RNNAttention(config)
        self.combine = nn.Linear(config.encoder_output_size + config.hidden_size, config.hidden_size, bias=False)

    def initial_states(self, encoder_hidden_states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """tanh(bridge(final encoder states)) -> [layers, batch, hidden]."""
        states = torch.tanh(self.bridge(final_states(self.config, encoder_hidden_states, lengths)))
        return states.view(len(lengths), self.config.num_decoder_layers, -1).transpose(0, 1).contiguous()

    def forward(
        self,
        input_ids: torch.Tensor | None,
        encoder_hidden_states: torch.Tensor,
        encoder_attention_mask: torch.Tensor,
        inputs_embeds: torch.Tensor | None = None,
        output_hidden_states: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...] | None]:
        """(attentional states [batch, tgt, hidden], attention weights [batch, tgt, src], hidden states)."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of decoder_input_ids or decoder_inputs_embeds (or labels)")
        hidden = self.embed_tokens(input_ids) if inputs_embeds is None else inputs_embeds
        initial = self.initial_states(encoder_hidden_states, _lengths(encoder_attention_mask))
        all_hidden = [hidden] if output_hidden_states else None
        for i, layer in enumerate(self.layers):
            state = initial[i:i + 1]
            if self.config.rnn_type == "lstm":
                state = (state, torch.zeros_like(state))
            hidden, _ = layer(self.dropout(hidden), state)
            if output_hidden_states:
                all_hidden.append(hidden)
        context, weights = self.attention(hidden, encoder_hidden_states, encoder_attention_mask)
        attentional = torch.tanh(self.combine(torch.cat([context, hidden], dim=-1)))
        return self.dropout(attentional), weights, tuple(all_hidden) if all_hidden else None


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


class RNNForConditionalGeneration(RNNPreTrainedModel, GenerationMixin):
    """Seq2seq LM: `labels` become decoder inputs by shifting right behind `decoder_start_token_id`."""

    _tied_weights_keys = {"lm_head.weight": "model.shared.weight"}

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        self.model = RNNModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    def get_encoder(self, modality: str | None = None) -> RNNEncoder:
        return self.model.encoder

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    def prepare_inputs_for_generation(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                                      encoder_outputs: BaseModelOutput | None = None, **kwargs) -> dict:
        """Every step gets the whole target prefix (no state cache) and the encoder outputs computed once."""
        inputs = {"decoder_input_ids": input_ids, "attention_mask": attention_mask, "encoder_outputs": encoder_outputs}
        for key in ("output_attentions", "output_hidden_states"):
            if kwargs.get(key) is not None:
                inputs[key] = kwargs[key]
        return inputs

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
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> Seq2SeqLMOutput:
        if labels is not None and decoder_input_ids is None and decoder_inputs_embeds is None:
            decoder_input_ids = self.prepare_decoder_input_ids_from_labels(labels)
        outputs = self.model(
            input_ids, attention_mask, decoder_input_ids, decoder_attention_mask, encoder_outputs, inputs_embeds,
            decoder_inputs_embeds, output_attentions=output_attentions, output_hidden_states=output_hidden_states,
        )
        logits = self.lm_head(outputs.last_hidden_state)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.float().view(-1, logits.shape[-1]), labels.view(-1),
                                               ignore_index=-100)
        return Seq2SeqLMOutput(
            loss=loss, logits=logits, decoder_hidden_states=outputs.decoder_hidden_states,
            cross_attentions=outputs.cross_attentions, encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
        )


class RNNForSequenceClassification(RNNPreTrainedModel):
    """Classifies the encoder's final states (dropout -> linear); the decoder is kept, unused, so that a seq2seq
    checkpoint loads into it whole."""

    def __init__(self, config: RNNConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = RNNModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.encoder_output_size, config.num_labels)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.shared

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.set_input_embeddings(value)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        output_hidden_states = self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        encoded = self.model.encoder(input_ids, attention_mask, inputs_embeds, output_hidden_states=output_hidden_states)
        states = encoded.last_hidden_state
        lengths = states.new_full(states.shape[:1], states.shape[1], dtype=torch.long) if attention_mask is None \
            else _lengths(attention_mask)
        logits = self.classifier(self.dropout(final_states(self.config, states, lengths)))
        loss = None
        if labels is not None:
            loss = self.loss_function(labels=labels, pooled_logits=logits, config=self.config)
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=encoded.hidden_states)


RNN_HEADS = {
    "Model": (RNNModel, "AutoModel"),
    "ForConditionalGeneration": (RNNForConditionalGeneration, "AutoModelForSeq2SeqLM"),
    "ForSequenceClassification": (RNNForSequenceClassification, "AutoModelForSequenceClassification"),
}
