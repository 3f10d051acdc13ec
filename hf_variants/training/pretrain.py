"""`hfv pretrain`: train a tokenizer (unless given) and pretrain a variant with its own objective.

Each variant's declared `objective` (see `hfv list`) is the key of a recipe in `hf_variants.objectives.recipes`,
which picks the model head, the data preparation and the collator.
"""

from __future__ import annotations

import math

import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer

from .. import data as datasets_module
from .. import objectives
from ..objectives.recipes import pretraining_recipe
from ..tokenization import train_tokenizer
from ..variants import VARIANTS
from .runner import RunSettings, command_line, finish, last_checkpoint, prepare_output, train

# Model size presets; "base" keeps the variant's own (paper) sizes.
SIZES = {
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256, vocab_size=2000,
                 max_length=64),
    "small": dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
                  vocab_size=8000, max_length=128),
    "base": dict(vocab_size=30000, max_length=512),
}


def _model_config(name: str, size: str, tokenizer) -> tuple:
    spec = VARIANTS[name]
    defaults = spec.config_class()
    preset = dict(SIZES[size])
    max_length = preset.pop("max_length")
    preset["vocab_size"] = len(tokenizer)
    if size != "base" and hasattr(defaults, "num_attention_heads"):
        if defaults.num_key_value_heads != defaults.num_attention_heads:
            preset["num_key_value_heads"] = max(1, preset["num_attention_heads"] // 2)
        else:
            preset["num_key_value_heads"] = preset["num_attention_heads"]
    if size != "base" and getattr(defaults, "embedding_size", None) != getattr(defaults, "hidden_size", None):
        preset["embedding_size"] = preset["hidden_size"] // 2  # keep ALBERT/ELECTRA factorized
    # Size fields the variant does not have (the RNN baseline has no heads or feed-forward) are left out.
    preset = {k: v for k, v in preset.items() if hasattr(defaults, k)}
    for token in ("pad", "bos", "eos"):
        value = getattr(tokenizer, f"{token}_token_id", None)
        default = getattr(defaults, f"{token}_token_id", None)
        if value is not None or (isinstance(default, int) and default >= len(tokenizer)):
            preset[f"{token}_token_id"] = value  # the tokenizer's id; a default outside its vocabulary means none
    if getattr(defaults, "is_encoder_decoder", False):
        # A variant whose decoder starts from its end-of-sequence token (BART) keeps doing so with the trained
        # tokenizer's ids; the others start from padding.
        eos_start = defaults.decoder_start_token_id == defaults.eos_token_id
        start = tokenizer.eos_token_id if eos_start else tokenizer.pad_token_id
        preset["decoder_start_token_id"] = start
        if hasattr(defaults, "num_decoder_layers") and size != "base":
            preset["num_decoder_layers"] = preset["num_hidden_layers"]
    if getattr(defaults, "position_embedding_type", None) in ("learned", "sinusoidal") and \
            defaults.max_position_embeddings < max_length + 4:
        preset["max_position_embeddings"] = max_length + 4
    return spec.config_class(**preset), max_length


def _texts(dataset) -> tuple[list[str], list[str]]:
    validation = dataset.get("validation") or dataset.get("test")
    train_texts = [t for t in dataset["train"]["text"] if t and t.strip()]
    if validation is None:
        cut = max(1, len(train_texts) // 20)
        return train_texts[cut:], train_texts[:cut]
    return train_texts, [t for t in validation["text"] if t and t.strip()]


def pretrain(variant: str, output: str, size: str = "tiny", data: str = "shakespeare", steps: int = 200,
             tokenizer: str | None = None, batch_size: int = 16, learning_rate: float = 1e-3,
             resume: bool = False, overwrite: bool = False, seed: int = 0, quiet: bool = False,
             max_examples: int | None = None,
             max_validation: int = 400, attn_implementation: str = "sdpa", teacher: str | None = None,
             peak_tflops: float | None = None) -> dict:
    """Pretrain `variant` on `data`; saves model, tokenizer, metrics.json, loss_curve.png and README.md."""
    if variant not in VARIANTS:
        raise ValueError(f"variant={variant!r} is unknown; allowed: {', '.join(VARIANTS)}")
    if size not in SIZES:
        raise ValueError(f"size={size!r} is not supported; allowed: {', '.join(SIZES)}")
    import hf_variants  # noqa: F401  (Auto registration)

    torch.manual_seed(seed)
    output_dir = prepare_output(output, resume, overwrite)
    train_texts, validation_texts = _texts(datasets_module.load(data))
    if max_examples:
        train_texts = train_texts[:max_examples]
    validation_texts = validation_texts[:max_validation]
    recipe = pretraining_recipe(VARIANTS[variant].objective)
    if teacher and not recipe.distillation:
        raise ValueError(f"--teacher is for variants pretrained by distillation (objective distillation+mlm), not "
                         f"{variant!r} (objective {VARIANTS[variant].objective})")
    if teacher:  # the student must read the teacher's tokens
        tokenizer = tokenizer or teacher
    checkpoint = last_checkpoint(output_dir) if resume else None
    if checkpoint and not tokenizer:  # a retrained tokenizer could number tokens differently: reuse the saved one
        tokenizer = checkpoint
    if tokenizer:
        tok = AutoTokenizer.from_pretrained(tokenizer)
    else:
        print(f"training the {variant} tokenizer ({VARIANTS[variant].tokenizer.__name__}) on "
              f"{len(train_texts):,} texts")
        tok = train_tokenizer(variant, train_texts, vocab_size=SIZES[size]["vocab_size"], show_progress=False)
    config, max_length = _model_config(variant, size, tok)
    config._attn_implementation = attn_implementation
    model, train_set, validation_set, collator = recipe.prepare(config, tok, train_texts, validation_texts,
                                                                max_length)
    if checkpoint and isinstance(model, objectives.ElectraPreTrainingModel):
        # Trainer's resume restores only the root (discriminator) weights; the generator lives in a subfolder.
        model = objectives.ElectraPreTrainingModel.from_pretrained(checkpoint)
    print(f"pretraining hfv_{variant} ({size}, {sum(p.numel() for p in model.parameters()):,} parameters, "
          f"objective {VARIANTS[variant].objective}) for {steps} steps on {len(train_set):,} examples")
    settings = RunSettings(output=output_dir, steps=steps, batch_size=batch_size, learning_rate=learning_rate,
                           seed=seed, resume=resume, quiet=quiet, peak_tflops=peak_tflops)
    extra = {}
    if teacher:  # DistilBERT's recipe: student = every other teacher layer, soft targets + MLM + cosine
        teacher_model = AutoModelForMaskedLM.from_pretrained(teacher).eval()
        model = objectives.init_student_from_teacher(teacher_model)
        settings.trainer_class, extra = objectives.DistillationTrainer, {"teacher_model": teacher_model}
        print(f"distilling {teacher} ({sum(p.numel() for p in teacher_model.parameters()):,} parameters) into "
              f"{sum(p.numel() for p in model.parameters()):,}")
    trainer, history = train(model, settings, train_set, validation_set, collator, tok, **extra)
    metrics = {f"validation_{k.removeprefix('eval_')}": v for k, v in trainer.evaluate().items()}
    if "validation_loss" in metrics and recipe.perplexity:
        metrics["validation_perplexity"] = math.exp(metrics["validation_loss"])
    model.save_pretrained(str(output_dir))
    tok.save_pretrained(str(output_dir))
    finish(output_dir, history, metrics, variant=variant, task=f"pretraining ({VARIANTS[variant].objective})",
           data=data, command=command_line("pretrain", variant, size=size, data=data, steps=steps,
                                            tokenizer=tokenizer, batch_size=batch_size, learning_rate=learning_rate,
                                            seed=seed, max_examples=max_examples, teacher=teacher,
                                            peak_tflops=peak_tflops, output=output))
    return metrics


__all__ = ["pretrain", "SIZES"]
