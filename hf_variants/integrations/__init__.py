"""Hooks into the wider ecosystem (peft, `transformers serve`) that `import hf_variants` installs in one place."""
