"""ELECTRA replaced-token detection: shared embeddings, sampling without gradient, Trainer, save/load."""

from __future__ import annotations

import torch
from transformers import AutoModelForMaskedLM, AutoModelForPreTraining, Trainer, TrainingArguments

from hf_variants.objectives import ElectraPreTrainingModel, electra_collator
from hf_variants.variants.electra import HfvElectraConfig

from .conftest import TINY
from .corpus import DOCUMENTS


def _model(tokenizer, **kwargs) -> ElectraPreTrainingModel:
    torch.manual_seed(0)
    config = HfvElectraConfig(vocab_size=len(tokenizer), embedding_size=16, **{**TINY, "hidden_size": 64,
                                                                               "intermediate_size": 128})
    return ElectraPreTrainingModel.from_config(config, generator_size_ratio=0.25, **kwargs)


def _batch(tokenizer, seed=0):
    enc = tokenizer(DOCUMENTS, truncation=True, max_length=64)
    return electra_collator(tokenizer, seed=seed)([{"input_ids": ids} for ids in enc["input_ids"]])


def test_generator_is_smaller_and_shares_embeddings(bert_tokenizer):
    model = _model(bert_tokenizer)
    gen, disc = model.generator, model.discriminator
    assert gen.config.hidden_size == disc.config.hidden_size // 4
    for name in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        assert getattr(gen.model.embeddings, name) is getattr(disc.model.embeddings, name)
    assert gen.lm_head.decoder.weight is disc.model.embeddings.word_embeddings.weight


def test_replacements_and_no_gradient_through_sample(bert_tokenizer):
    model = _model(bert_tokenizer, mlm_weight=0.0)  # only the RTD loss
    batch = _batch(bert_tokenizer)
    out = model(**batch)
    masked = batch["labels"] != -100
    assert out.replaced[~masked].sum() == 0  # only masked positions can be replaced
    assert out.replaced[masked].float().mean() > 0.5  # an untrained generator rarely guesses the original
    out.loss.backward()
    # the generator's own layers get no gradient from the discriminator's loss: the sample is not differentiable
    gen_layers = [p.grad for n, p in model.generator.named_parameters() if ".encoder." in n or "lm_head.dense" in n]
    assert all(g is None or not g.any() for g in gen_layers)
    assert model.discriminator.model.embeddings.word_embeddings.weight.grad.any()


def test_loss_is_mlm_plus_weighted_rtd(bert_tokenizer):
    model = _model(bert_tokenizer)
    torch.manual_seed(1)
    out = model(**_batch(bert_tokenizer))
    assert out.mlm_loss > 0 and out.rtd_loss > 0
    assert torch.isclose(out.loss, out.mlm_loss + 50.0 * out.rtd_loss)


def test_num_items_in_batch_weights_mlm_by_the_step_and_rtd_by_its_share(bert_tokenizer):
    """Under accumulation (num_items_in_batch = the step's masked tokens, here 4 x this batch's) the generator MLM is
    sum / num_items and the RTD mean is weighted by this batch's share, so 4 such micro-batches add up to one
    plain loss."""
    model = _model(bert_tokenizer).eval()
    batch = _batch(bert_tokenizer)
    masked = (batch["labels"] != -100).sum()
    torch.manual_seed(1)
    plain = model(**batch)
    torch.manual_seed(1)
    quarter = model(**batch, num_items_in_batch=4 * masked)
    torch.testing.assert_close(4 * quarter.loss, plain.loss, atol=1e-5, rtol=1e-5)


def test_trainer_lowers_loss_and_saves_both_models(bert_tokenizer, tmp_path):
    model = _model(bert_tokenizer)
    enc = bert_tokenizer(DOCUMENTS, truncation=True, max_length=64)
    data = [{"input_ids": ids} for ids in enc["input_ids"]]
    args = TrainingArguments(output_dir=str(tmp_path / "run"), max_steps=30, per_device_train_batch_size=8,
                             learning_rate=2e-3, logging_steps=5, save_strategy="no", report_to=[],
                             disable_tqdm=True, use_cpu=True, seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=electra_collator(bert_tokenizer))
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert losses[-1] < losses[0], losses
    trainer.save_model(str(tmp_path / "out"))
    disc = AutoModelForPreTraining.from_pretrained(tmp_path / "out")
    gen = AutoModelForMaskedLM.from_pretrained(tmp_path / "out" / "generator")
    assert type(disc).__name__ == "HfvElectraForPreTraining" and type(gen).__name__ == "HfvElectraForMaskedLM"
    assert torch.equal(disc.model.embeddings.word_embeddings.weight, model.discriminator.model.embeddings.word_embeddings.weight)
    assert torch.equal(gen.model.embeddings.word_embeddings.weight, disc.model.embeddings.word_embeddings.weight)
    reloaded = ElectraPreTrainingModel.from_pretrained(tmp_path / "out")
    assert reloaded.generator.model.embeddings.word_embeddings is reloaded.discriminator.model.embeddings.word_embeddings


def test_chunked_loss_on_the_generator_is_refused(bert_tokenizer):
    """The generator's samples come from its logits, which a chunked loss (config.loss_chunk_size) does not return."""
    import pytest

    model = _model(bert_tokenizer)
    model.generator.config.loss_chunk_size = 8
    with pytest.raises(ValueError, match="loss_chunk_size=8 must be None"):
        model(**_batch(bert_tokenizer))
