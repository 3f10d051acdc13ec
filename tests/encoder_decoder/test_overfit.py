"""A tiny hfv_t5, hfv_bart, hfv_transformer and the hfv_rnn baseline learn a 32-pair reversal task with
Seq2SeqTrainer and predict it back with generate() (predict_with_generate) at exact match >= 0.9."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset
from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments

import hf_variants  # noqa: F401  (Auto registration)
from hf_variants.variants.bart import HfvBartConfig, HfvBartForConditionalGeneration
from hf_variants.variants.rnn import HfvRNNConfig, HfvRNNForConditionalGeneration
from hf_variants.variants.t5 import HfvT5Config, HfvT5ForConditionalGeneration
from hf_variants.variants.transformer import HfvTransformerConfig, HfvTransformerForConditionalGeneration

SIZES = dict(vocab_size=24, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
             hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, activation_dropout=0.0)
# Special ids per variant: (pad, eos, decoder start); content tokens are 4..23.
MODELS = {
    "t5": (HfvT5ForConditionalGeneration, HfvT5Config(head_dim=16, initializer_range=0.05, **SIZES)),
    "bart": (HfvBartForConditionalGeneration, HfvBartConfig(max_position_embeddings=34, **SIZES)),
    "transformer": (HfvTransformerForConditionalGeneration, HfvTransformerConfig(max_position_embeddings=34, **SIZES)),
    # The pre-transformer baseline: bidirectional GRU encoder, GRU decoder, Bahdanau's additive attention.
    "rnn": (HfvRNNForConditionalGeneration, HfvRNNConfig(vocab_size=24, hidden_size=64, hidden_dropout_prob=0.0)),
}
LEARNING_RATES = {"rnn": 1e-2}  # 3e-3 leaves the GRU at ~10% exact match after the same 120 steps


def reversal_pairs(eos: int, count: int = 32, seed: int = 0) -> Dataset:
    generator = torch.Generator().manual_seed(seed)
    rows = {"input_ids": [], "labels": []}
    for _ in range(count):
        length = int(torch.randint(3, 7, (1,), generator=generator))
        tokens = torch.randint(4, 24, (length,), generator=generator).tolist()
        rows["input_ids"].append(tokens + [eos])
        rows["labels"].append(tokens[::-1] + [eos])
    return Dataset.from_dict(rows)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_seq2seq_trainer_overfits_reversal(name, tmp_path):
    torch.manual_seed(0)
    cls, config = MODELS[name]
    model = cls(config)
    data = reversal_pairs(config.eos_token_id)
    args = Seq2SeqTrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=16, per_device_eval_batch_size=32, num_train_epochs=60,
        learning_rate=LEARNING_RATES.get(name, 3e-3), warmup_steps=10, lr_scheduler_type="linear", weight_decay=0.0, logging_strategy="no",
        save_strategy="no", report_to=[], predict_with_generate=True, generation_max_length=10,
        use_cpu=True, seed=0, disable_tqdm=True, dataloader_num_workers=0,
    )
    trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=data, eval_dataset=data,
                             data_collator=_collate(config.pad_token_id))
    trainer.train()
    predictions = trainer.predict(data, num_beams=1).predictions
    exact = 0
    for generated, target in zip(predictions, data["labels"]):
        tokens = [t for t in generated.tolist()[1:] if t not in (config.pad_token_id, -100)]  # drop start, padding
        tokens = tokens[: tokens.index(config.eos_token_id) + 1] if config.eos_token_id in tokens else tokens
        exact += tokens == target
    accuracy = exact / len(predictions)
    assert accuracy >= 0.9, f"{name}: exact match {accuracy:.2f}"


def _collate(pad: int):
    """Right-pad inputs with pad and labels with -100 (Seq2SeqTrainer derives decoder inputs from labels)."""

    def collate(rows: list[dict]) -> dict:
        def pad_to(seqs, value):
            width = max(len(s) for s in seqs)
            return torch.tensor([s + [value] * (width - len(s)) for s in seqs])

        ids = pad_to([r["input_ids"] for r in rows], pad)
        return {"input_ids": ids, "attention_mask": (ids != pad).long(),
                "labels": pad_to([r["labels"] for r in rows], -100)}

    return collate
