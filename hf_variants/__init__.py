"""hf_variants: the transformer family from one composable core, as native Hugging Face transformers models.

`import hf_variants` registers every variant with the Auto classes (AutoConfig, AutoModel..., AutoTokenizer).
"""

from .registry import register_all
from .variants import VARIANTS

register_all()

__version__ = "0.1.0"
__all__ = ["VARIANTS", "__version__"]
