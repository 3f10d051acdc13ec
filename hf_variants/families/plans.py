"""Parallelism plans on our module paths, for transformers' `DistributedConfig` / `tp_plan="auto"` and FSDP2.

Tensor parallel (Megatron layout): q/k/v (and the gated MLP's gate/up) split by output columns, o_proj and down_proj
by input rows, so each block needs one all-reduce after attention and one after the MLP; heads are split across
ranks (num_attention_heads and num_key_value_heads must divide by the TP size). A fused q/k/v (`qkv_layout="fused"`,
GPT-2's default) is split by output rows with its output gathered and o_proj split by input (transformers' Phi-3
plan): the weights are sharded, the attention itself runs replicated. FSDP2: every transformer block is
its own `fully_shard` unit, the token table another (the other embedding parts join the root unit); the final norm
keeps its full weight.

Not declared, on purpose:
- expert parallel (`base_model_ep_plan`) and TP of the experts: transformers' `ep_dispatch_experts` /
  `moe_tp_experts` styles wrap an experts forward of the form (hidden_states, top_k_index, top_k_weights); ours
  takes (hidden_states, token_index, expert_index, weights), so the experts stay replicated under TP;
- pipeline parallel (`base_model_pp_plan`): transformers splits `base_model.layers` / `embed_tokens` / `norm` by
  those names, and our stacks nest them (`decoder.layers`, `decoder.final_norm`).
Tensor-parallel plans depend on the config (gated MLP or not, experts), so the family configs compute them.
"""

from __future__ import annotations


def _attention_plan(layers: str, config, cross_attention: bool) -> dict[str, str]:
    plan = {}
    for attention in ("self_attn", "cross_attn") if cross_attention else ("self_attn",):
        if attention == "self_attn" and config.qkv_layout == "fused":
            # Rows [q; k; v] split by rank would give each rank a block of one of them, not whole heads: as
            # transformers' Phi-3 plan, the fused output is gathered (attention replicated) and o_proj splits its
            # input instead.
            plan[f"{layers}.*.{attention}.qkv_proj"] = "colwise_gather_output"
            plan[f"{layers}.*.{attention}.o_proj"] = "rowwise_split_input"
            continue
        plan |= {f"{layers}.*.{attention}.{name}": "colwise" for name in ("q_proj", "k_proj", "v_proj")}
        plan[f"{layers}.*.{attention}.o_proj"] = "rowwise"
    return plan


def _mlp_plan(layers: str, config, num_layers: int) -> dict[str, str]:
    """Dense MLP splits, only for projections the config's layers have (transformers' plan check requires every
    rule to name a real module): none when every layer is a mixture of experts, gate_proj only for a gated MLP."""
    if all(config.is_moe_layer(i) for i in range(num_layers)):
        return {}
    plan = {f"{layers}.*.mlp.up_proj": "colwise", f"{layers}.*.mlp.down_proj": "rowwise"}
    if config.ffn_type == "glu":
        plan[f"{layers}.*.mlp.gate_proj"] = "colwise"
    return plan


def encoder_tp_plan(config) -> dict[str, str]:
    return {**_attention_plan("encoder.layers", config, False),
            **_mlp_plan("encoder.layers", config, config.num_hidden_layers)}


def decoder_tp_plan(config) -> dict[str, str]:
    """The token table is split by vocabulary rows, as transformers does for native `embed_tokens`: the LM head
    (tied to it) is split by the same rows."""
    return {"embeddings.word_embeddings": "embedding_rowwise", **_attention_plan("decoder.layers", config, False),
            **_mlp_plan("decoder.layers", config, config.num_hidden_layers)}


def encoder_decoder_tp_plan(config) -> dict[str, str]:
    return {"shared": "embedding_rowwise", **encoder_tp_plan(config),
            **_attention_plan("decoder.layers", config, True),
            **_mlp_plan("decoder.layers", config, config.num_decoder_layers)}


def layer_fsdp_plan(layers: str) -> dict[str, str]:
    """Each block its own FSDP2 unit."""
    return {f"{layers}.*": "free_full_weight"}


# The token table is its own unit (the other embedding parts join the root unit): transformers' FSDP setup finds a
# table tied to the LM head by that module's name (`get_input_embeddings`) and wraps it once; a unit around the
# whole `embeddings` module would wrap the tied weight a second time and fail ("overlapping meshes").
DECODER_FSDP_PLAN = {"embeddings.word_embeddings": "free_full_weight", **layer_fsdp_plan("decoder.layers"),
                     "decoder.final_norm": "keep_full_weight"}
ENCODER_FSDP_PLAN = {"embeddings.word_embeddings": "free_full_weight", **layer_fsdp_plan("encoder.layers")}
ENCODER_DECODER_FSDP_PLAN = {"shared": "free_full_weight", **layer_fsdp_plan("encoder.layers"),
                             **layer_fsdp_plan("decoder.layers"), "encoder.final_norm": "keep_full_weight",
                             "decoder.final_norm": "keep_full_weight"}

# Language-model heads (on the head model, next to `model`): logits gathered to full vocabulary on every rank.
LM_HEAD_TP_PLAN = {"lm_head": "colwise_gather_output"}
LM_HEAD_FSDP_PLAN = {"lm_head": "keep_full_weight"}
