"""Checkpoints (issue 14): damaged files are named, missing tensors are refused rather than initialised at random,
saves leave no stale weights, resume picks the newest complete checkpoint, finetune refuses a foreign tokenizer."""

import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import BertTokenizer

import hf_variants
from hf_variants.checkpoints import check_resume_tensors, load_checkpoint
from hf_variants.convert import convert_checkpoint
from hf_variants.training.finetune import finetune
from hf_variants.training.runner import last_checkpoint
from tests.variant_configs import tiny_config

MaskedLM = hf_variants.VARIANTS["bert"].classes["ForMaskedLM"]


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = MaskedLM(tiny_config("bert"))
    model.save_pretrained(tmp_path / "model")
    return model, tmp_path / "model"


def test_a_truncated_safetensors_file_is_named(saved):
    _, folder = saved
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"damaged checkpoint .*model\.safetensors"):
        load_checkpoint(MaskedLM, folder)
    with pytest.raises(ValueError, match=r"damaged checkpoint .*model\.safetensors"):
        convert_checkpoint(folder, folder.parent / "native")


def test_convert_refuses_a_missing_tensor_instead_of_initialising_it(saved):
    _, folder = saved
    state = load_file(folder / "model.safetensors")
    removed = "model.encoder.layers.1.mlp.up_proj.weight"
    del state[removed]
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match=f"missing tensors.*{removed}"):
        convert_checkpoint(folder, folder.parent / "native")
    assert not (folder.parent / "native" / "config.json").exists()


def test_a_new_save_leaves_no_stale_weights_in_the_folder(saved):
    model, folder = saved
    torch.manual_seed(1)
    other = MaskedLM(tiny_config("bert"))
    other.save_pretrained(folder, max_shard_size="20KB")  # shards next to the earlier single file
    assert not (folder / "model.safetensors").exists()
    reloaded = MaskedLM.from_pretrained(folder)
    key = "model.embeddings.word_embeddings.weight"
    assert torch.equal(reloaded.state_dict()[key], other.state_dict()[key])
    model.save_pretrained(folder)  # and back to a single file: the shards go
    assert not list(folder.glob("model-*-of-*.safetensors")) and not (folder / "model.safetensors.index.json").exists()
    assert torch.equal(MaskedLM.from_pretrained(folder).state_dict()[key], model.state_dict()[key])


def _checkpoint(root, step, model, state=True, optimizer=True):
    folder = root / "checkpoints" / f"checkpoint-{step}"
    model.save_pretrained(folder)
    if state:
        (folder / "trainer_state.json").write_text("{}")
    if optimizer:
        for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth"):
            (folder / name).write_bytes(b"")
    return folder


def test_resume_picks_the_newest_complete_checkpoint_and_says_which(saved, tmp_path, capsys):
    model, _ = saved
    complete = _checkpoint(tmp_path / "run", 2, model)
    _checkpoint(tmp_path / "run", 4, model, state=False)  # a save that died half-way
    (tmp_path / "run" / "checkpoints" / "checkpoint-6").mkdir()  # an empty one
    assert last_checkpoint(tmp_path / "run", report=True) == str(complete)
    err = capsys.readouterr().err
    assert "skipping incomplete" in err and "checkpoint-6" in err and "checkpoint-4" in err
    assert f"resuming from {complete}" in err


def test_resume_warns_loudly_about_missing_optimizer_state(saved, tmp_path, capsys):
    model, _ = saved
    folder = _checkpoint(tmp_path / "run", 2, model, optimizer=False)
    with pytest.warns(UserWarning, match="optimizer.pt, scheduler.pt, rng_state.pth"):
        assert last_checkpoint(tmp_path / "run", report=True) == str(folder)
    assert "WARNING" in capsys.readouterr().err


def test_resume_refuses_a_checkpoint_of_another_model(saved, tmp_path):
    model, _ = saved
    folder = _checkpoint(tmp_path / "run", 2, MaskedLM(tiny_config("bert", num_hidden_layers=1)))
    with pytest.raises(ValueError, match="missing tensors.*layers.1"):
        check_resume_tensors(model, folder)


def test_finetune_refuses_a_folder_without_tokenizer_files_or_a_foreign_tokenizer(saved, tmp_path):
    _, folder = saved
    with pytest.raises(FileNotFoundError, match="has no tokenizer files"):
        finetune(str(folder), "classification", str(tmp_path / "out"), steps=1, quiet=True)
    vocab = {f"w{i}": i for i in range(150)}
    BertTokenizer(vocab=vocab, unk_token="w0", pad_token="w1").save_pretrained(folder)
    with pytest.raises(ValueError, match=r"has \d+ tokens but the model's vocab_size is 99"):
        finetune(str(folder), "classification", str(tmp_path / "out2"), steps=1, quiet=True)
    shutil.rmtree(tmp_path / "out", ignore_errors=True)


def test_hfv_convert_names_the_damaged_file_without_a_traceback(saved, capsys):
    from hf_variants.cli import main

    _, folder = saved
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    assert main(["convert", str(folder), str(folder.parent / "out")]) == 2
    assert "damaged checkpoint" in capsys.readouterr().err and "model.safetensors" in weights.name
