"""Switch's router runs in float32 as native's (`router_dtype="float32"`, the paper's selective precision): on the
same bfloat16 hidden states our router logits, expert choices and the layer's output equal native's exactly."""

import torch

import hf_variants
from hf_variants.convert import to_native
from tests.variant_configs import tiny_config


def test_bf16_router_logits_and_outputs_equal_native():
    spec = hf_variants.VARIANTS["switch"]
    torch.manual_seed(0)
    config = tiny_config("switch", hidden_size=64, intermediate_size=64, moe_implementation="eager",
                         expert_capacity=64)
    ours = spec.classes["ForConditionalGeneration"](config).eval()
    native = to_native(ours).eval()
    ours, native = ours.to(torch.bfloat16), native.to(torch.bfloat16)
    our_layer, native_layer = ours.model.encoder.layers[1].mlp, native.encoder.block[1].layer[1].mlp
    hidden = torch.randn(3, 16, 64, generator=torch.Generator().manual_seed(0)).to(torch.bfloat16)
    with torch.no_grad():
        expected_choice, _, expected_logits = native_layer.router(hidden)
        expected_output = native_layer(hidden)
        output, logits = our_layer(hidden)
    assert logits.dtype == torch.float32
    assert torch.equal(logits, expected_logits)
    assert torch.equal(logits.argmax(-1), expected_choice.argmax(-1))
    assert torch.equal(output, expected_output)
