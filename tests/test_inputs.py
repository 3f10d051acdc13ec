"""Input validation at the model boundary (issue 14): wrong ranks, shapes, batch sizes and empty inputs fail with a
ValueError naming the argument and the expected shape (hf_variants/core/inputs.py)."""

import pytest
import torch

import hf_variants
from tests.variant_configs import tiny_config

V = hf_variants.VARIANTS
IDS = torch.arange(1, 13).view(2, 6)
MASK = torch.ones(2, 6, dtype=torch.long)


def _model(variant: str, head: str):
    torch.manual_seed(0)
    return V[variant].classes[head](tiny_config(variant)).eval()


@pytest.mark.parametrize("variant,head", [("bert", "ForMaskedLM"), ("llama", "ForCausalLM"),
                                          ("t5", "ForConditionalGeneration")])
@pytest.mark.parametrize("arguments,message", [
    (dict(input_ids=IDS[0]), r"input_ids must be \[batch, seq\] token ids, got shape \(6,\)"),
    (dict(input_ids=IDS[:, :0]), r"input_ids is empty \(shape \(2, 0\)\)"),
    (dict(input_ids=IDS[:0]), r"input_ids is empty \(shape \(0, 6\)\)"),
    (dict(input_ids=IDS.float()), "input_ids must hold integer token ids"),
    (dict(input_ids=IDS, attention_mask=MASK[:, :4]), r"attention_mask must be \[batch=2, seq=6\].*\(2, 4\)"),
    (dict(input_ids=IDS, attention_mask=torch.ones(3, 6)), r"attention_mask must be \[batch=2, seq=6\].*\(3, 6\)"),
    (dict(input_ids=IDS, attention_mask=MASK[0]), r"attention_mask must be \[batch=2, seq=6\].*\(6,\)"),
    (dict(input_ids=IDS, labels=IDS[:1]), r"labels must start with the batch size 2, got shape \(1, 6\)"),
    (dict(inputs_embeds=torch.zeros(2, 6, 5)), r"inputs_embeds must be \[batch, seq, 32\]"),
])
def test_malformed_inputs_are_refused_naming_the_argument(variant, head, arguments, message):
    model = _model(variant, head)
    if model.config.is_encoder_decoder and "decoder_input_ids" not in arguments:
        arguments = {**arguments, "decoder_input_ids": IDS}
    with pytest.raises((ValueError, TypeError), match=message):
        model(**arguments)


def test_token_level_labels_and_token_types_must_match_the_inputs():
    bert = _model("bert", "ForMaskedLM")
    with pytest.raises(ValueError, match=r"labels must be \[batch, seq\] = \[2, 6\]"):
        bert(input_ids=IDS, labels=IDS[:, :4])
    with pytest.raises(ValueError, match=r"token_type_ids must have the shape of the inputs \[2, 6\]"):
        bert(input_ids=IDS, token_type_ids=torch.zeros(2, 5, dtype=torch.long))
    qa = _model("bert", "ForQuestionAnswering")
    with pytest.raises(ValueError, match=r"start_positions must be \[batch=2\]"):
        qa(input_ids=IDS, start_positions=torch.zeros(3, dtype=torch.long), end_positions=torch.zeros(2).long())


def test_decoder_inputs_are_checked_and_required_where_native_requires_them():
    t5 = _model("t5", "Model")
    with pytest.raises(ValueError, match="pass decoder_input_ids"):
        t5(input_ids=IDS)  # native T5 raises too; it used to decode the shifted source silently
    with pytest.raises(ValueError, match=r"decoder_attention_mask must be \[batch=2, seq=6\]"):
        t5(input_ids=IDS, decoder_input_ids=IDS, decoder_attention_mask=MASK[:, :3])
    with pytest.raises(ValueError, match="decoder inputs have batch size 1, the encoder inputs 2"):
        t5(input_ids=IDS, decoder_input_ids=IDS[:1])
    bart = _model("bart", "Model")
    assert bart(input_ids=IDS).last_hidden_state.shape == (2, 6, 32)  # native BartModel: the shifted source


def test_valid_inputs_still_work_including_generation_with_a_cache():
    llama = _model("llama", "ForCausalLM")
    mask = MASK.clone()
    mask[1, :2] = 0  # left padding
    out = llama.generate(input_ids=IDS, attention_mask=mask, max_new_tokens=3, do_sample=False)
    assert out.shape == (2, 9)
    t5 = _model("t5", "ForConditionalGeneration")
    assert t5.generate(input_ids=IDS, attention_mask=MASK, max_new_tokens=3, do_sample=False).shape[0] == 2
    choice = _model("bert", "ForMultipleChoice")
    assert choice(input_ids=IDS.view(1, 2, 6), labels=torch.tensor([1])).logits.shape == (1, 2)


def test_checks_run_once_at_the_outermost_call_and_again_after_an_error_inside(monkeypatch):
    """The head checks its inputs and its base model call does not (one check per generated token, not two); a
    forward that fails inside must not leave the next call unchecked."""
    import hf_variants.core.inputs as inputs

    llama = _model("llama", "ForCausalLM")
    seen = []
    check = inputs.check_inputs
    monkeypatch.setattr(inputs, "check_inputs", lambda model, arguments: seen.append(type(model).__name__)
                        or check(model, arguments))
    llama(input_ids=IDS)
    assert seen == ["HfvLlamaForCausalLM"]
    with pytest.raises(ValueError, match="pass exactly one of input_ids or inputs_embeds"):
        llama()  # passes the boundary checks, fails in the base model
    with pytest.raises(ValueError, match=r"input_ids must be \[batch, seq\] token ids"):
        llama(input_ids=IDS[0])
    with pytest.raises(TypeError, match="unexpected keyword argument 'nonsense'"):
        llama(input_ids=IDS, nonsense=1)
    llama.model(input_ids=IDS)  # a base model called on its own is the outermost call
    assert seen[-1] == "DecoderModel"
