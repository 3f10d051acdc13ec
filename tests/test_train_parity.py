"""Train-mode parity: with dropout on, the same seed and the same weights, one training step of every head of every
variant with a native counterpart gives native's loss and gradients (eager attention and the eager expert loop on
both sides). Dropout masks agree only if every module draws its random numbers in native's order, so this is the
test of dropout placement (docs/training_fidelity.md, "Initialisation and dropout")."""

import pytest
import torch

import hf_variants
from hf_variants.convert import to_native
from hf_variants.convert.qkv import split_qkv
from tests.variant_configs import native_head_cases, tiny_config

DROPOUT = dict(hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
OVERRIDES = {
    # T5's one dropout_rate is ours three times; BART has its own activation dropout
    "t5": {"activation_dropout": 0.1}, "byt5": {"activation_dropout": 0.1}, "bart": {"activation_dropout": 0.1},
    "switch": {"activation_dropout": 0.1, "moe_implementation": "eager"},
    # LLaMA-style natives have attention dropout only
    "llama": {"hidden_dropout_prob": 0.0}, "mistral": {"hidden_dropout_prob": 0.0},
    "mixtral": {"hidden_dropout_prob": 0.0, "moe_implementation": "eager"},
}
# Native routers report their logits (and add the balancing losses to the loss) only when asked.
NATIVE_KWARGS = {"mixtral": {"output_router_logits": True}, "switch": {"output_router_logits": True}}
BATCH, SEQ = 2, 7




def _inputs(config, family: str, head: str) -> dict:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, config.vocab_size, (BATCH, SEQ), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, -2:] = 0
    pad = config.pad_token_id if config.pad_token_id is not None else 0
    ids = ids.masked_fill(mask == 0, pad)
    per_token = torch.randint(0, 2, (BATCH, SEQ), generator=generator).masked_fill(mask == 0, -100)
    pair = torch.tensor([0, 1])
    inputs = {"input_ids": ids, "attention_mask": mask}
    if family == "encoder-decoder":
        targets = torch.randint(3, config.vocab_size, (BATCH, 5), generator=generator)
        if head == "Model":
            inputs["decoder_input_ids"] = targets
        elif head == "ForConditionalGeneration":
            inputs["labels"] = targets.masked_fill(torch.tensor([[0] * 5, [0, 0, 0, 1, 1]]).bool(), -100)
        else:  # sequence classification reads the state at the (single) EOS token
            inputs["input_ids"][:, SEQ - 3] = config.eos_token_id
            inputs["labels"] = pair
        return inputs
    if head == "ForMultipleChoice":
        return {"input_ids": ids[None].repeat(2, 1, 1), "attention_mask": mask[None].repeat(2, 1, 1),
                "labels": pair}
    labels = {
        "ForMaskedLM": {"labels": per_token.where(per_token == 1, ids).masked_fill(per_token != 1, -100)},
        "ForCausalLM": {"labels": ids.masked_fill(mask == 0, -100)},
        "ForSequenceClassification": {"labels": pair},
        "ForTokenClassification": {"labels": per_token},
        "ForQuestionAnswering": {"start_positions": torch.tensor([1, 2]), "end_positions": torch.tensor([3, 4])},
    }.get(head, {})
    if head == "ForPreTraining":
        pair_key = {"mlm+nsp": "next_sentence_label", "mlm+sop": "sentence_order_label"}.get(config.pretraining_heads)
        if config.pretraining_heads == "rtd":
            labels = {"labels": per_token.clamp(min=0)}
        else:
            labels = {"labels": per_token.where(per_token == 1, ids).masked_fill(per_token != 1, -100), pair_key: pair}
    return {**inputs, **labels}


def _loss(outputs) -> torch.Tensor:
    """The head's loss; for base models a function of every output they return."""
    if outputs.get("loss") is not None:
        return outputs.loss
    total = outputs.last_hidden_state.pow(2).mean()
    for key in ("pooler_output", "encoder_last_hidden_state"):
        if outputs.get(key) is not None:
            total = total + outputs[key].pow(2).mean()
    return total


def _grads(model) -> dict[str, torch.Tensor]:
    return {key: (param.grad if param.grad is not None else torch.zeros_like(param))
            for key, param in model.named_parameters(remove_duplicate=False)}


@pytest.mark.parametrize("name,head", native_head_cases())
def test_training_step_equals_native(name, head):
    spec = hf_variants.VARIANTS[name]
    overrides = {**DROPOUT, **OVERRIDES.get(name, {})}
    if name == "mixtral" and head not in ("Model", "ForCausalLM"):
        overrides["router_aux_loss_coef"] = 0.0  # native adds the balancing loss to the causal-LM loss only
    config = tiny_config(name, **overrides)
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    ours = spec.classes[head](config).train()
    native = to_native(ours).train()
    assert native.config._attn_implementation == "eager"
    if name == "mixtral":
        native.config._experts_implementation = "eager"
    inputs = _inputs(config, spec.family, head)

    torch.manual_seed(1234)
    native_loss = _loss(native(**inputs, **NATIVE_KWARGS.get(name, {})))
    native_loss.backward()
    torch.manual_seed(1234)
    our_loss = _loss(ours(**inputs))
    our_loss.backward()

    assert abs(our_loss.item() - native_loss.item()) <= 1e-5, (our_loss.item(), native_loss.item())
    ours_as_native = spec.native.key_map.convert(split_qkv(_grads(ours), config), to_ours=False,
                                                 has_base_prefix=head != "Model", head=head)
    native_grads = _grads(native)
    compared = 0
    for key, grad in native_grads.items():
        if key in ours_as_native:
            difference = (ours_as_native[key] - grad).abs().max().item()
            assert difference <= 1e-5, f"{key}: max |Δ grad| {difference:.3g}"
            compared += 1
    assert compared >= len(native_grads) - 3
