"""The PreTrainedModel base every family shares: weight init, backend flags, embedding accessors."""

from __future__ import annotations

import os

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init

from ..core.compat import CACHE_KWARGS
from ..core.config import HfvConfig
from ..core.init import init_module
from ..core.inputs import checked_forward
from ..core.linear_attention import FavorFeatures
from ..core.positions import AlibiBias, SinusoidalPositionEmbedding, alibi_slopes, sinusoidal_table
from ..core.relative_xl import RelativeXLAttention
from .weight_files import remove_stale_weights, weight_files


def _first_parameter(module: nn.Module) -> nn.Parameter | None:
    """The first of `module.parameters()`: the same pre-order walk, without generators."""
    for parameter in module._parameters.values():
        if parameter is not None:
            return parameter
    for child in module._modules.values():
        if child is not None and (parameter := _first_parameter(child)) is not None:
            return parameter
    return None


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
    # Token-level losses take transformers' loss keywords (families/losses.py): Trainer passes `num_items_in_batch`
    # and the loss is sum / num_items_in_batch. Heads whose loss is a per-sequence mean set this to False.
    accepts_loss_kwargs = True
    # Set on `import hf_variants` (hf_variants.hub): writes the flat remote code next to a saved checkpoint. The
    # exported copy of this file keeps None: transformers saves classes loaded as remote code by itself.
    remote_code_writer = None
    # Set on `import hf_variants` to hf_variants.accounting.training_flops (a tool module, kept out of remote code).
    flop_counter = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Every model, every head: an unknown keyword is a TypeError, never silently swallowed by **kwargs; input
        # shapes are checked against each other and the config (core/inputs.py), once, at the outermost call.
        cls.forward = checked_forward(cls.forward)

    @property
    def device(self) -> torch.device:
        """transformers' `device`: the first parameter's. `generate` reads it for every token, and transformers finds
        it through `self.parameters()`, a chain of generators one level deeper per module level: our token table
        sits a level deeper than native's (`model.embeddings.word_embeddings`). The same parameter, found by a
        direct walk."""
        parameter = _first_parameter(self)
        if parameter is None:
            raise StopIteration("the model holds no parameters")  # (what transformers' `next(...)` raises)
        return parameter.device

    def _initialize_weights(self, module, is_custom_code: bool = False):
        """transformers treats models outside its package as custom code and then skips every module without
        parameters of its own (an attention, a feed-forward), assuming its init writes tensors in place. Ours
        draws through `transformers.initialization` (which skips loaded weights), so parents get their turn."""
        super()._initialize_weights(module, is_custom_code=False)

    def save_pretrained(self, save_directory, *args, remote_code: bool = True, **kwargs):
        """`PreTrainedModel.save_pretrained`, then: the weight files of an earlier save into the same folder that this
        one did not rewrite are removed (a stale model.safetensors would otherwise be loaded instead of the new
        shards), and (unless `remote_code=False`) the flat remote code and `auto_map` that let the folder load with
        `trust_remote_code=True` where hf_variants is not installed are written."""
        before = weight_files(save_directory) if os.path.isdir(save_directory) else {}
        result = super().save_pretrained(save_directory, *args, **kwargs)
        remove_stale_weights(save_directory, before)
        writer = HfvPreTrainedModel.remote_code_writer
        if writer is not None and kwargs.get("is_main_process", True):
            writer(save_directory, self.config.model_type, remote_code)
        return result

    def _init_weights(self, module):
        """transformers' generic init, then the variant's native scheme (`config.initializer_scheme`,
        core/init.py), then the fixed tables (sinusoidal positions, ALiBi slopes)."""
        super()._init_weights(module)
        init_module(self.config, module)
        if isinstance(module, SinusoidalPositionEmbedding):
            init.copy_(module.table, sinusoidal_table(module.num_positions, module.dim))
        elif isinstance(module, AlibiBias):
            init.copy_(module.slopes, alibi_slopes(module.num_heads))
        elif isinstance(module, FavorFeatures):
            init.copy_(module.projection, module.draw(module.draws))
        elif isinstance(module, RelativeXLAttention):
            module.init_weights()

    def floating_point_ops(self, input_dict: dict, exclude_embeddings: bool = True) -> int:
        """Forward + backward FLOPs of this batch by element (hf_variants.accounting, installed as `flop_counter` on
        `import hf_variants`): attention scores at the batch's length, active experts only. Without it (remote code
        loaded without the package) transformers' 6 x parameters x tokens estimate."""
        counter = HfvPreTrainedModel.flop_counter
        if counter is None:
            return self.estimated_flops(input_dict, exclude_embeddings)
        return counter(self, input_dict)

    def estimated_flops(self, input_dict: dict, exclude_embeddings: bool = True) -> int:
        """The classic 6 x parameters x tokens estimate (what Trainer assumes for any model)."""
        reference = input_dict.get("input_ids", input_dict.get("inputs_embeds"))
        tokens = reference.shape[0] * reference.shape[1] if reference is not None else 0
        return 6 * tokens * self.num_parameters(exclude_embeddings=exclude_embeddings)
