"""Encoder variants vs native transformers: same weights, same outputs (fp32, right-padded batch), both ways."""

import pytest
import torch
import transformers

from hf_variants.convert import from_native, to_native

SMALL = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
             max_position_embeddings=64)
NATIVE_CONFIGS = {
    "Bert": lambda: transformers.BertConfig(**SMALL),
    "Roberta": lambda: transformers.RobertaConfig(**SMALL, pad_token_id=1),
    "Electra": lambda: transformers.ElectraConfig(**SMALL, embedding_size=16),
    "Albert": lambda: transformers.AlbertConfig(**SMALL, embedding_size=16, num_hidden_groups=1),
    "DistilBert": lambda: transformers.DistilBertConfig(vocab_size=99, dim=32, n_layers=2, n_heads=4,
                                                        hidden_dim=37, max_position_embeddings=64),
}
HEADS = ["Model", "ForMaskedLM", "ForPreTraining", "ForSequenceClassification", "ForTokenClassification",
         "ForQuestionAnswering", "ForMultipleChoice"]
CASES = [(p, h) for p in NATIVE_CONFIGS for h in HEADS if getattr(transformers, p + h, None) is not None]


def padded_inputs(config, multiple_choice: bool):
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, 99, (3, 9), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    ids = ids.masked_fill(mask == 0, config.pad_token_id)
    inputs = {"input_ids": ids, "attention_mask": mask}
    if multiple_choice:
        inputs = {k: v[None].repeat(2, 1, 1) for k, v in inputs.items()}
    return inputs


@pytest.mark.parametrize("prefix,head", CASES)
def test_parity_with_native(prefix, head):
    torch.manual_seed(0)
    native = getattr(transformers, prefix + head)(NATIVE_CONFIGS[prefix]()).eval()
    ours = from_native(native)
    assert type(ours).__name__ == f"Hfv{prefix}{head}"
    inputs = padded_inputs(native.config, head == "ForMultipleChoice")
    with torch.no_grad():
        expected = native(**inputs, output_hidden_states=True)
        actual = ours(**inputs, output_hidden_states=True)
    compared = 0
    for key, value in expected.items():
        if isinstance(value, torch.Tensor) and actual.get(key) is not None:
            assert (value - actual[key]).abs().max().item() <= 1e-5, key
            compared += 1
    assert compared >= 1
    for a, b in zip(expected.hidden_states, actual.hidden_states, strict=True):
        assert (a - b).abs().max().item() <= 1e-5

    back = to_native(ours)
    assert type(back) is type(native)
    reference, round_trip = native.state_dict(), back.state_dict()
    assert reference.keys() == round_trip.keys()
    for key in reference:
        assert torch.equal(reference[key], round_trip[key]), key


def test_to_native_refuses_what_native_cannot_express():
    import hf_variants

    config = hf_variants.VARIANTS["bert"].config_class(**SMALL, position_embedding_type="rope", norm_type="rmsnorm")
    model = hf_variants.VARIANTS["bert"].classes["ForMaskedLM"](config)
    with pytest.raises(ValueError) as error:
        to_native(model)
    assert "position_embedding_type='rope'" in str(error.value) and "norm_type='rmsnorm'" in str(error.value)


def test_checkpoint_directories_convert_both_ways(tmp_path):
    from hf_variants.convert import convert_checkpoint

    torch.manual_seed(0)
    native = transformers.BertForMaskedLM(NATIVE_CONFIGS["Bert"]()).eval()
    native.save_pretrained(tmp_path / "native")
    ours = convert_checkpoint(tmp_path / "native", tmp_path / "ours")
    assert ours.config.model_type == "hfv_bert"
    reloaded = transformers.AutoModelForMaskedLM.from_pretrained(tmp_path / "ours").eval()
    inputs = padded_inputs(native.config, False)
    with torch.no_grad():
        assert (native(**inputs).logits - reloaded(**inputs).logits).abs().max() <= 1e-5
    back = convert_checkpoint(tmp_path / "ours", tmp_path / "back")
    assert type(back) is transformers.BertForMaskedLM
    with pytest.raises(FileExistsError, match="overwrite"):
        convert_checkpoint(tmp_path / "native", tmp_path / "ours")


def test_hfv_convert_command(tmp_path, capsys):
    from hf_variants.cli import main

    native = transformers.DistilBertForMaskedLM(NATIVE_CONFIGS["DistilBert"]())
    native.save_pretrained(tmp_path / "native")
    assert main(["convert", str(tmp_path / "native"), str(tmp_path / "ours")]) == 0
    assert "HfvDistilBertForMaskedLM" in capsys.readouterr().out
    assert main(["convert", str(tmp_path / "native"), str(tmp_path / "ours")]) == 2  # refuses to overwrite
    assert "overwrite" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "ours"), str(tmp_path / "back"), "--overwrite"]) == 0


def test_electra_multiple_choice_with_another_summary_is_refused():
    config = NATIVE_CONFIGS["Electra"]()
    config.summary_activation = "tanh"
    with pytest.raises(ValueError, match="summary_activation='tanh'"):
        from_native(transformers.ElectraForMultipleChoice(config))
