"""Encoder task heads: every sequence-classification problem type, multiple choice, QA and pretraining losses."""

import torch
from transformers import AutoModelForMultipleChoice, AutoModelForPreTraining, AutoModelForSequenceClassification

from tests.variant_configs import tiny_config

IDS = torch.randint(4, 99, (4, 7), generator=torch.Generator().manual_seed(0))


def test_sequence_classification_problem_types():
    torch.manual_seed(0)
    regression = AutoModelForSequenceClassification.from_config(tiny_config("bert", num_labels=1))
    targets = torch.randn(4)
    out = regression(input_ids=IDS, labels=targets)
    assert regression.config.problem_type == "regression" and out.logits.shape == (4, 1)
    assert torch.allclose(out.loss, torch.nn.functional.mse_loss(out.logits.squeeze(-1), targets))
    single = AutoModelForSequenceClassification.from_config(tiny_config("roberta", num_labels=3))
    labels = torch.tensor([0, 2, 1, 2])
    out = single(input_ids=IDS, labels=labels)
    assert torch.allclose(out.loss, torch.nn.functional.cross_entropy(out.logits, labels))
    multi = AutoModelForSequenceClassification.from_config(
        tiny_config("electra", num_labels=3, problem_type="multi_label_classification"))
    targets = torch.tensor([[1.0, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 0]])
    out = multi(input_ids=IDS, labels=targets)
    assert torch.allclose(out.loss, torch.nn.functional.binary_cross_entropy_with_logits(out.logits, targets))


def test_multiple_choice_scores_each_choice():
    model = AutoModelForMultipleChoice.from_config(tiny_config("distilbert")).eval()
    choices = IDS[None].repeat(2, 1, 1)  # [batch 2, 4 choices, 7 tokens]
    out = model(input_ids=choices, labels=torch.tensor([1, 3]))
    assert out.logits.shape == (2, 4)
    assert torch.allclose(out.logits[0], out.logits[1])  # same candidates, same scores


def test_pretraining_heads_per_variant():
    bert = AutoModelForPreTraining.from_config(tiny_config("bert"))
    out = bert(input_ids=IDS, labels=IDS, next_sentence_label=torch.tensor([0, 1, 0, 1]))
    assert out.prediction_logits.shape == (4, 7, 99) and out.seq_relationship_logits.shape == (4, 2)
    albert = AutoModelForPreTraining.from_config(tiny_config("albert"))
    out = albert(input_ids=IDS, labels=IDS, sentence_order_label=torch.tensor([0, 1, 0, 1]))
    assert out.sop_logits.shape == (4, 2) and out.loss > 0
    assert out.seq_relationship_logits is None and set(out.keys()) == {"loss", "prediction_logits", "sop_logits"}
    electra = AutoModelForPreTraining.from_config(tiny_config("electra"))
    replaced = (IDS % 2).long()
    out = electra(input_ids=IDS, labels=replaced)
    assert out.logits.shape == (4, 7)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(out.logits, replaced.float())
    assert torch.allclose(out.loss, expected)
