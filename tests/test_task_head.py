"""The task heads' one forward (hf_variants/families/task_head.py): each head's signature is its family base
model's inputs plus its own arguments, visible to everything that reads forward signatures (the keyword check,
Trainer's columns and label names, generate), and positional calls bind to it."""

import inspect

import pytest
import torch
from transformers.utils import find_labels

import hf_variants
from hf_variants.families.decoder import DecoderModel
from hf_variants.families.encoder import EncoderModel
from hf_variants.families.encoder_decoder import EncoderDecoderModel
from tests.variant_configs import tiny_config

V = hf_variants.VARIANTS
IDS = torch.arange(1, 13).view(2, 6)


def _names(forward) -> list[str]:
    return [p.name for p in inspect.signature(forward).parameters.values() if p.kind is not p.VAR_KEYWORD]


@pytest.mark.parametrize("variant,base", [("bert", EncoderModel), ("llama", DecoderModel),
                                          ("t5", EncoderDecoderModel)])
def test_every_head_takes_its_base_models_inputs_declared_once(variant, base):
    inputs = _names(base.forward)[1:]
    for head, cls in V[variant].classes.items():
        if head == "Model":
            continue
        names = _names(cls.forward)
        own = [name for name in names[1:] if name not in inputs]
        assert own, f"{cls.__name__} declares no arguments of its own"
        assert [name for name in names[1:] if name in inputs] == [
            name for name in inputs if name in names], f"{cls.__name__}: base inputs out of order"
        assert set(inputs) - set(names) <= set(cls.unused_inputs), cls.__name__


def test_head_arguments_are_what_trainer_and_generate_read():
    classes = V["bert"].classes
    assert find_labels(classes["ForQuestionAnswering"]) == ["start_positions", "end_positions"]
    assert find_labels(classes["ForPreTraining"]) == ["labels", "next_sentence_label", "sentence_order_label"]
    assert find_labels(classes["ForSequenceClassification"]) == ["labels"]
    lm = _names(V["gpt2"].classes["ForCausalLM"].forward)
    assert lm[:7] == ["self", "input_ids", "attention_mask", "position_ids", "cache", "inputs_embeds", "labels"]
    assert {"logits_to_keep", "token_type_ids", "past_key_values", "use_cache"} <= set(lm)
    assert "labels" not in _names(V["bert"].classes["ForQuestionAnswering"].forward)


def test_positional_and_keyword_calls_agree_and_bad_calls_are_refused():
    torch.manual_seed(0)
    model = V["bert"].classes["ForQuestionAnswering"](tiny_config("bert")).eval()
    mask, types = torch.ones_like(IDS), torch.zeros_like(IDS)
    starts = torch.tensor([1, 2])
    by_name = model(input_ids=IDS, attention_mask=mask, token_type_ids=types, start_positions=starts,
                    end_positions=starts)
    by_position = model(IDS, mask, types, None, None, starts, starts)
    torch.testing.assert_close(by_position.start_logits, by_name.start_logits)
    torch.testing.assert_close(by_position.loss, by_name.loss)
    with pytest.raises(TypeError, match="at most 7 positional arguments"):
        model(IDS, mask, types, None, None, starts, starts, starts)
    with pytest.raises(TypeError, match="twice"):
        model(IDS, input_ids=IDS)
    with pytest.raises(TypeError, match="unexpected keyword argument 'labels'"):
        model(IDS, labels=starts)
