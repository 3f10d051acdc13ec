"""Token, token-type and absolute-position embeddings, with ALBERT/ELECTRA's factorized projection."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import ABSOLUTE_POSITION_TYPES
from .dropout import train_dropout
from .norms import build_norm
from .positions import SinusoidalPositionEmbedding, absolute_position_ids


class ScaledEmbedding(nn.Embedding):
    """Token embedding multiplied by a constant (sqrt(hidden_size) in the original Transformer and BART).

    The scale lives inside the embedding so that `get_input_embeddings()(ids)` fed as `inputs_embeds` gives exactly
    the same model output as `input_ids`.
    """

    def __init__(self, num_embeddings: int, dim: int, padding_idx: int | None, scale: float):
        super().__init__(num_embeddings, dim, padding_idx=padding_idx)
        self.scale = scale

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return super().forward(input_ids) * self.scale


def build_word_embeddings(config) -> nn.Embedding:
    """The token table, scaled by sqrt(hidden_size) when `config.scale_embedding`."""
    dim = config.embedding_size
    pad = config.pad_token_id if config.pad_token_id is not None and config.pad_token_id < config.vocab_size else None
    if not config.embedding_padding_idx:
        pad = None
    if config.scale_embedding:
        return ScaledEmbedding(config.vocab_size, dim, pad, math.sqrt(config.hidden_size))
    return nn.Embedding(config.vocab_size, dim, padding_idx=pad)


class Embeddings(nn.Module):
    """word (+ token type) (+ absolute position) -> [norm] -> dropout -> [projection to hidden_size]."""

    def __init__(self, config, with_word_embeddings: bool = True):
        """`with_word_embeddings=False`: token embeddings live elsewhere (an encoder-decoder's shared table) and
        `forward` takes them as `inputs_embeds`."""
        super().__init__()
        self.config = config
        dim = config.embedding_size
        self.word_embeddings = build_word_embeddings(config) if with_word_embeddings else None
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, dim) if config.type_vocab_size else None
        if config.position_embedding_type == "learned":
            # RoBERTa: padding tokens sit at position pad_token_id, a row that stays 0 (as native)
            pad = config.pad_token_id if config.pad_aware_positions and config.embedding_padding_idx else None
            self.position_embeddings = nn.Embedding(config.max_position_embeddings, dim, padding_idx=pad)
        elif config.position_embedding_type == "sinusoidal":
            self.position_embeddings = SinusoidalPositionEmbedding(config.max_position_embeddings, dim)
        else:
            self.position_embeddings = None
        self.norm = build_norm(config, dim) if config.use_embedding_norm else None
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.projection = nn.Linear(dim, config.hidden_size) if dim != config.hidden_size else None

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_length: int = 0,
    ) -> torch.Tensor:
        if inputs_embeds is None:
            word_embeddings = self.word_embeddings  # (a submodule: one nn.Module attribute lookup, per token)
            if word_embeddings is None:
                raise ValueError("these embeddings hold no token table: pass inputs_embeds")
            inputs_embeds = self.lookup("input_ids", word_embeddings, input_ids, self.config.vocab_size)
        embeddings = inputs_embeds
        if self.token_type_embeddings is not None:
            if token_type_ids is None:
                token_type_ids = torch.zeros(embeddings.shape[:2], dtype=torch.long, device=embeddings.device)
            self._check_ids("token_type_ids", token_type_ids, self.config.type_vocab_size)
            embeddings = embeddings + self.token_type_embeddings(token_type_ids)
        elif token_type_ids is not None and not self.config.token_types_in_word_embeddings \
                and bool(token_type_ids.any()):
            raise ValueError("token_type_ids were given but this model has type_vocab_size=0 (no token types)")
        if self.position_embeddings is not None:
            if position_ids is None:
                position_ids = absolute_position_ids(
                    self.config, input_ids, embeddings.shape[1], past_length, embeddings.device
                )
            positions = self.lookup("position ids", self.position_embeddings, position_ids,
                                    self.config.max_position_embeddings)
            embeddings = embeddings + positions.to(embeddings.dtype)
        if token_type_ids is not None and self.config.token_types_in_word_embeddings:
            embeddings = embeddings + self._word_table_token_types(token_type_ids)
        if self.norm is not None:
            embeddings = self.norm(embeddings)
        if self.training:
            embeddings = train_dropout(self.dropout, embeddings, True)
        if self.projection is not None:
            embeddings = self.projection(embeddings)
        return embeddings

    def _word_table_token_types(self, token_type_ids: torch.Tensor) -> torch.Tensor:
        """GPT-2's token types: ids of the word-embedding table, added after the positions (as native GPT2Model)."""
        if self.word_embeddings is None:
            raise ValueError("token_types_in_word_embeddings=True needs the word table in these embeddings")
        self._check_ids("token_type_ids", token_type_ids, self.config.vocab_size)
        return self.word_embeddings(token_type_ids)

    def check_length(self, seq_length: int, past_length: int = 0) -> None:
        """Refuse a sequence longer than the absolute position table, naming both lengths (instead of an index
        error deep in the embedding lookup)."""
        config = self.config
        if config.position_embedding_type not in ABSOLUTE_POSITION_TYPES:
            return
        limit = config.max_position_embeddings - config.position_offset
        if config.pad_aware_positions:
            limit -= config.pad_token_id + 1
        if past_length + seq_length > limit:
            raise ValueError(
                f"sequence length {past_length + seq_length} exceeds the {limit} positions this model has "
                f"(max_position_embeddings={config.max_position_embeddings})"
            )

    @staticmethod
    def lookup(name: str, table: nn.Module, ids: torch.Tensor, size: int) -> torch.Tensor:
        """`table(ids)` with the range check of `_check_ids`. On CPU an `nn.Embedding` of exactly `size` rows
        bounds-checks every id itself (IndexError): its lookup runs first and only a failed one is checked, to raise
        our ValueError. Checking up front costs a reduction and two host reads per forward (per generated token)."""
        if ids.is_cpu and isinstance(table, nn.Embedding) and table.num_embeddings == size:
            try:
                return table(ids)
            except IndexError:
                pass
        Embeddings._check_ids(name, ids, size)
        return table(ids)

    @staticmethod
    def _check_ids(name: str, ids: torch.Tensor, size: int) -> None:
        """Out-of-range ids would otherwise fail as an opaque index error (or silently on some devices).
        On CUDA the check is a device-side assertion: reading min/max back would stall the host every forward
        (every generated token); the assertion names the range but not the offending values."""
        if ids.numel() and not torch.compiler.is_compiling():
            if ids.device.type == "cuda":
                torch._assert_async(((ids >= 0) & (ids < size)).all(), f"{name} must be in [0, {size - 1}]")
                return
            low, high = (int(value) for value in torch.aminmax(ids))
            if low < 0 or high >= size:
                hint = " (sequence longer than max_position_embeddings?)" if name == "position ids" else ""
                raise ValueError(f"{name} must be in [0, {size - 1}], got values in [{low}, {high}]{hint}")
