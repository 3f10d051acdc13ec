"""Causal-LM packing: documents are concatenated (EOS between them) and cut into fixed-length blocks, so every
token is trained on and no batch needs padding (GPT-2/LLaMA style). Also gives T5 span corruption its fixed-length
raw blocks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from datasets import Dataset


def _blocks(sequences: Iterable[Sequence[int]], block_size: int, eos_token_id: int | None,
            drop_remainder: bool) -> Iterator[list[int]]:
    buffer: list[int] = []
    for ids in sequences:
        buffer.extend(int(i) for i in ids)
        if eos_token_id is not None and (not buffer or buffer[-1] != eos_token_id):
            buffer.append(eos_token_id)  # a document boundary the model can learn to predict
        while len(buffer) >= block_size:
            yield buffer[:block_size]
            buffer = buffer[block_size:]
    if buffer and not drop_remainder:
        yield buffer


def pack_sequences(
    sequences: Dataset | Iterable[Sequence[int]],
    block_size: int,
    eos_token_id: int | None = None,
    *,
    column: str = "input_ids",
    drop_remainder: bool = True,
    with_labels: bool = True,
    batch_size: int = 1000,
) -> Dataset | list[dict[str, Any]]:
    """Pack token lists into blocks of exactly `block_size` tokens.

    `sequences`: a `datasets.Dataset` with a `column` of token lists (packed batch by batch with `Dataset.map`,
    each map batch of `batch_size` documents dropping its own remainder), or any iterable of token lists (packed
    in one stream; returns a list of dicts). `eos_token_id` is appended to each document that does not already end
    with it. `with_labels` adds `labels` = a copy of `input_ids` (the causal models shift them).
    """
    if not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size={block_size!r} must be a positive integer")

    def rows(blocks: Iterable[list[int]]) -> dict[str, list[list[int]]]:
        blocks = list(blocks)
        out = {"input_ids": blocks}
        if with_labels:
            out["labels"] = [list(b) for b in blocks]
        return out

    if isinstance(sequences, Dataset):
        if column not in sequences.column_names:
            raise ValueError(f"column {column!r} is not in the dataset; it has {sequences.column_names}")
        return sequences.map(
            lambda batch: rows(_blocks(batch[column], block_size, eos_token_id, drop_remainder)),
            batched=True, batch_size=batch_size, remove_columns=sequences.column_names, desc="packing",
        )
    packed = rows(_blocks(sequences, block_size, eos_token_id, drop_remainder))
    return [dict(zip(packed, values)) for values in zip(*packed.values())]
