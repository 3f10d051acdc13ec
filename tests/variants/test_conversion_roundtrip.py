"""Conversion completeness: a model built from each variant's own defaults (only its sizes shrunk) converts to
native and back and to native again without losing anything; `from_native` refuses, naming the fields, the native
configurations it cannot represent, and accepts the ones it can."""

import pytest
import torch
import transformers

import hf_variants
from hf_variants.convert import from_native, to_native
from hf_variants.core.config import DERIVED_FIELDS
from tests.variant_configs import native_head_cases

SIZES = dict(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=8, intermediate_size=64)
IGNORED = {"transformers_version", "_name_or_path", "architectures"}




def _config_dict(config) -> dict:
    values = {k: v for k, v in config.to_dict().items() if k not in IGNORED}
    for name in DERIVED_FIELDS:  # to_dict writes a derived size as None; a native config states it: same model
        if name in values:
            values[name] = getattr(config, name)
    return values


def _assert_same_model(a, b) -> None:
    assert type(a) is type(b)
    assert _config_dict(a.config) == _config_dict(b.config)
    state_a, state_b = a.state_dict(), b.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key


@pytest.mark.parametrize("name,head", native_head_cases())
def test_defaults_round_trip_through_native(name, head):
    spec = hf_variants.VARIANTS[name]
    torch.manual_seed(0)
    sizes = dict(SIZES)
    if name == "gpt":
        sizes["intermediate_size"] = 4 * SIZES["hidden_size"]  # GPT-1's MLP is 4 x hidden
    if name == "gpt2":
        sizes.update(bos_token_id=1, eos_token_id=2)  # the default 50256 lies outside this vocabulary
    ours = spec.classes[head](spec.config_class(**sizes))
    native = to_native(ours)
    back = from_native(native, variant=name)
    _assert_same_model(back, ours)
    _assert_same_model(to_native(back), native)


SMALL_NATIVE = {
    "bart": (transformers.BartConfig, dict(vocab_size=99, d_model=32, encoder_layers=2, decoder_layers=2,
                                           encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=37,
                                           decoder_ffn_dim=37, max_position_embeddings=64)),
    "gpt2": (transformers.GPT2Config, dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64)),
    "bert": (transformers.BertConfig, dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                           intermediate_size=37)),
    "albert": (transformers.AlbertConfig, dict(vocab_size=99, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                                               num_attention_heads=4, intermediate_size=37)),
    "switch": (transformers.SwitchTransformersConfig, dict(vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_layers=2,
                                                           num_decoder_layers=2, num_heads=4, num_experts=4,
                                                           expert_capacity=8)),
}


def small_native(name: str, **fields):
    config_class, sizes = SMALL_NATIVE[name]
    return config_class(**{**sizes, **fields})


REFUSED = [
    ("bart", "BartModel", {"decoder_attention_heads": 2}, "decoder_attention_heads=2"),
    ("bart", "BartModel", {"decoder_ffn_dim": 16}, "decoder_ffn_dim=16"),
    ("bart", "BartModel", {"encoder_layerdrop": 0.1}, "encoder_layerdrop=0.1"),
    ("gpt2", "GPT2Model", {"resid_pdrop": 0.1, "embd_pdrop": 0.2}, "embd_pdrop=0.2"),
    ("bert", "BertModel", {"is_decoder": True}, "is_decoder=True"),
    ("albert", "AlbertModel", {"inner_group_num": 2}, "inner_group_num=2"),
    ("switch", "SwitchTransformersModel", {"num_sparse_encoder_layers": 1, "num_sparse_decoder_layers": 1,
                                           "num_layers": 4, "num_decoder_layers": 4}, "num_sparse_encoder_layers=1"),
]


@pytest.mark.parametrize("name,cls,fields,named", REFUSED)
def test_from_native_refuses_what_it_cannot_represent(name, cls, fields, named):
    native = getattr(transformers, cls)(small_native(name, **fields))
    with pytest.raises(ValueError, match=named):
        from_native(native)


def test_all_sparse_switch_converts_as_moe_layer_frequency_1():
    torch.manual_seed(0)
    native = transformers.SwitchTransformersForConditionalGeneration(
        small_native("switch", num_sparse_encoder_layers=2, num_sparse_decoder_layers=2)).eval()
    ours = from_native(native).eval()
    assert ours.config.moe_layer_frequency == 1
    assert all(ours.config.is_moe_layer(i) for i in range(2))
    ids = torch.randint(2, 99, (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = native(input_ids=ids, decoder_input_ids=ids[:, :5]).logits
        actual = ours(input_ids=ids, decoder_input_ids=ids[:, :5]).logits
    assert (expected - actual).abs().max().item() <= 1e-5
    back = to_native(ours)
    assert back.config.num_sparse_encoder_layers == back.config.num_sparse_decoder_layers == 2
    assert back.state_dict().keys() == native.state_dict().keys()
    assert all(torch.equal(back.state_dict()[k], v) for k, v in native.state_dict().items())


def test_albert_without_classifier_dropout_converts(tmp_path):
    """What `hfv pretrain albert` writes (classifier_dropout None: the hidden dropout) converts to native."""
    from hf_variants.convert import convert_checkpoint

    spec = hf_variants.VARIANTS["albert"]
    ours = spec.classes["ForPreTraining"](spec.config_class(**SIZES, classifier_dropout=None, hidden_dropout_prob=0.05))
    ours.save_pretrained(tmp_path / "ours")
    native = convert_checkpoint(tmp_path / "ours", tmp_path / "native")
    assert type(native) is transformers.AlbertForPreTraining
    assert native.config.classifier_dropout_prob == 0.05
