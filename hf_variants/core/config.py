"""The one configuration every variant shares.

Each architecture element is a field; a named variant is a subclass that only changes defaults
(see `hf_variants/variants/`). Every combination is validated here, in one place, so an impossible
model is refused when the config is built, never deep inside a forward pass.
"""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedConfig
from transformers.activations import ACT2FN

POSITION_EMBEDDING_TYPES = ("learned", "sinusoidal", "rope", "alibi", "relative_bias", "none")
ABSOLUTE_POSITION_TYPES = ("learned", "sinusoidal")
BIAS_POSITION_TYPES = ("alibi", "relative_bias")
NORM_TYPES = ("layernorm", "rmsnorm")
NORM_POSITIONS = ("pre", "post")
FFN_TYPES = ("mlp", "glu")
CLASSIFIER_POOLINGS = ("pooler", "head")
MOE_IMPLEMENTATIONS = ("grouped", "eager")
ROUTER_TYPES = ("topk", "switch")
INITIALIZER_SCHEMES = ("normal", "scaled_residual", "fan_in", "xavier")
# Mixture-of-experts layers exist (core/moe.py).
MOE_AVAILABLE = True


def _allowed(field: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{field}={value!r} is not supported; allowed values: {', '.join(map(repr, allowed))}")


def _positive(field: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{field}={value!r} must be a positive integer")


class HfvConfig(PreTrainedConfig):
    """Composable transformer configuration (fields are shared by every family and variant).

    Field names follow transformers where it has one. The composable elements (SPEC §4):

    - position_embedding_type: "learned" | "sinusoidal" | "rope" | "alibi" | "relative_bias" | "none"
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
    # Per-head size; None = hidden_size // num_attention_heads.
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
    rope_parameters: dict | None = None
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
    mlp_bias: bool = True
    # Attention logit scale; None = head_dim ** -0.5 (T5 uses 1.0).
    attention_scale: float | None = None
    # Multiply token embeddings by sqrt(hidden_size) (original Transformer, optional in BART).
    scale_embedding: bool = False
    # Causal attention only: each token sees at most this many previous tokens (Mistral).
    sliding_window: int | None = None
    # ALBERT cross-layer sharing: layers are split into this many groups sharing weights. None = no sharing.
    num_hidden_groups: int | None = None

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
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.embedding_size is None:
            self.embedding_size = self.hidden_size
        if self.num_hidden_groups is None:
            self.num_hidden_groups = self.num_hidden_layers
        if self.position_embedding_type == "rope" and self.rope_parameters is None:
            self.rope_parameters = {"rope_type": "default", "rope_theta": 10000.0}
        super().__post_init__(**kwargs)
        self.validate_elements()

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

    def validate_elements(self) -> None:
        """Reject impossible element combinations with a message naming the field, value and allowed values."""
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "max_position_embeddings", "num_key_value_heads", "embedding_size", "num_hidden_groups"):
            _positive(name, getattr(self, name))
        _positive("head_dim", self.head_dim, allow_none=True)
        _allowed("position_embedding_type", self.position_embedding_type, POSITION_EMBEDDING_TYPES)
        _allowed("norm_type", self.norm_type, NORM_TYPES)
        _allowed("norm_position", self.norm_position, NORM_POSITIONS)
        _allowed("ffn_type", self.ffn_type, FFN_TYPES)
        _allowed("classifier_pooling", self.classifier_pooling, CLASSIFIER_POOLINGS)
        _allowed("moe_implementation", self.moe_implementation, MOE_IMPLEMENTATIONS)
        for name in ("hidden_act", "classifier_activation", "mlm_head_act"):
            value = getattr(self, name)
            if value is not None and value not in ACT2FN:
                raise ValueError(f"{name}={value!r} is not a transformers activation; allowed: {sorted(ACT2FN)}")
        if self.head_dim is None and self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size} must be divisible by num_attention_heads={self.num_attention_heads} "
                "(or set head_dim explicitly)"
            )
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads={self.num_attention_heads} must be divisible by "
                f"num_key_value_heads={self.num_key_value_heads} (1 = MQA, a divisor = GQA, equal = MHA)"
            )
        if self.type_vocab_size < 0:
            raise ValueError(f"type_vocab_size={self.type_vocab_size} must be >= 0 (0 = no token types)")
        if self.num_hidden_layers % self.num_hidden_groups:
            raise ValueError(
                f"num_hidden_groups={self.num_hidden_groups} must divide num_hidden_layers={self.num_hidden_layers}"
            )
        self._validate_positions()
        self._validate_experts()
        if self.sliding_window is not None:
            _positive("sliding_window", self.sliding_window)
        _allowed("initializer_scheme", self.initializer_scheme, INITIALIZER_SCHEMES)
        if self.token_types_in_word_embeddings and self.type_vocab_size:
            raise ValueError(f"token_types_in_word_embeddings=True reads token types from the word table: "
                             f"type_vocab_size={self.type_vocab_size} must be 0")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "activation_dropout", "classifier_dropout",
                     "router_jitter_noise", "token_classifier_dropout", "qa_dropout"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise ValueError(f"{name}={value!r} must be in [0, 1)")

    def _validate_positions(self) -> None:
        kind = self.position_embedding_type
        if kind == "rope":
            if self.resolved_head_dim % 2:
                raise ValueError(
                    f"position_embedding_type='rope' needs an even head dimension, got {self.resolved_head_dim}"
                )
            if not isinstance(self.rope_parameters, dict) or "rope_type" not in self.rope_parameters:
                raise ValueError(
                    f"rope_parameters={self.rope_parameters!r} must be a dict with 'rope_type' and 'rope_theta'"
                )
        if kind not in ABSOLUTE_POSITION_TYPES and (self.position_offset or self.pad_aware_positions):
            raise ValueError(
                f"position_offset/pad_aware_positions only apply to absolute positions "
                f"{ABSOLUTE_POSITION_TYPES}, not position_embedding_type={kind!r}"
            )
        if self.pad_aware_positions and self.pad_token_id is None:
            raise ValueError("pad_aware_positions=True needs pad_token_id to be set")
        if kind in ABSOLUTE_POSITION_TYPES:
            start = self.position_offset + (self.pad_token_id + 1 if self.pad_aware_positions else 0)
            if start >= self.max_position_embeddings:
                raise ValueError(
                    f"max_position_embeddings={self.max_position_embeddings} leaves no room after the first position "
                    f"id {start}"
                )
        if kind == "relative_bias":
            _positive("relative_attention_num_buckets", self.relative_attention_num_buckets)
            _positive("relative_attention_max_distance", self.relative_attention_max_distance)

    def _validate_experts(self) -> None:
        if self.num_experts == 0:
            return
        if self.num_experts < 2:
            raise ValueError(f"num_experts={self.num_experts} must be 0 (dense) or >= 2")
        if not MOE_AVAILABLE:
            raise ValueError(f"num_experts={self.num_experts}: mixture-of-experts layers are not available yet; use 0")
        if not 1 <= self.num_experts_per_tok <= self.num_experts:
            raise ValueError(
                f"num_experts_per_tok={self.num_experts_per_tok} must be between 1 and num_experts={self.num_experts}"
            )
        _positive("moe_layer_frequency", self.moe_layer_frequency)
        if self.moe_layer_frequency > self.num_hidden_layers:
            raise ValueError(
                f"moe_layer_frequency={self.moe_layer_frequency} exceeds num_hidden_layers={self.num_hidden_layers}: "
                "no layer would use experts"
            )
        _allowed("router_type", self.router_type, ROUTER_TYPES)
        if self.router_type == "switch" and self.num_experts_per_tok != 1:
            raise ValueError(
                f"router_type='switch' routes top-1: num_experts_per_tok={self.num_experts_per_tok} must be 1"
            )
        if self.expert_capacity is not None:
            _positive("expert_capacity", self.expert_capacity)
            if self.expert_capacity_factor is not None:
                raise ValueError(
                    f"expert_capacity={self.expert_capacity} and expert_capacity_factor={self.expert_capacity_factor} "
                    "are exclusive: set one of them (or neither, for no capacity limit)"
                )
        if self.expert_capacity_factor is not None or self.expert_capacity is not None:
            if self.num_experts_per_tok != 1:
                raise ValueError(
                    f"expert_capacity_factor={self.expert_capacity_factor} (token dropping) needs top-1 routing, "
                    f"got num_experts_per_tok={self.num_experts_per_tok}"
                )
            if self.expert_capacity_factor is not None and self.expert_capacity_factor <= 0:
                raise ValueError(f"expert_capacity_factor={self.expert_capacity_factor} must be > 0 or None")
        for name in ("router_aux_loss_coef", "router_z_loss_coef"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 0")
