"""The recurrent baseline's config and layers: a GRU/LSTM encoder-decoder with attention (Bahdanau et al. 2015;
Luong et al. 2015). The transformers models built on them are in rnn.py.

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
from transformers import PreTrainedConfig
from transformers.modeling_outputs import BaseModelOutput

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
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
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
