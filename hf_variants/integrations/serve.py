"""`transformers serve` for hf_variants checkpoints (OpenAI-style /v1/completions and /v1/chat/completions).

transformers' server loads a checkpoint with `getattr(transformers, config.architectures[0])`, i.e. it looks the
model class up by name on the `transformers` module. `import hf_variants` puts every hf_variants model class there
(`expose_model_classes`), so the server resolves them in any process that imported the package. This module is the
`transformers` CLI with the package imported first:

    python -m hf_variants.integrations.serve CHECKPOINT_DIR --host 127.0.0.1 --port 8000 [--continuous-batching]

(same options as `transformers serve`; it needs transformers' `serving` extra: fastapi, uvicorn, openai).
"""

from __future__ import annotations

import sys

import transformers


def expose_model_classes() -> None:
    """Make `getattr(transformers, "HfvLlamaForCausalLM")` (and every other hf_variants class) resolve."""
    from ..variants import VARIANTS

    # Importing some transformers submodules (e.g. modeling_layers) swaps the lazy module in sys.modules for a new
    # object, so set the names on the one registered now as well as on the one this module imported.
    for module in {id(m): m for m in (transformers, sys.modules["transformers"])}.values():
        for spec in VARIANTS.values():
            for cls in spec.classes.values():
                setattr(module, cls.__name__, cls)


def main(argv: list[str] | None = None) -> None:
    """`transformers serve ARGS` with hf_variants registered."""
    from transformers.cli.transformers import app

    import hf_variants  # noqa: F401  (registers the Auto classes and exposes the model classes)

    app(["serve", *(sys.argv[1:] if argv is None else argv)], prog_name="python -m hf_variants.integrations.serve")


if __name__ == "__main__":
    main()
