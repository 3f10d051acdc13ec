"""Every named variant: importing this package imports every module in it, and each variant module declares its
variant with one `declare_variant` call. Adding a variant is adding a module here; nothing lists them."""

import importlib
import pkgutil

from .spec import VARIANTS, ConfigField, NativeMapping, VariantSpec, declare_variant


def _import_variant_modules() -> None:
    """Import every module of this package, in name order (helpers such as `keymap` simply declare nothing)."""
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{module.name}")


_import_variant_modules()

__all__ = ["VARIANTS", "ConfigField", "NativeMapping", "VariantSpec", "declare_variant"]
