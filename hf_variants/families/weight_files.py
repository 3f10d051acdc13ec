"""Which weight files a checkpoint folder holds, and removing an earlier save's leftovers after a new save.

Kept apart from hf_variants.checkpoints (the CLI's checkpoint policy) because every model's `save_pretrained` needs
it, including the flat remote-code copy of the models.
"""

from __future__ import annotations

from pathlib import Path

# Weight files transformers writes or reads; one save's set replaces the previous save's.
WEIGHT_PATTERNS = ("model.safetensors", "model.safetensors.index.json", "model-*-of-*.safetensors",
                   "pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-*-of-*.bin")

def weight_files(folder: str | Path) -> dict[Path, tuple[int, int, int]]:
    """The weight files in `folder`, with what identifies their content version (inode, mtime, size)."""
    folder = Path(folder)
    files = {path for pattern in WEIGHT_PATTERNS for path in folder.glob(pattern)}
    return {path: (stat.st_ino, stat.st_mtime_ns, stat.st_size) for path in files for stat in [path.stat()]}


def remove_stale_weights(folder: str | Path, before: dict[Path, tuple[int, int, int]]) -> list[Path]:
    """Delete the weight files of an earlier save (`before`, from `weight_files`) that the new save did not rewrite:
    a stale single-file model.safetensors would otherwise be loaded instead of new shards (or an old index and
    shards next to a new single file)."""
    after = weight_files(folder)
    stale = [path for path, version in before.items() if after.get(path) == version]
    for path in stale:
        path.unlink()
    return stale
