"""DistilBERT distillation: student initialisation from alternate teacher layers, loss terms and weights,
and a Trainer run that lowers the loss."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM, TrainingArguments

from hf_variants.objectives import DistillationTrainer, init_student_from_teacher, mlm_collator
from hf_variants.variants.albert import HfvAlbertConfig, HfvAlbertForMaskedLM
from hf_variants.variants.bert import HfvBertConfig, HfvBertForMaskedLM

from .conftest import TINY
from .corpus import DOCUMENTS


def _teacher(tokenizer):
    torch.manual_seed(0)
    return HfvBertForMaskedLM(HfvBertConfig(vocab_size=len(tokenizer), **{**TINY, "num_hidden_layers": 4}))


def _data(tokenizer):
    enc = tokenizer(DOCUMENTS, truncation=True, max_length=64, return_token_type_ids=False)
    return [{"input_ids": ids} for ids in enc["input_ids"]]


def test_student_takes_every_other_layer(bert_tokenizer):
    teacher = _teacher(bert_tokenizer)
    student = init_student_from_teacher(teacher)
    assert student.config.model_type == "hfv_distilbert" and student.config.num_hidden_layers == 2
    t, s = teacher.state_dict(), student.state_dict()
    for j, i in enumerate([0, 2]):
        key = "self_attn.q_proj.weight"
        assert torch.equal(s[f"model.encoder.layers.{j}.{key}"], t[f"model.encoder.layers.{i}.{key}"])
    for key in ("model.embeddings.word_embeddings.weight", "lm_head.dense.weight", "lm_head.decoder.bias"):
        assert torch.equal(s[key], t[key])
    assert student.config.type_vocab_size == 0
    assert init_student_from_teacher(teacher, layers=[1, 3]).config.num_hidden_layers == 2
    # DistilBERT's own dropout layout, not the teacher's: the student still converts to native DistilBERT
    assert not student.config.attention_output_dropout and not student.config.classifier_input_dropout
    from hf_variants.convert import to_native

    assert type(to_native(student)).__name__ == "DistilBertForMaskedLM"


def test_student_from_native_teacher(bert_tokenizer):
    torch.manual_seed(0)
    native = BertForMaskedLM(BertConfig(vocab_size=len(bert_tokenizer), hidden_size=32, num_hidden_layers=4,
                                        num_attention_heads=4, intermediate_size=64, max_position_embeddings=64))
    student = init_student_from_teacher(native)
    weight = native.bert.encoder.layer[2].attention.self.query.weight
    assert torch.equal(student.model.encoder.layers[1].self_attn.q_proj.weight, weight)


def test_student_errors(bert_tokenizer):
    with pytest.raises(ValueError, match="layers"):
        init_student_from_teacher(_teacher(bert_tokenizer), layers=[7])
    albert = HfvAlbertForMaskedLM(HfvAlbertConfig(vocab_size=50, embedding_size=16, **TINY))
    with pytest.raises(ValueError, match="shares layers"):
        init_student_from_teacher(albert)


def _trainer(tokenizer, tmp_path, **weights):
    teacher = _teacher(tokenizer)
    student = init_student_from_teacher(teacher)
    torch.manual_seed(1)
    with torch.no_grad():  # a student that differs from its teacher, so every term is non-zero
        for p in student.parameters():
            p.add_(0.05 * torch.randn_like(p))
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=30, per_device_train_batch_size=8,
                             learning_rate=2e-3, logging_steps=5, save_strategy="no", report_to=[],
                             disable_tqdm=True, use_cpu=True, seed=0)
    return DistillationTrainer(model=student, teacher_model=teacher, args=args, train_dataset=_data(tokenizer),
                               data_collator=mlm_collator(tokenizer, seed=0), **weights)


def test_loss_terms_are_non_zero_and_weighted(bert_tokenizer, tmp_path):
    trainer = _trainer(bert_tokenizer, tmp_path, alpha_ce=0.5, alpha_mlm=2.0, alpha_cos=3.0, temperature=2.0)
    batch = mlm_collator(bert_tokenizer, seed=0)(_data(bert_tokenizer))
    loss = trainer.compute_loss(trainer.model, batch)
    terms = trainer.last_loss_terms
    assert set(terms) == {"loss_ce", "loss_mlm", "loss_cos"} and all(v > 0 for v in terms.values())
    expected = 0.5 * terms["loss_ce"] + 2.0 * terms["loss_mlm"] + 3.0 * terms["loss_cos"]
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    trainer.alphas["loss_cos"] = 0.0
    assert float(trainer.compute_loss(trainer.model, batch).detach()) == pytest.approx(expected - 3.0 * terms["loss_cos"],
                                                                              rel=1e-5)


def test_distillation_trainer_lowers_loss(bert_tokenizer, tmp_path):
    trainer = _trainer(bert_tokenizer, tmp_path)
    trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert logs[-1]["loss"] < logs[0]["loss"], logs
    assert {"loss_ce", "loss_mlm", "loss_cos"} <= set(logs[0])
    assert all(p.grad is None for p in trainer.teacher.parameters())
