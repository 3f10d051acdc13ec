"""`hfv finetune`: fine-tune a saved hf_variants model on a task with transformers' Trainer.

Tasks and the columns they read:
- classification: `text` (and optional `text_pair`), `label` (int)       — default data: movie_reviews
- token-classification: `tokens` (list of words), `tags` (list of int)
- qa: `question`, `context`, `answers` ({"text": [...], "answer_start": [...]}, SQuAD layout)
- causal-lm: `text`                                                       — default data: shakespeare
- seq2seq: `source`, `target`
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForQuestionAnswering,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
)

from .. import data as datasets_module
from ..checkpoints import load_checkpoint
from .runner import RunSettings, command_line, finish, prepare_output, train

TASKS = ("classification", "token-classification", "qa", "causal-lm", "seq2seq")
DEFAULT_DATA = {"classification": "movie_reviews", "causal-lm": "shakespeare"}


def _variant_name(model_dir: str) -> str:
    model_type = json.loads((Path(model_dir) / "config.json").read_text())["model_type"]
    return model_type.removeprefix("hfv_")


def _matching_tokenizer(model_dir: str):
    """The model folder's tokenizer, refused when the folder has no tokenizer files (transformers would build a
    tokenizer of special tokens only: every word [UNK]) or when its ids do not fit the model's vocabulary."""
    from ..convert import TOKENIZER_FILES

    if not any((Path(model_dir) / name).exists() for name in TOKENIZER_FILES):
        raise FileNotFoundError(f"{model_dir} has no tokenizer files (one of {', '.join(TOKENIZER_FILES)}): save the "
                                "tokenizer the model was trained with next to it")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    vocab_size = AutoConfig.from_pretrained(model_dir).vocab_size
    # Checkpoints may pad the embedding table (T5: 32128 rows for 32100 tokens); more tokens than rows never fit.
    if len(tokenizer) > vocab_size or len(tokenizer) < min(vocab_size // 2, vocab_size - max(128, vocab_size // 100)):
        raise ValueError(f"the tokenizer in {model_dir} has {len(tokenizer)} tokens but the model's vocab_size is "
                         f"{vocab_size}: they do not belong together")
    return tokenizer


def _splits(dataset):
    validation = dataset.get("validation") or dataset.get("test")
    if validation is None:
        split = dataset["train"].train_test_split(test_size=0.1, seed=0)
        return split["train"], split["test"], None
    return dataset["train"], validation, dataset.get("test") if "validation" in dataset else None


def _classification(model_dir, tokenizer, dataset, max_length):
    train_set, validation, test = _splits(dataset)
    labels = sorted(set(train_set["label"]))
    model = load_checkpoint(AutoModelForSequenceClassification, model_dir, new_heads=True, num_labels=len(labels))

    def encode(batch):
        pair = batch.get("text_pair")
        return tokenizer(batch["text"], pair, truncation=True, max_length=max_length)

    columns = ["text"] + (["text_pair"] if "text_pair" in train_set.column_names else [])
    splits = [s.map(encode, batched=True, remove_columns=columns) if s is not None else None
              for s in (train_set, validation, test)]
    for s in splits:
        if s is not None:
            s.set_format(columns=[c for c in s.column_names if c in ("input_ids", "attention_mask", "token_type_ids",
                                                                      "label")])

    def accuracy(prediction):
        return {"accuracy": float((np.argmax(prediction.predictions, -1) == prediction.label_ids).mean())}

    majority = max(labels, key=list(train_set["label"]).count)
    return model, splits, DataCollatorWithPadding(tokenizer), accuracy, majority


def _causal_lm(model_dir, tokenizer, dataset, max_length):
    from ..objectives import pack_sequences

    train_set, validation, _ = _splits(dataset)
    model = load_checkpoint(AutoModelForCausalLM, model_dir, new_heads=True)

    def blocks(split):
        ids = tokenizer([t for t in split["text"] if t], add_special_tokens=False)["input_ids"]
        return Dataset.from_list(pack_sequences(ids, block_size=max_length, eos_token_id=tokenizer.eos_token_id))

    return model, (blocks(train_set), blocks(validation), None), None, None, None


def finetune(model_dir: str, task: str, output: str, data: str | None = None, steps: int = 200,
             batch_size: int = 16, learning_rate: float = 1e-4, max_length: int = 128, resume: bool = False,
             overwrite: bool = False, seed: int = 0, quiet: bool = False, peak_tflops: float | None = None) -> dict:
    """Fine-tune `model_dir` on `task`; saves model, tokenizer, metrics.json, loss_curve.png, README.md."""
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not supported; allowed: {', '.join(TASKS)}")
    data = data or DEFAULT_DATA.get(task)
    if data is None:
        raise ValueError(f"task {task!r} has no default data: pass --data (a local file or dataset name)")
    import hf_variants  # noqa: F401  (Auto registration)

    torch.manual_seed(seed)
    output_dir = prepare_output(output, resume, overwrite)
    tokenizer = _matching_tokenizer(model_dir)
    dataset = datasets_module.load(data)
    variant = _variant_name(model_dir)
    if task == "classification":
        model, (train_set, validation, test), collator, metric, majority = _classification(
            model_dir, tokenizer, dataset, max_length)
    elif task == "causal-lm":
        model, (train_set, validation, test), collator, metric, majority = _causal_lm(
            model_dir, tokenizer, dataset, max_length)
    else:
        return _other_task(task, model_dir, tokenizer, dataset, output_dir, steps, batch_size, learning_rate,
                           max_length, resume, seed, variant, data, quiet, peak_tflops=peak_tflops)
    settings = RunSettings(output=output_dir, steps=steps, batch_size=batch_size, learning_rate=learning_rate,
                           seed=seed, resume=resume, quiet=quiet, peak_tflops=peak_tflops)
    trainer, history = train(model, settings, train_set, validation, collator, tokenizer, compute_metrics=metric)
    metrics = {f"validation_{k.removeprefix('eval_')}": v for k, v in trainer.evaluate().items()}
    if test is not None:
        metrics.update({f"test_{k.removeprefix('test_')}": v
                        for k, v in trainer.predict(test).metrics.items() if k.startswith("test_")})
    if majority is not None and test is not None:
        metrics["test_majority_baseline"] = float(np.mean(np.array(test["label"]) == majority))
    if task == "causal-lm":
        metrics["validation_perplexity"] = math.exp(metrics["validation_loss"])
    trainer.save_model(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    finish(output_dir, history, metrics, variant=variant, task=task, data=data,
           command=command_line("finetune", model_dir, task=task, data=data, steps=steps, batch_size=batch_size,
                                learning_rate=learning_rate, max_length=max_length, seed=seed, peak_tflops=peak_tflops,
                                output=output))
    return metrics


def _other_task(task, model_dir, tokenizer, dataset, output_dir, steps, batch_size, learning_rate, max_length,
                resume, seed, variant, data, quiet, peak_tflops=None):
    """token-classification and seq2seq: column conventions documented in the module docstring."""
    train_set, validation, _ = _splits(dataset)
    if task == "token-classification":
        num_labels = 1 + max(max(tags) for tags in train_set["tags"])
        model = load_checkpoint(AutoModelForTokenClassification, model_dir, new_heads=True, num_labels=num_labels)

        def encode(batch):
            encoded = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
            encoded["labels"] = [
                [-100 if w is None else tags[w] for w in encoded.word_ids(i)] for i, tags in enumerate(batch["tags"])
            ]
            return encoded

        collator = DataCollatorForTokenClassification(tokenizer)
    elif task == "qa":
        model = load_checkpoint(AutoModelForQuestionAnswering, model_dir, new_heads=True)
        encode = _qa_encoder(tokenizer, max_length)
        collator = DataCollatorWithPadding(tokenizer)
    else:
        if AutoConfig.from_pretrained(model_dir).is_encoder_decoder is False:
            raise ValueError(f"task 'seq2seq' needs an encoder-decoder model, {model_dir} is hfv_{variant}")
        model = load_checkpoint(AutoModelForSeq2SeqLM, model_dir, new_heads=True)

        def encode(batch):
            return tokenizer(batch["source"], text_target=batch["target"], truncation=True, max_length=max_length)

        collator = DataCollatorForSeq2Seq(tokenizer, model=model)
    train_set, validation = (s.map(encode, batched=True, remove_columns=s.column_names) for s in (train_set, validation))
    settings = RunSettings(output=output_dir, steps=steps, batch_size=batch_size, learning_rate=learning_rate,
                           seed=seed, resume=resume, quiet=quiet, peak_tflops=peak_tflops)
    trainer, history = train(model, settings, train_set, validation, collator, tokenizer)
    metrics = {f"validation_{k.removeprefix('eval_')}": v for k, v in trainer.evaluate().items()}
    trainer.save_model(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    finish(output_dir, history, metrics, variant=variant, task=task, data=data,
           command=command_line("finetune", model_dir, task=task, data=data, steps=steps, batch_size=batch_size,
                                learning_rate=learning_rate, max_length=max_length, seed=seed, peak_tflops=peak_tflops,
                                output=str(output_dir)))
    return metrics


def _qa_encoder(tokenizer, max_length: int):
    """Question + context -> token start/end positions of the first answer (0, the first token, when the answer
    was truncated away), via the tokenizer's character offsets."""

    def encode(batch):
        encoded = tokenizer(batch["question"], batch["context"], truncation="only_second", max_length=max_length,
                            return_offsets_mapping=True)
        starts, ends = [], []
        for i, answers in enumerate(batch["answers"]):
            char_start = answers["answer_start"][0]
            char_end = char_start + len(answers["text"][0])
            sequence_ids = encoded.sequence_ids(i)
            start = end = 0
            for token, (offset, sequence) in enumerate(zip(encoded["offset_mapping"][i], sequence_ids)):
                if sequence != 1:
                    continue
                if offset[0] <= char_start < offset[1]:
                    start = token
                if offset[0] < char_end <= offset[1]:
                    end = token
            starts.append(start)
            ends.append(end if end >= start else start)
        encoded.pop("offset_mapping")
        encoded["start_positions"], encoded["end_positions"] = starts, ends
        return encoded

    return encode


__all__ = ["finetune", "TASKS"]
