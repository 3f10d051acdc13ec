"""hf_variants: the transformer family from one composable core, as native Hugging Face transformers models.

`import hf_variants` registers every variant with the Auto classes (AutoConfig, AutoModel..., AutoTokenizer).
The tool modules (`convert`, `tokenization`, `objectives`, `data`, `training`, `bench`) are reachable as attributes
and imported on first use, so `import hf_variants` stays light.
"""

import importlib

from .accounting import install_flop_counter
from .hub.remote_code import install_save_hooks
from .integrations.peft import register_peft_defaults
from .integrations.serve import expose_model_classes
from .registry import register_all
from .variants import VARIANTS

register_all()
register_peft_defaults()
expose_model_classes()
install_save_hooks()
install_flop_counter()

__version__ = "0.1.0"
_SUBMODULES = ("convert", "tokenization", "objectives", "data", "training", "bench", "hub", "accounting", "core",
               "families", "variants")
__all__ = ["VARIANTS", "__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
