"""Drop-in details eval-mode parity cannot see: which tables have a padding row, GPT-2's token types through the
word table, RoBERTa's pooler surviving conversion and reload."""

import pytest
import torch
import transformers

import hf_variants
from hf_variants.convert import convert_checkpoint, from_native, to_native
from tests.variant_configs import tiny_config

NATIVE_VARIANTS = [name for name, spec in hf_variants.VARIANTS.items() if spec.native is not None]


@pytest.mark.parametrize("name", NATIVE_VARIANTS)
def test_padding_rows_where_native_has_them(name):
    spec = hf_variants.VARIANTS[name]
    head = "Model"
    ours = spec.classes[head](tiny_config(name, pad_token_id=1))
    native = to_native(ours)
    assert ours.get_input_embeddings().padding_idx == native.get_input_embeddings().padding_idx
    if name == "roberta":  # positions of padding tokens use the padding row
        assert ours.embeddings.position_embeddings.padding_idx == native.embeddings.position_embeddings.padding_idx == 1


def test_gpt2_adds_token_type_embeddings_from_the_word_table_as_native():
    torch.manual_seed(0)
    native = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=99, n_embd=32, n_layer=2, n_head=4,
                                                                  n_positions=64, bos_token_id=1,
                                                                  eos_token_id=2)).eval()
    ours = from_native(native).eval()
    ids = torch.randint(0, 99, (2, 9), generator=torch.Generator().manual_seed(0))
    for token_types in (torch.zeros_like(ids), torch.randint(0, 3, ids.shape, generator=torch.Generator())):
        with torch.no_grad():
            expected = native(ids, token_type_ids=token_types).logits
            actual = ours(ids, token_type_ids=token_types).logits
        assert (expected - actual).abs().max().item() <= 1e-5
    assert (expected - ours(ids).logits).abs().max().item() > 1e-3  # token types do change the output


def test_roberta_model_keeps_its_pooler_through_conversion_and_reload(tmp_path):
    torch.manual_seed(0)
    config = transformers.RobertaConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                        intermediate_size=37, max_position_embeddings=64, pad_token_id=1)
    native = transformers.RobertaModel(config).eval()
    native.save_pretrained(tmp_path / "native")
    convert_checkpoint(tmp_path / "native", tmp_path / "ours")
    ours = hf_variants.VARIANTS["roberta"].classes["Model"].from_pretrained(tmp_path / "ours").eval()
    ids = torch.randint(3, 99, (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, actual = native(ids).pooler_output, ours(ids).pooler_output
    assert actual is not None and (expected - actual).abs().max().item() <= 1e-5
    assert hf_variants.VARIANTS["roberta"].classes["Model"](tiny_config("roberta")).pooler is not None
