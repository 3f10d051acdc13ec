"""Task heads shared by the families: MLM, pooler, sequence/pair classifiers, token-level classifiers."""

from __future__ import annotations

import torch
from torch import nn
from transformers.activations import ACT2FN

from .norms import build_norm


def lm_head_projection(config) -> nn.Linear | None:
    """With factorized embeddings (embedding_size != hidden_size), the bias-free map from hidden_size back to
    embedding_size in front of a causal or seq2seq LM head, so that the head can share the embedding matrix."""
    if config.embedding_size == config.hidden_size:
        return None
    return nn.Linear(config.hidden_size, config.embedding_size, bias=False)


class MaskedLMHead(nn.Module):
    """dense -> activation -> norm -> decoder (tied to the word embeddings) + bias.

    With factorized embeddings (ALBERT, ELECTRA's generator) the transform maps hidden_size -> embedding_size.
    """

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.embedding_size)
        self.act_fn = ACT2FN[config.mlm_head_act or config.hidden_act]
        self.norm = build_norm(config, config.embedding_size)
        self.decoder = nn.Linear(config.embedding_size, config.vocab_size)

    def transform(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Everything before the vocabulary projection (what the chunked loss projects chunk by chunk)."""
        return self.norm(self.act_fn(self.dense(hidden_states)))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden_states))


class Pooler(nn.Module):
    """tanh(dense(first token)) - BERT/ALBERT's sentence representation."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden_states[:, 0]))


def classifier_dropout(config) -> float:
    """`classifier_dropout`, or `hidden_dropout_prob` when it is None (BERT's rule)."""
    return config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob


class SequenceClassificationHead(nn.Module):
    """Maps the sequence representation to `num_outputs` scores.

    pooling="pooler": dropout -> out_proj on the base model's pooler output.
    pooling="head":   first token -> [dropout] -> dense -> classifier_activation -> dropout -> out_proj; the first
    dropout only with `config.classifier_input_dropout` (DistilBERT has none there).
    `pooling` defaults to `config.classifier_pooling`, `dropout` to `classifier_dropout(config)`.
    """

    def __init__(self, config, num_outputs: int, pooling: str | None = None, dropout: float | None = None):
        super().__init__()
        self.uses_pooler = (pooling or config.classifier_pooling) == "pooler"
        self.dropout = nn.Dropout(classifier_dropout(config) if dropout is None else dropout)
        self.input_dropout = config.classifier_input_dropout
        if not self.uses_pooler:
            self.dense = nn.Linear(config.hidden_size, config.hidden_size)
            self.act_fn = ACT2FN[config.classifier_activation]
        self.out_proj = nn.Linear(config.hidden_size, num_outputs)

    def forward(self, sequence_output: torch.Tensor, pooled_output: torch.Tensor | None) -> torch.Tensor:
        if self.uses_pooler:
            return self.out_proj(self.dropout(pooled_output))
        hidden = sequence_output[:, 0]
        if self.input_dropout:
            hidden = self.dropout(hidden)
        hidden = self.dropout(self.act_fn(self.dense(hidden)))
        return self.out_proj(hidden)


class TokenClassificationHead(nn.Module):
    """dropout (`token_classifier_dropout`, else `classifier_dropout(config)`) -> linear per token."""

    def __init__(self, config, num_outputs: int):
        super().__init__()
        dropout = config.token_classifier_dropout
        self.dropout = nn.Dropout(classifier_dropout(config) if dropout is None else dropout)
        self.out_proj = nn.Linear(config.hidden_size, num_outputs)

    def forward(self, sequence_output: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.dropout(sequence_output))


class DiscriminatorHead(nn.Module):
    """ELECTRA's replaced-token detector: dense -> activation -> one logit per token."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act_fn = ACT2FN[config.hidden_act]
        self.dense_prediction = nn.Linear(config.hidden_size, 1)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.dense_prediction(self.act_fn(self.dense(hidden_states))).squeeze(-1)
