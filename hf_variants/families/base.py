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
    # Set on `import hf_variants` (hf_variants.hub): writes the flat remote code next to a saved checkpoint. The
    # exported copy of this file keeps None: transformers saves classes loaded as remote code by itself.
    remote_code_writer = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Every model, every head: an unknown keyword is a TypeError, never silently swallowed by **kwargs.
        cls.forward = check_forward_kwargs(cls.forward)

    def save_pretrained(self, save_directory, *args, remote_code: bool = True, **kwargs):
        """`PreTrainedModel.save_pretrained`, plus (unless `remote_code=False`) the flat remote code and `auto_map`
        that let the folder load with `trust_remote_code=True` where hf_variants is not installed."""
        result = super().save_pretrained(save_directory, *args, **kwargs)
        writer = HfvPreTrainedModel.remote_code_writer
        if writer is not None and kwargs.get("is_main_process", True):
            writer(save_directory, self.config.model_type, remote_code)
        return result

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
