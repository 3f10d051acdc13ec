"""hfv_transformer against torch.nn.Transformer (post-norm, ReLU): the same weights give the same encoder and
decoder outputs on a padded batch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hf_variants.variants.transformer import HfvTransformerModel
from tests.variant_configs import tiny_config

pytestmark = pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")


def copy_attention(ours, ref: nn.MultiheadAttention) -> None:
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.load_state_dict(ours.o_proj.state_dict())


def copy_layer(ours, ref, is_decoder: bool) -> None:
    copy_attention(ours.self_attn, ref.self_attn)
    ref.linear1.load_state_dict(ours.mlp.up_proj.state_dict())
    ref.linear2.load_state_dict(ours.mlp.down_proj.state_dict())
    ref.norm1.load_state_dict(ours.self_attn_norm.state_dict())
    if is_decoder:
        copy_attention(ours.cross_attn, ref.multihead_attn)
        ref.norm2.load_state_dict(ours.cross_attn_norm.state_dict())
        ref.norm3.load_state_dict(ours.mlp_norm.state_dict())
    else:
        ref.norm2.load_state_dict(ours.mlp_norm.state_dict())


def reference_for(model: HfvTransformerModel) -> nn.Transformer:
    config = model.config
    ref = nn.Transformer(
        d_model=config.hidden_size, nhead=config.num_attention_heads, num_encoder_layers=config.num_hidden_layers,
        num_decoder_layers=config.num_decoder_layers, dim_feedforward=config.intermediate_size, dropout=0.0,
        activation="relu", layer_norm_eps=config.layer_norm_eps, batch_first=True, norm_first=False,
    )
    for ours, theirs in zip(model.encoder.layers, ref.encoder.layers):
        copy_layer(ours, theirs, is_decoder=False)
    for ours, theirs in zip(model.decoder.layers, ref.decoder.layers):
        copy_layer(ours, theirs, is_decoder=True)
    if config.use_final_norm:
        ref.encoder.norm.load_state_dict(model.encoder.final_norm.state_dict())
        ref.decoder.norm.load_state_dict(model.decoder.final_norm.state_dict())
    else:  # the paper's post-norm stacks end with the last sublayer's norm; nn.Transformer adds one more
        ref.encoder.norm, ref.decoder.norm = None, None
    return ref.eval()


@pytest.mark.parametrize("final_norm", [None, True])
def test_matches_torch_transformer(final_norm):
    torch.manual_seed(0)
    model = HfvTransformerModel(tiny_config("transformer", num_decoder_layers=3, final_norm=final_norm)).eval()
    ref = reference_for(model)
    ids = torch.randint(3, 99, (3, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    decoder_ids = torch.randint(3, 99, (3, 7))
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids)
        # Same inputs for the reference: scaled shared embeddings + sinusoidal positions.
        src = model.encoder.embeddings(ids, model.shared(ids))
        tgt = model.decoder.embeddings(decoder_ids, model.shared(decoder_ids))
        causal = nn.Transformer.generate_square_subsequent_mask(decoder_ids.shape[1])
        memory = ref.encoder(src, src_key_padding_mask=mask == 0)
        decoded = ref.decoder(tgt, memory, tgt_mask=causal, memory_key_padding_mask=mask == 0)
    real = mask.bool()
    assert (out.encoder_last_hidden_state[real] - memory[real]).abs().max().item() <= 1e-5
    assert (out.last_hidden_state - decoded).abs().max().item() <= 1e-5


def test_paper_defaults():
    from hf_variants.variants.transformer import HfvTransformerConfig, HfvTransformerForConditionalGeneration

    config = HfvTransformerConfig()
    assert (config.hidden_size, config.num_hidden_layers, config.num_decoder_layers, config.num_attention_heads,
            config.intermediate_size) == (512, 6, 6, 8, 2048)
    assert config.position_embedding_type == "sinusoidal" and config.scale_embedding
    assert config.norm_position == "post" and config.hidden_act == "relu" and config.hidden_dropout_prob == 0.1
    model = HfvTransformerForConditionalGeneration(tiny_config("transformer"))
    # One matrix: source embeddings, target embeddings and the output projection.
    assert model.lm_head.weight is model.model.shared.weight
    assert model.model.encoder.embed_tokens is model.model.decoder.embed_tokens is model.model.shared
