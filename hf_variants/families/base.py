"""The PreTrainedModel base every family shares: weight init, backend flags, embedding accessors."""

from __future__ import annotations

from transformers import PreTrainedModel
from transformers import initialization as init

from ..core.compat import CACHE_KWARGS, check_forward_kwargs
from ..core.config import HfvConfig
from ..core.moe import Experts
from ..core.positions import AlibiBias, SinusoidalPositionEmbedding, alibi_slopes, sinusoidal_table


class HfvPreTrainedModel(PreTrainedModel):
    config_class = HfvConfig
    config: HfvConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["TransformerBlock"]
    _skip_keys_device_placement = list(CACHE_KWARGS)
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    # Losses are plain means computed here; Trainer must not rescale them by num_items_in_batch.
    accepts_loss_kwargs = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Every model, every head: an unknown keyword is a TypeError, never silently swallowed by **kwargs.
        cls.forward = check_forward_kwargs(cls.forward)

    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, SinusoidalPositionEmbedding):
            init.copy_(module.table, sinusoidal_table(module.num_positions, module.dim))
        elif isinstance(module, AlibiBias):
            init.copy_(module.slopes, alibi_slopes(module.num_heads))
        elif isinstance(module, Experts):  # stacked 3-D expert weights: like nn.Linear, one slice per expert
            for name, param in module.named_parameters(recurse=False):
                if name.endswith("_bias"):
                    init.zeros_(param)
                else:
                    init.normal_(param, mean=0.0, std=self.config.initializer_range)

    def floating_point_ops(self, input_dict: dict, exclude_embeddings: bool = True) -> int:
        """Forward + backward FLOPs of this batch by element (hf_variants.accounting): attention scores at the
        batch's length, active experts only. Replaces transformers' 6 x parameters x tokens estimate."""
        from ..accounting import training_flops  # the accounting walks the families' modules

        return training_flops(self, input_dict)
