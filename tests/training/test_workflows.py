"""`hfv pretrain` / `hfv finetune` end to end on a sliver of the embedded data, and the CLI's safety rules."""

import json

import pytest
from transformers import (
    AutoModelForCausalLM,
    AutoModelForPreTraining,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)

import hf_variants
from hf_variants.cli import main
from hf_variants.training import finetune, pretrain


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    output = tmp_path_factory.mktemp("runs") / "bert"
    pretrain("bert", str(output), steps=6, batch_size=8, max_examples=300, max_validation=40, quiet=True)
    return output


def test_pretrain_writes_everything(bert_dir):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "metrics.json", "loss_curve.png",
                 "README.md"):
        assert (bert_dir / name).exists(), name
    metrics = json.loads((bert_dir / "metrics.json").read_text())
    assert metrics["validation_loss"] > 0  # MLM + NSP loss computed on held-out plays
    assert type(AutoModelForPreTraining.from_pretrained(bert_dir)).__name__ == "HfvBertForPreTraining"
    assert type(AutoTokenizer.from_pretrained(bert_dir)).__name__ == "HfvBertTokenizer"
    assert "hfv pretrain bert" in (bert_dir / "README.md").read_text()


def test_pretrain_model_card(bert_dir):
    """README.md is a ModelCard huggingface_hub parses: metadata, the element table, the run's measured metrics."""
    from huggingface_hub import ModelCard

    card = ModelCard.load(bert_dir / "README.md")
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "fill-mask"
    assert card.data.license == "mit" and "hfv_bert" in card.data.tags and card.data.datasets == ["shakespeare"]
    assert "| element | setting | parameters |" in card.text
    for element in ("embeddings", "positions", "attention", "norm", "feed-forward", "head"):
        assert f"| {element} | " in card.text, element
    total = sum(p.numel() for p in AutoModelForPreTraining.from_pretrained(bert_dir).parameters())
    assert f"| total | | {total:,} |" in card.text
    metrics = json.loads((bert_dir / "metrics.json").read_text())
    assert f"| validation_loss | {metrics['validation_loss']:.4g} |" in card.text
    assert "trust_remote_code=True" in card.text and "--to native" in card.text


def test_finetune_classification_reports_accuracy_and_baseline(bert_dir, tmp_path):
    metrics = finetune(str(bert_dir), "classification", str(tmp_path / "sentiment"), steps=4, batch_size=8,
                       max_length=32, quiet=True)
    assert 0.4 < metrics["test_majority_baseline"] < 0.6
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "sentiment").eval()
    assert model.config.num_labels == 2
    # The reported accuracy is what the saved model scores on the test split (a classifier lost on save, a wrong
    # argmax axis or labels scored against the wrong rows would all differ); a near tie may flip one prediction.
    assert abs(_test_accuracy(model, AutoTokenizer.from_pretrained(tmp_path / "sentiment")) - metrics["test_accuracy"]) \
        <= 1 / 1057


def _test_accuracy(model, tokenizer, max_length=32):
    import torch

    test = hf_variants.data.load("movie_reviews")["test"]
    correct = 0
    for start in range(0, len(test), 128):
        rows = test[start:start + 128]
        encoded = tokenizer(rows["text"], truncation=True, max_length=max_length, padding=True, return_tensors="pt")
        with torch.no_grad():
            predictions = model(**encoded).logits.argmax(-1)
        correct += int((predictions == torch.tensor(rows["label"])).sum())
    return correct / len(test)


def test_causal_lm_pretraining_and_resume(tmp_path):
    output = tmp_path / "llama"
    metrics = pretrain("llama", str(output), steps=4, batch_size=4, max_examples=200, max_validation=20, quiet=True)
    assert metrics["validation_perplexity"] > 1
    assert type(AutoModelForCausalLM.from_pretrained(output)).__name__ == "HfvLlamaForCausalLM"
    with pytest.raises(FileExistsError, match="--resume.*--overwrite"):
        pretrain("llama", str(output), steps=4, max_examples=200)
    resumed = pretrain("llama", str(output), steps=6, batch_size=4, max_examples=200, max_validation=20,
                       tokenizer=str(output), resume=True, quiet=True)
    assert resumed["validation_epoch"] > metrics["validation_epoch"]  # continued past the checkpoint at step 4


def test_cli_list_and_errors(capsys, tmp_path):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "hfv_bert" in out and "hfv_switch" in out
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "precious.txt").write_text("keep me")
    assert main(["pretrain", "bert", "--output", str(tmp_path / "taken"), "--steps", "1"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "taken" / "precious.txt").read_text() == "keep me"
    assert main(["pretrain", "no-such-variant", "--output", str(tmp_path / "x")]) == 2
    assert "allowed" in capsys.readouterr().err


def _write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


def test_finetune_token_classification_and_qa(bert_dir, tmp_path):
    words = ["the", "king", "is", "dead", "long", "live", "queen"]
    rows = [{"tokens": words[i % 3: i % 3 + 4], "tags": [int(w in ("king", "queen")) for w in words[i % 3: i % 3 + 4]]}
            for i in range(24)]
    metrics = finetune(str(bert_dir), "token-classification", str(tmp_path / "ner"),
                       data=_write_jsonl(tmp_path / "ner.jsonl", rows), steps=3, batch_size=4, quiet=True)
    assert metrics["validation_loss"] > 0, metrics
    context = "The king of Denmark is dead and his son Hamlet mourns."
    qa_rows = [{"question": "Who mourns?", "context": context,
                "answers": {"text": ["Hamlet"], "answer_start": [context.index("Hamlet")]}}] * 20
    metrics = finetune(str(bert_dir), "qa", str(tmp_path / "qa"), data=_write_jsonl(tmp_path / "qa.jsonl", qa_rows),
                       steps=3, batch_size=4, quiet=True)
    assert metrics["validation_loss"] > 0


def test_qa_encoder_finds_the_answer_tokens(bert_dir):
    from hf_variants.training.finetune import _qa_encoder

    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    context = "The king of Denmark is dead and his son Hamlet mourns."
    batch = {"question": ["Who mourns?"], "context": [context],
             "answers": [{"text": ["his son"], "answer_start": [context.index("his son")]}]}
    encoded = _qa_encoder(tokenizer, 64)(batch)
    span = encoded["input_ids"][0][encoded["start_positions"][0]: encoded["end_positions"][0] + 1]
    assert tokenizer.decode(span) == "his son"


def test_distilbert_distils_from_a_pretrained_bert(bert_dir, tmp_path):
    metrics = pretrain("distilbert", str(tmp_path / "student"), steps=3, batch_size=4, max_examples=100,
                       max_validation=10, teacher=str(bert_dir), quiet=True)
    assert metrics["validation_loss"] > 0
    student = AutoModelForPreTraining.from_pretrained(tmp_path / "student")
    teacher = AutoModelForPreTraining.from_pretrained(bert_dir)
    assert student.config.num_hidden_layers == teacher.config.num_hidden_layers // 2
    with pytest.raises(ValueError, match="--teacher is for variants pretrained by distillation"):
        pretrain("roberta", str(tmp_path / "x"), steps=1, teacher=str(bert_dir))


def test_seq2seq_and_causal_lm_finetuning(tmp_path):
    t5 = tmp_path / "t5"
    pretrain("t5", str(t5), steps=2, batch_size=4, max_examples=150, max_validation=10, quiet=True)
    pairs = [{"source": f"copy: word{i % 7} word{i % 5}", "target": f"word{i % 7} word{i % 5}"} for i in range(24)]
    metrics = finetune(str(t5), "seq2seq", str(tmp_path / "t5-copy"), data=_write_jsonl(tmp_path / "p.jsonl", pairs),
                       steps=2, batch_size=4, quiet=True)
    assert metrics["validation_loss"] > 0
    assert type(AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "t5-copy")).__name__ == "HfvT5ForConditionalGeneration"
    llama = tmp_path / "llama"
    pretrain("llama", str(llama), steps=2, batch_size=4, max_examples=150, max_validation=10, quiet=True)
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(f"line {i} of a small poem about the sea" for i in range(60)))
    metrics = finetune(str(llama), "causal-lm", str(tmp_path / "llama-ft"), data=str(lines), steps=2, batch_size=4,
                       max_length=16, quiet=True)
    assert metrics["validation_perplexity"] > 1
    with pytest.raises(ValueError, match="needs an encoder-decoder model"):
        finetune(str(llama), "seq2seq", str(tmp_path / "bad"), data=_write_jsonl(tmp_path / "q.jsonl", pairs))


@pytest.mark.parametrize("variant", sorted(hf_variants.VARIANTS))
def test_every_variant_pretrains_with_its_objective(variant, tmp_path):
    metrics = pretrain(variant, str(tmp_path / variant), steps=2, batch_size=4, max_examples=120, max_validation=8,
                       quiet=True)
    assert metrics["validation_loss"] > 0
    assert (tmp_path / variant / "model.safetensors").exists()


def test_electra_resume_restores_generator_and_tokenizer(tmp_path):
    import torch
    from safetensors.torch import load_file

    from hf_variants.training.runner import last_checkpoint

    output = tmp_path / "electra"
    pretrain("electra", str(output), steps=2, batch_size=4, max_examples=120, max_validation=8, quiet=True)
    checkpoint = last_checkpoint(output)
    saved_generator = load_file(f"{checkpoint}/generator/model.safetensors")
    vocab_before = AutoTokenizer.from_pretrained(checkpoint).get_vocab()
    resumed = pretrain("electra", str(output), steps=3, batch_size=4, max_examples=120, max_validation=8,
                       resume=True, learning_rate=0.0, quiet=True)  # lr 0: weights must stay what was saved
    assert resumed["validation_epoch"] > 0
    final_generator = load_file(f"{output}/generator/model.safetensors")
    key = next(k for k in saved_generator if k.endswith("lm_head.dense.weight"))
    assert torch.equal(saved_generator[key], final_generator[key])
    assert AutoTokenizer.from_pretrained(output).get_vocab() == vocab_before
