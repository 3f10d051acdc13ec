"""PEFT: `LoraConfig(task_type=...)` without target_modules for every variant; a LoRA fine-tune with Trainer per
family lowers the loss, saves the adapter, reloads on the base model and merges to identical outputs."""

import pytest
import torch

import hf_variants
from hf_variants.core.attention import Attention
from tests.variant_configs import TEST_VARIANTS, tiny_config

peft = pytest.importorskip("peft")
from peft import LoraConfig, PeftModel, TaskType, get_peft_model  # noqa: E402
from transformers import Trainer, TrainingArguments  # noqa: E402

# family -> (head, peft task type)
TASKS = {"decoder": ("ForCausalLM", TaskType.CAUSAL_LM),
         "encoder": ("ForSequenceClassification", TaskType.SEQ_CLS),
         "encoder-decoder": ("ForConditionalGeneration", TaskType.SEQ_2_SEQ_LM)}


def base_model(name, seed=0):
    torch.manual_seed(seed)
    head, _ = TASKS[hf_variants.VARIANTS[name].family]
    return hf_variants.VARIANTS[name].classes[head](tiny_config(name, num_labels=2)).eval()


def lora(name):
    return LoraConfig(task_type=TASKS[hf_variants.VARIANTS[name].family][1], r=4, lora_alpha=8, lora_dropout=0.0)


@pytest.mark.parametrize("name", list(TEST_VARIANTS))
def test_lora_without_target_modules(name):
    """peft's LLaMA default (q_proj, v_proj), or the fused q/k/v projection where the model has one (GPT-2, as
    native GPT-2's default c_attn)."""
    model = base_model(name)
    expected = set()
    for module_name, module in model.named_modules():
        if isinstance(module, Attention):
            parts = ("qkv_proj",) if module.fused_qkv else ("q_proj", "v_proj")
            expected |= {f"{module_name}.{part}" for part in parts}
    peft_model = get_peft_model(model, lora(name))
    adapted = {n.removeprefix("base_model.model.") for n, m in peft_model.named_modules() if hasattr(m, "lora_A")}
    assert expected and adapted == expected


def batch(name, size=8, length=6):
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(3, 99, (size, length), generator=generator)
    family = hf_variants.VARIANTS[name].family
    if family == "decoder":
        return {"input_ids": ids, "labels": ids.clone()}
    if family == "encoder":
        return {"input_ids": ids, "labels": (ids[:, 0] % 2)}
    return {"input_ids": ids, "labels": ids.flip(-1)}


class Rows(torch.utils.data.Dataset):
    def __init__(self, tensors):
        self.tensors = tensors

    def __len__(self):
        return len(next(iter(self.tensors.values())))

    def __getitem__(self, i):
        return {k: v[i] for k, v in self.tensors.items()}


@torch.no_grad()
def outputs(model, inputs):
    model.eval()
    return model(**inputs).logits


@pytest.mark.parametrize("name", ["bert", "llama", "t5"])  # one variant per family
def test_lora_trainer_save_reload_merge(name, tmp_path):
    data = batch(name)
    base_dir = tmp_path / "base"
    base_model(name).save_pretrained(base_dir)
    model = get_peft_model(base_model(name), lora(name))
    loss_before = model(**data).loss.item()
    args = TrainingArguments(output_dir=str(tmp_path / "run"), per_device_train_batch_size=8, num_train_epochs=15,
                             learning_rate=5e-2, report_to=[], save_strategy="no", logging_strategy="no",
                             use_cpu=True, disable_tqdm=True)
    Trainer(model=model, args=args, train_dataset=Rows(data)).train()
    expected = outputs(model, data)
    assert model(**data).loss.item() < loss_before - 0.05

    model.save_pretrained(tmp_path / "adapter")
    head = TASKS[hf_variants.VARIANTS[name].family][0]
    reloaded = PeftModel.from_pretrained(
        hf_variants.VARIANTS[name].classes[head].from_pretrained(base_dir), tmp_path / "adapter")
    assert torch.allclose(outputs(reloaded, data), expected, atol=1e-5)
    merged = reloaded.merge_and_unload()
    assert not any("lora" in n for n, _ in merged.named_parameters())
    assert torch.allclose(outputs(merged, data), expected, atol=1e-5)
