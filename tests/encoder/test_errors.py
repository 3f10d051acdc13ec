"""Bad inputs fail early with messages that name the problem."""

import pytest
import torch
from transformers import AutoModel

from tests.variant_configs import tiny_config


def test_token_id_out_of_range():
    model = AutoModel.from_config(tiny_config("bert"))
    with pytest.raises(ValueError, match=r"input_ids must be in \[0, 98\], got values in \[.*, 150\]"):
        model(input_ids=torch.tensor([[5, 150]]))


def test_sequence_longer_than_positions():
    model = AutoModel.from_config(tiny_config("bert"))
    with pytest.raises(ValueError, match="sequence length 70 exceeds the 64 positions"):
        model(input_ids=torch.ones(1, 70, dtype=torch.long))


def test_token_types_on_a_model_without_them():
    model = AutoModel.from_config(tiny_config("distilbert"))
    with pytest.raises(ValueError, match="type_vocab_size=0"):
        model(input_ids=torch.ones(1, 4, dtype=torch.long), token_type_ids=torch.ones(1, 4, dtype=torch.long))


def test_exactly_one_of_ids_or_embeds():
    model = AutoModel.from_config(tiny_config("bert"))
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        model()
