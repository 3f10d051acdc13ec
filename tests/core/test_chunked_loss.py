"""The chunked LM-head cross-entropy equals the plain logits path: loss and every gradient (fp32 <= 1e-6)."""

import pytest
import torch
from torch.nn import functional as F
from transformers.loss.loss_utils import ForCausalLMLoss

import hf_variants
from hf_variants.core.chunked_loss import chunked_causal_lm_loss, chunked_cross_entropy
from tests.variant_configs import tiny_config

VOCAB, HIDDEN = 101, 16


def _inputs(seed=0, bias=True):
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn(3, 37, HIDDEN, generator=generator).requires_grad_()
    weight = torch.randn(VOCAB, HIDDEN, generator=generator).requires_grad_()
    b = torch.randn(VOCAB, generator=generator).requires_grad_() if bias else None
    labels = torch.randint(0, VOCAB, (3, 37), generator=generator)
    labels[0, :5] = -100
    labels[2, -9:] = -100
    return hidden, weight, b, labels


def _grads(loss, tensors):
    return torch.autograd.grad(loss, [t for t in tensors if t is not None])


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 4096])
def test_masked_lm_and_seq2seq_form_equals_plain_cross_entropy(chunk_size):
    hidden, weight, bias, labels = _inputs()
    plain = F.cross_entropy(F.linear(hidden, weight, bias).float().view(-1, VOCAB), labels.view(-1))
    chunked = chunked_cross_entropy(hidden, weight, labels, bias, chunk_size=chunk_size)
    torch.testing.assert_close(chunked, plain, atol=1e-6, rtol=0)
    for g_chunked, g_plain in zip(_grads(chunked, (hidden, weight, bias)), _grads(plain, (hidden, weight, bias))):
        torch.testing.assert_close(g_chunked, g_plain, atol=1e-6, rtol=0)


@pytest.mark.parametrize("num_items", [None, 50])
def test_causal_form_equals_transformers_causal_lm_loss(num_items):
    hidden, weight, _, labels = _inputs(seed=1, bias=False)
    plain = ForCausalLMLoss(F.linear(hidden, weight), labels, VOCAB, num_items_in_batch=num_items)
    chunked = chunked_causal_lm_loss(hidden, weight, labels, chunk_size=10, num_items_in_batch=num_items)
    torch.testing.assert_close(chunked, plain, atol=1e-6, rtol=0)
    for g_chunked, g_plain in zip(_grads(chunked * 3.0, (hidden, weight)), _grads(plain * 3.0, (hidden, weight))):
        torch.testing.assert_close(g_chunked, g_plain, atol=1e-6, rtol=0)
    with torch.no_grad():
        torch.testing.assert_close(chunked_causal_lm_loss(hidden, weight, labels, chunk_size=10,
                                                          num_items_in_batch=num_items), plain, atol=1e-6, rtol=0)


def test_llama_model_gradients_with_tied_head():
    """On a real model: the head's loss from the final hidden states gives every parameter's gradient unchanged."""
    torch.manual_seed(0)  # the summation order differs (chunks vs whole): a few ulp at a loss of ~4.6, so rtol too
    config = tiny_config("llama", tie_word_embeddings=True)
    model = hf_variants.VARIANTS["llama"].classes["ForCausalLM"](config)
    ids = torch.randint(3, 99, (2, 20), generator=torch.Generator().manual_seed(0))
    plain = model(input_ids=ids, labels=ids).loss
    plain_grads = _grads(plain, list(model.parameters()))
    hidden = model.model(input_ids=ids).last_hidden_state
    chunked = chunked_causal_lm_loss(hidden, model.lm_head.weight, ids, chunk_size=16)
    torch.testing.assert_close(chunked, plain, atol=1e-6, rtol=1e-6)
    for g_chunked, g_plain in zip(_grads(chunked, list(model.parameters())), plain_grads):
        torch.testing.assert_close(g_chunked, g_plain, atol=1e-6, rtol=0)


def test_bfloat16_tracks_plain_path():
    hidden, weight, bias, labels = _inputs(seed=2)
    hidden, weight = hidden.detach().bfloat16().requires_grad_(), weight.detach().bfloat16().requires_grad_()
    plain = F.cross_entropy(F.linear(hidden, weight).float().view(-1, VOCAB), labels.view(-1))
    chunked = chunked_cross_entropy(hidden, weight, labels, chunk_size=16)
    torch.testing.assert_close(chunked, plain, atol=1e-5, rtol=0)
    for g_chunked, g_plain in zip(_grads(chunked, (hidden, weight)), _grads(plain, (hidden, weight))):
        assert g_chunked.dtype == torch.bfloat16
        torch.testing.assert_close(g_chunked.float(), g_plain.float(), atol=2e-2, rtol=2e-2)


def test_bad_arguments():
    hidden, weight, _, labels = _inputs()
    with pytest.raises(ValueError, match="chunk_size=0"):
        chunked_cross_entropy(hidden, weight, labels, chunk_size=0)
    with pytest.raises(ValueError, match="reduction='none'"):
        chunked_cross_entropy(hidden, weight, labels, reduction="none")
    with pytest.raises(ValueError, match="must agree"):
        chunked_cross_entropy(hidden, weight, labels[:, :-1])


# --- wired into the heads (config.loss_chunk_size) -------------------------------------------------------------

HEAD_CASES = {"causal_lm": ("llama", "ForCausalLM"), "masked_lm": ("bert", "ForMaskedLM"),
              "seq2seq": ("bart", "ForConditionalGeneration")}


@pytest.mark.parametrize("case", sorted(HEAD_CASES))
def test_heads_with_loss_chunk_size_give_the_plain_loss_and_gradients(case):
    """Each LM head in training: the same loss and parameter gradients as the plain path, per micro-batch with
    Trainer's `num_items_in_batch` weighting (gradient accumulation) and without it; no full logits returned."""
    from tests.training.loss_cases import global_batch, items, micro_batches

    variant, head = HEAD_CASES[case]
    torch.manual_seed(0)
    model = hf_variants.VARIANTS[variant].classes[head](tiny_config(variant)).train()
    if case == "seq2seq":  # BART's (non-trained) logits bias joins the chunked projection
        model.final_logits_bias.normal_()
    batches = micro_batches(global_batch("seq2seq" if case == "seq2seq" else "causal_lm"))
    total = sum(items(b, causal=case == "causal_lm") for b in batches)
    parameters = [p for p in model.parameters() if p.requires_grad]
    for batch, num_items in [(b, total) for b in batches] + [(batches[0], None)]:
        extra = {} if num_items is None else {"num_items_in_batch": num_items}
        results = {}
        for chunk in (None, 3):
            model.config.loss_chunk_size = chunk
            out = model(**batch, **extra)
            results[chunk] = (out.loss, _grads(out.loss, parameters), out.logits)
        assert results[3][2] is None and results[None][2] is not None
        torch.testing.assert_close(results[3][0], results[None][0], atol=1e-6, rtol=0)
        for g_chunked, g_plain in zip(results[3][1], results[None][1]):
            torch.testing.assert_close(g_chunked, g_plain, atol=1e-6, rtol=0)
    model.eval()  # evaluation keeps the logits (Trainer's prediction step reads them)
    assert model(**batches[0]).logits is not None


def test_loss_chunk_size_is_validated():
    with pytest.raises(ValueError, match="loss_chunk_size=0 must be a positive integer"):
        tiny_config("llama", loss_chunk_size=0)
    with pytest.raises(TypeError, match="loss_chunk_size=2.0 must be an integer or None"):
        tiny_config("llama", loss_chunk_size=2.0)
