"""The one configuration every variant shares.

Each architecture element is a field; a named variant is a subclass that only changes defaults
(see `hf_variants/variants/`). Every combination is validated in one place (config_checks.py) when the config is
built, so an impossible model is refused then, never deep inside a forward pass.
"""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedConfig

from .config_checks import (  # noqa: F401 (the element names are part of this module's public surface)
    ABSOLUTE_POSITION_TYPES,
    BIAS_POSITION_TYPES,
    CLASSIFIER_POOLINGS,
    FFN_TYPES,
    INITIALIZER_SCHEMES,
    MOE_IMPLEMENTATIONS,
    NORM_POSITIONS,
    NORM_TYPES,
    POSITION_EMBEDDING_TYPES,
    ROUTER_TYPES,
    check_types,
)
from .config_checks import (
    validate_elements as check_elements,
)

# Fields resolved from others when left None; which were resolved is remembered, so an override at load
# (`from_pretrained(dir, hidden_size=...)`) derives them again, and `to_dict` writes them as null.
DERIVED_FIELDS: dict[str, Any] = {
    "num_key_value_heads": lambda c: c.num_attention_heads,
    "embedding_size": lambda c: c.hidden_size,
    "num_hidden_groups": lambda c: c.num_hidden_layers,
    "head_dim": lambda c: c.hidden_size // c.num_attention_heads if c.hidden_size % c.num_attention_heads == 0 else None,
    "num_decoder_layers": lambda c: c.num_hidden_layers,  # encoder-decoder configs only
}


def _refuse_layout_overrides(saved: dict[str, Any], overrides: dict[str, Any]) -> None:
    """A weight layout of a saved config describes how its checkpoint stores the weights: overriding it at load
    (`from_pretrained(dir, qkv_layout="fused")`) would leave those weights unused and draw new ones (transformers
    only warns about missing keys), so it is refused."""
    for name in ("qkv_layout", "expert_layout"):
        if name == "expert_layout" and not saved.get("num_experts"):
            continue  # no experts saved: nothing is stored in that layout
        if name in overrides and overrides[name] != saved[name]:
            raise ValueError(
                f"{name}={overrides[name]!r} cannot override the saved {name}={saved[name]!r}: the checkpoint's "
                f"weights are stored that way and would not load. Load it as saved (hf_variants.convert's "
                f"to_native, then from_native, re-stores a model in its variant's default layout); for a fresh "
                f"model in another layout set config.{name} after loading the config"
            )


class HfvConfig(PreTrainedConfig):
    """Composable transformer configuration (fields are shared by every family and variant).

    Field names follow transformers where it has one. The composable elements (SPEC §4):

    - position_embedding_type: "learned" | "sinusoidal" | "rope" | "alibi" | "relative_bias" | "relative_xl" | "none"
    - norm_type: "layernorm" | "rmsnorm";  norm_position: "pre" | "post"
    - ffn_type: "mlp" (activation `hidden_act`) | "glu" (SwiGLU with "silu", GeGLU with "gelu")
    - num_experts: 0 (dense) or >= 2, with num_experts_per_tok, router_aux_loss_coef, router_z_loss_coef,
      expert_capacity_factor (top-1 token dropping; None = no limit) and moe_layer_frequency.
    """

    model_type = "hfv"

    # --- sizes ---------------------------------------------------------------------------------
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    # Key/value heads: == num_attention_heads is MHA, 1 is MQA, anything dividing it is GQA. None = MHA.
    num_key_value_heads: int | None = None
    # Per-head size; None = hidden_size // num_attention_heads (always an integer once the config is built).
    head_dim: int | None = None
    intermediate_size: int = 3072
    # Factorized embeddings (ALBERT, ELECTRA): token embeddings of this size, projected to hidden_size. None = hidden_size.
    embedding_size: int | None = None
    # Token-type (segment) vocabulary; 0 = no token-type embeddings (DistilBERT, LLaMA).
    type_vocab_size: int = 2
    max_position_embeddings: int = 512

    # --- elements ------------------------------------------------------------------------------
    hidden_act: str = "gelu"
    position_embedding_type: str = "learned"
    # Added to every absolute position id (BART's learned positions start at 2).
    position_offset: int = 0
    # RoBERTa: position ids count only non-padding tokens and start at pad_token_id + 1.
    pad_aware_positions: bool = False
    # RoPE only: `rope_parameters` ({"rope_type": ..., "rope_theta": ...}, any transformers rope type) is an attribute
    # of rotary configs alone (transformers probes it with hasattr); `default_theta` is the default rope_theta.
    relative_attention_num_buckets: int = 32
    relative_attention_max_distance: int = 128
    norm_type: str = "layernorm"
    norm_position: str = "post"
    layer_norm_eps: float = 1e-12
    # LayerNorm after the embeddings; None = on for post-norm, off for pre-norm.
    embedding_norm: bool | None = None
    # Norm after the last layer; None = on for pre-norm, off for post-norm.
    final_norm: bool | None = None
    ffn_type: str = "mlp"
    attention_bias: bool = True
    # Self-attention projections: "separate" q_proj, k_proj, v_proj; "fused" one qkv_proj whose output rows are
    # [queries; keys; values] (native GPT-2's c_attn, nn.MultiheadAttention's in_proj): one matmul and one optimizer
    # tensor instead of three. Cross-attention keeps q_proj and k_proj/v_proj (they read different states). Always
    # written to config.json: a saved config without it predates the field and holds separate weights (`from_dict`).
    qkv_layout: str = "separate"
    mlp_bias: bool = True
    # Attention logit scale; None = head_dim ** -0.5 (T5 uses 1.0).
    attention_scale: float | None = None
    # Multiply token embeddings by sqrt(hidden_size) (original Transformer, optional in BART).
    scale_embedding: bool = False
    # Causal attention only: each token sees at most this many previous tokens (Mistral).
    sliding_window: int | None = None
    # --- sparse attention (issue 15): patterns and validation in core/sparse.py ----------------------------------
    # Local band: bidirectional stacks see keys with |i - j| < attention_window, causal ones i - attention_window <
    # j <= i (the band of Mistral's sliding_window, which stays its own field: the two are exclusive). None = none.
    attention_window: int | None = None
    # Positions that attend to every key and that every query attends to (Longformer's [CLS] rule: [0]).
    global_attention_positions: list[int] | None = None
    # BigBird: each block of attention_block_size queries also sees this many random key blocks (causal: among
    # earlier blocks), drawn from random_attention_seed and the layer index: fixed per layer, reproduced on load.
    random_attention_blocks: int = 0
    attention_block_size: int = 64
    random_attention_seed: int = 0
    # Per-layer "full" (dense) or "local" (the pattern above), repeated over the layers (GPT-3: ["full", "local"]);
    # None = every layer "local" when a pattern is set.
    layer_attention_pattern: list[str] | None = None
    # ALBERT cross-layer sharing: layers are split into this many groups sharing weights. None = no sharing.
    num_hidden_groups: int | None = None

    # --- attention kinds (issue 15) ------------------------------------------------------------
    # How a query scores a key (core/attention_scores.py): "scaled_dot" (q.k * head_dim**-0.5), "dot" (Luong, q.k),
    # "general" (Luong, q.W_a k, W_a per head), "additive" (Bahdanau, v_a.tanh(W_a q + U_a k) per head; eager kernel).
    # A set attention_scale multiplies any kind; None = head_dim**-0.5 for "scaled_dot", 1.0 for the others.
    attention_score: str = "scaled_dot"
    # "softmax" (full attention) | "linformer" (keys/values projected along the sequence to linformer_k rows;
    # encoders only, core/linformer.py) | "linear" (kernelised φ(q) Σ φ(k) vᵀ / φ(q) Σ φ(k), O(length) time and
    # memory, causal generation with an O(1)-per-token recurrent state; core/linear_attention.py).
    attention_type: str = "softmax"
    linformer_k: int | None = None
    # linear attention: refused with ALiBi/T5 biases, sliding_window and output_attentions; cross-attention stays
    # softmax.
    # "elu" (elu + 1, Katharopoulos et al. 2020) or "favor" (Performer FAVOR+ positive orthogonal random features).
    linear_feature_map: str = "elu"
    # "favor": number of random features m; None = round(head_dim * ln(head_dim)) (Performer's default).
    linear_num_features: int | None = None
    # "favor": redraw the features every this many training forward passes (0 = never); eval never redraws.
    linear_redraw_interval: int = 1000
    # "favor": seed of the feature draws (fixed features across builds); None = torch's global RNG.
    linear_feature_seed: int | None = None
    # Transformer-XL (issue 15): position_embedding_type="relative_xl" scores with sinusoidal relative positions and
    # learned u/v biases (core/relative_xl.py); memory_length > 0 keeps each layer's last memory_length attention
    # inputs of earlier segments (no gradient) as `memory`. Decoder families only (`supports_relative_xl`).
    memory_length: int = 0
    supports_relative_xl = False
    # The flag transformers' output capturing reads per forward for the router logits every base model can record
    # (set it, or pass it, to record them from a dense model's blocks too); declared (not a saved field) so that
    # reading it does not raise and catch an AttributeError on every forward. MoE models record them always
    # (core/recording.py).
    output_router_logits = False

    # --- heads ---------------------------------------------------------------------------------
    # Activation of the MLM head transform; None = hidden_act (RoBERTa and ELECTRA's generator use "gelu").
    mlm_head_act: str | None = None
    # Sequence classification: "pooler" = tanh pooler in the base model (BERT, ALBERT);
    # "head" = a dense + classifier_activation + projection on the first token (RoBERTa, ELECTRA, DistilBERT).
    classifier_pooling: str = "pooler"
    classifier_activation: str = "tanh"
    classifier_dropout: float | None = None

    # --- mixture of experts --------------------------------------------------------------------
    num_experts: int = 0
    num_experts_per_tok: int = 2
    router_aux_loss_coef: float = 0.0
    router_z_loss_coef: float = 0.0
    expert_capacity_factor: float | None = None
    # Absolute per-sequence expert capacity (native switch_transformers' `expert_capacity`); exclusive with the factor.
    expert_capacity: int | None = None
    # "topk": softmax, top-k, renormalised weights (Mixtral); "switch": top-1 weighted by its raw probability, per-
    # sequence capacity and the per-sequence balancing loss (Switch Transformer).
    router_type: str = "topk"
    moe_layer_frequency: int = 1
    router_jitter_noise: float = 0.0
    # "grouped": stacked expert weights run by a grouped matmul; "eager": the per-expert reference loop.
    moe_implementation: str = "grouped"
    # "stacked": [experts, out, in] parameters (transformers' Mixtral; idle experts get zero gradients); "separate":
    # one feed-forward module per expert (native Switch; idle experts get no gradient, so AdamW skips them). Always
    # written to config.json: a saved config without it predates the field and holds stacked weights (`from_dict`).
    expert_layout: str = "stacked"

    # --- training and tokens -------------------------------------------------------------------
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    # Dropout between the feed-forward's activation and its output projection (T5's dropout_rate, BART's
    # activation_dropout); 0 in BERT/GPT-2/LLaMA, which have none there.
    activation_dropout: float = 0.0
    initializer_range: float = 0.02
    pad_token_id: int | None = 0
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    tie_word_embeddings: bool = True
    use_cache: bool = True
    # Training with labels: the LM heads (causal, masked, seq2seq) compute the vocabulary projection and the
    # cross-entropy over chunks of this many tokens (core/chunked_loss.py) instead of materialising the full
    # [tokens, vocab] logits; they then return `logits=None`. None = the plain loss (logits returned).
    loss_chunk_size: int | None = None

    # --- initialisation, padding row and head dropout (each variant declares its native values) ----------------
    # How fresh weights are drawn (core/init.py): "normal" N(0, initializer_range) (BERT, BART, LLaMA);
    # "scaled_residual" the same with residual output projections / sqrt(2 * layers) (GPT-2); "fan_in"
    # Mesh-TensorFlow's fan-in scaled normals times initializer_factor (T5, Switch); "xavier" torch.nn.Transformer's.
    initializer_scheme: str = "normal"
    initializer_factor: float = 1.0
    # The pad token's embedding row starts at 0 and gets no gradient (nn.Embedding padding_idx); False for T5/GPT-2.
    embedding_padding_idx: bool = True
    # GPT-2: token_type_ids are looked up in the word-embedding table and added (needs type_vocab_size=0).
    token_types_in_word_embeddings: bool = False
    # "head" classifiers: dropout on the first-token vector before their dense layer (False: DistilBERT).
    classifier_input_dropout: bool = True
    # Dropout before the per-token classifier; None = classifier_dropout, else hidden_dropout_prob.
    token_classifier_dropout: float | None = None
    # Dropout before the extractive-QA span layer (DistilBERT's qa_dropout; 0 elsewhere).
    qa_dropout: float = 0.0
    # Dropout (hidden_dropout_prob) on the self-attention / feed-forward output before the residual add;
    # DistilBERT has none after attention, ALBERT none after the feed-forward.
    attention_output_dropout: bool = True
    ffn_output_dropout: bool = True

    def __post_init__(self, **kwargs):
        self._check_types()
        derived = set()
        for name, derive in DERIVED_FIELDS.items():
            if name in self.__dataclass_fields__ and getattr(self, name) is None:
                value = derive(self)
                if value is None:
                    raise ValueError(f"hidden_size={self.hidden_size} must be divisible by num_attention_heads="
                                     f"{self.num_attention_heads} (or set head_dim explicitly)")
                setattr(self, name, value)
                derived.add(name)
        self._derived = derived
        self._take_rope_parameters(kwargs)
        super().__post_init__(**kwargs)
        self._derivation_ready = True
        self.validate_elements()

    def _take_rope_parameters(self, kwargs: dict) -> None:
        """`rope_parameters` becomes an attribute of rotary configs only; elsewhere the legacy default block that older
        configs carry is dropped and anything else is refused."""
        rope = kwargs.pop("rope_parameters", None)
        rope_scaling = kwargs.pop("rope_scaling", None)
        for name, value in (("rope_parameters", rope), ("rope_scaling", rope_scaling)):
            if value is not None and not isinstance(value, dict):
                raise TypeError(f"{name}={value!r} must be a dict with 'rope_type' and 'rope_theta', or None")
        if self.position_embedding_type == "rope":
            self.rope_parameters = dict(rope or rope_scaling or {})
            return
        for name, value in (("rope_parameters", rope), ("rope_scaling", rope_scaling), ("rope_theta",
                                                                                          kwargs.get("rope_theta"))):
            legacy_default = isinstance(value, dict) and value.get("rope_type", "default") == "default"
            if value is not None and not legacy_default and name != "rope_theta":
                raise ValueError(f"{name}={value!r} only applies to position_embedding_type='rope', not "
                                 f"{self.position_embedding_type!r}")
        kwargs.pop("rope_theta", None)

    def __setattr__(self, key: str, value: Any) -> None:
        """After construction: setting a derived field to None derives it again, setting it to a value makes it
        explicit, and changing what it derives from (hidden_size, num_attention_heads, ...) re-derives it."""
        state = self.__dict__
        if not state.get("_derivation_ready"):
            super().__setattr__(key, value)
            return
        derived = state["_derived"]
        if key in DERIVED_FIELDS and key in self.__dataclass_fields__:
            if value is None:
                derived.add(key)
                value = DERIVED_FIELDS[key](self)
            else:
                derived.discard(key)
        super().__setattr__(key, value)
        if key in ("hidden_size", "num_attention_heads", "num_hidden_layers"):
            for name in sorted(derived):
                new = DERIVED_FIELDS[name](self)
                if new is not None:
                    super().__setattr__(name, new)

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs):
        """As transformers', except that overrides (`from_pretrained(dir, hidden_size=...)`) go through construction:
        validated, and the values derived from them (null in the saved config) derived again."""
        config_dict = dict(config_dict)
        if "transformers_version" in config_dict:  # a saved config: fields it predates get what its weights hold
            config_dict.setdefault("expert_layout", "stacked")
            config_dict.setdefault("qkv_layout", "separate")
            _refuse_layout_overrides(config_dict, kwargs)
        ours = set(cls.__dataclass_fields__) - set(PreTrainedConfig.__dataclass_fields__)
        for key in [k for k in kwargs if k in ours or k in ("rope_parameters", "rope_scaling")]:
            config_dict[key] = kwargs.pop(key)
        return super().from_dict(config_dict, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """transformers' dict, with derived fields that still hold their derived value written as None (so a
        reload with other sizes derives them again)."""
        output = super().to_dict()
        derived = output.pop("_derived", set())
        output.pop("_derivation_ready", None)
        for name in derived:
            if getattr(self, name) == DERIVED_FIELDS[name](self):
                output[name] = None
        return output

    def to_diff_dict(self) -> dict[str, Any]:
        """transformers' diff against the class defaults, always with the weight layouts (`qkv_layout`, and
        `expert_layout` for expert models): `from_dict` reads a saved config without them as the layouts every
        checkpoint written before those fields held."""
        output = super().to_diff_dict()
        output["qkv_layout"] = self.qkv_layout
        if self.num_experts:
            output["expert_layout"] = self.expert_layout
        return output

    def validate(self) -> None:
        """Run at save time by transformers: our element checks first (attributes may have been set after
        construction), then transformers' own."""
        self.validate_elements()
        super().validate()

    # ---------------------------------------------------------------------------------------------
    @property
    def resolved_head_dim(self) -> int:
        return self.head_dim if self.head_dim is not None else self.hidden_size // self.num_attention_heads

    @property
    def use_embedding_norm(self) -> bool:
        return self.norm_position == "post" if self.embedding_norm is None else bool(self.embedding_norm)

    @property
    def use_final_norm(self) -> bool:
        return self.norm_position == "pre" if self.final_norm is None else bool(self.final_norm)

    def is_moe_layer(self, layer_idx: int) -> bool:
        """Whether layer `layer_idx` uses experts: every `moe_layer_frequency`-th layer, counting from the last of
        each period (Switch: layers 1, 3, 5, ... with frequency 2; every layer with frequency 1)."""
        return self.num_experts > 0 and (layer_idx + 1) % self.moe_layer_frequency == 0

    def _check_types(self) -> None:
        """Type, range and finiteness of every scalar field (config_checks.py)."""
        check_types(self)

    def validate_elements(self) -> None:
        """Reject impossible element combinations with a message naming the field, value and allowed values
        (config_checks.py); family configs add their own checks after calling this."""
        check_elements(self)
