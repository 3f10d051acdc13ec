"""The hfv_rnn baseline against the papers' equations (Bahdanau et al. 2015, Luong et al. 2015), written out
naively here: the three attention scores, and a whole forward pass rebuilt step by step from GRU/LSTM cells.
Also padding, save/load, generate and config validation. (The common suite does not apply: no attention heads,
backends or KV cache; see tests/encoder_decoder/test_overfit.py for Trainer + generate learning a task.)"""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification

import hf_variants  # noqa: F401  (Auto registration)
from hf_variants.families.rnn_layers import RNNAttention
from hf_variants.variants.rnn import HfvRNNConfig, HfvRNNForConditionalGeneration, HfvRNNModel

ATOL = 1e-5
SMALL = dict(vocab_size=30, hidden_size=16, num_hidden_layers=2, hidden_dropout_prob=0.0)
KINDS = [("gru", "additive", True), ("lstm", "general", True), ("gru", "dot", False), ("lstm", "additive", False)]


def model_of(rnn_type="gru", attention_score="additive", bidirectional_encoder=True, **overrides):
    torch.manual_seed(0)
    config = HfvRNNConfig(**{**SMALL, "rnn_type": rnn_type, "attention_score": attention_score,
                             "bidirectional_encoder": bidirectional_encoder, **overrides})
    return HfvRNNForConditionalGeneration(config).eval()


def inputs(seed: int = 1) -> dict:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, 30, (3, 7), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    mask[2, 2:] = 0
    return {"input_ids": ids.masked_fill(mask == 0, 0), "attention_mask": mask,
            "decoder_input_ids": torch.randint(4, 30, (3, 5), generator=generator)}


def naive_score(kind: str, module: RNNAttention, q: torch.Tensor, k: torch.Tensor) -> float:
    """One (decoder state, encoder state) pair, by the papers' formulas."""
    if kind == "dot":  # Luong: h_t^T h_s
        return float(sum(q[i] * k[i] for i in range(len(q))))
    if kind == "general":  # Luong: h_t^T W_a h_s
        w = module.key_proj.weight  # [query, key]
        return float(sum(q[i] * w[i, j] * k[j] for i in range(len(q)) for j in range(len(k))))
    w, u, v = module.query_proj.weight, module.key_proj.weight, module.v.weight[0]  # Bahdanau: v^T tanh(W q + U k)
    return float(sum(v[a] * torch.tanh(w[a] @ q + u[a] @ k) for a in range(len(v))))


@pytest.mark.parametrize("kind,bidirectional", [("dot", False), ("general", True), ("additive", True)])
def test_scores_equal_the_papers_formulas(kind, bidirectional):
    torch.manual_seed(0)
    config = HfvRNNConfig(**SMALL, attention_score=kind, bidirectional_encoder=bidirectional, attention_size=8)
    attention = RNNAttention(config)
    for param in attention.parameters():
        torch.nn.init.normal_(param)
    query = torch.randn(2, 3, config.hidden_size)
    keys = torch.randn(2, 4, config.encoder_output_size)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    with torch.no_grad():
        scores = attention.scores(query, keys)
        context, weights = attention(query, keys, mask)
        for b in range(2):
            for t in range(3):
                expected = torch.tensor([naive_score(kind, attention, query[b, t], keys[b, s]) for s in range(4)])
                assert (scores[b, t] - expected).abs().max() <= ATOL * max(1.0, expected.abs().max())
                real = int(mask[b].sum())
                alpha = torch.exp(expected[:real] - expected[:real].max())
                alpha = alpha / alpha.sum()
                assert (weights[b, t, :real] - alpha).abs().max() <= ATOL
                assert weights[b, t, real:].abs().max() == 0 if real < 4 else True
                assert (context[b, t] - sum(alpha[s] * keys[b, s] for s in range(real))).abs().max() <= ATOL


def _cell(layer: torch.nn.Module, suffix: str = "") -> torch.nn.Module:
    """A GRUCell/LSTMCell holding one direction of a one-layer nn.GRU/nn.LSTM's weights."""
    cell = (torch.nn.GRUCell if isinstance(layer, torch.nn.GRU) else torch.nn.LSTMCell)(layer.input_size,
                                                                                      layer.hidden_size)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(cell, name).data.copy_(getattr(layer, f"{name}_l0{suffix}"))
    return cell


def _run(cell, xs: list[torch.Tensor], h: torch.Tensor) -> list[torch.Tensor]:
    h, out = h[None], []
    state = (h, torch.zeros_like(h)) if isinstance(cell, torch.nn.LSTMCell) else h
    for x in xs:
        state = cell(x[None], state)
        out.append((state[0] if isinstance(state, tuple) else state)[0])
    return out


def reference_logits(model: HfvRNNForConditionalGeneration, ids, length, target) -> torch.Tensor:
    """One row, step by step: encoder over its real tokens (forward and backward cells), s_0 = tanh(W [h_fwd_last;
    h_bwd_first]), decoder cells, attention, h~ = tanh(W_c [c; h]), logits = W_out h~."""
    config, inner = model.config, model.model
    xs = list(inner.shared(ids[:length]))
    for layer in inner.encoder.layers:
        zero = torch.zeros(config.hidden_size)
        forward = _run(_cell(layer), xs, zero)
        if config.bidirectional_encoder:
            backward = _run(_cell(layer, "_reverse"), xs[::-1], zero)[::-1]
            xs = [torch.cat([f, b]) for f, b in zip(forward, backward)]
        else:
            xs = forward
    keys = torch.stack(xs)
    last = torch.cat([keys[-1, :config.hidden_size], keys[0, config.hidden_size:]]) if config.bidirectional_encoder \
        else keys[-1]
    initial = torch.tanh(inner.decoder.bridge(last)).view(config.num_decoder_layers, config.hidden_size)
    ys = list(inner.shared(target))
    for i, layer in enumerate(inner.decoder.layers):
        ys = _run(_cell(layer), ys, initial[i])
    rows = []
    for h in ys:
        scores = torch.tensor([naive_score(config.attention_score, inner.decoder.attention, h, k) for k in keys])
        alpha = torch.softmax(scores, dim=0)
        context = (alpha[:, None] * keys).sum(0)
        rows.append(model.lm_head(torch.tanh(inner.decoder.combine(torch.cat([context, h])))))
    return torch.stack(rows)


@pytest.mark.parametrize("rnn_type,score,bidirectional", KINDS)
def test_forward_equals_step_by_step_reference(rnn_type, score, bidirectional):
    model = model_of(rnn_type, score, bidirectional)
    batch = inputs()
    with torch.no_grad():
        logits = model(**batch).logits
        for row in range(3):
            length = int(batch["attention_mask"][row].sum())
            expected = reference_logits(model, batch["input_ids"][row], length, batch["decoder_input_ids"][row])
            assert (logits[row] - expected).abs().max() <= ATOL, row


def test_padding_and_batching_do_not_change_outputs():
    model = model_of()
    batch = inputs()
    with torch.no_grad():
        full = model(**batch).logits
        padded = dict(batch, input_ids=torch.cat([batch["input_ids"], torch.zeros(3, 4, dtype=torch.long)], 1),
                      attention_mask=torch.cat([batch["attention_mask"], torch.zeros(3, 4, dtype=torch.long)], 1))
        assert (model(**padded).logits - full).abs().max() <= ATOL
        for row in range(3):
            length = int(batch["attention_mask"][row].sum())
            alone = model(input_ids=batch["input_ids"][row:row + 1, :length],
                          decoder_input_ids=batch["decoder_input_ids"][row:row + 1]).logits
            assert (alone - full[row:row + 1]).abs().max() <= ATOL


def test_left_padding_is_refused():
    model = model_of()
    batch = inputs()
    with pytest.raises(ValueError, match="right-padded"):
        model(**dict(batch, attention_mask=batch["attention_mask"].flip(-1)))


def test_save_load_round_trip_and_auto_classes(tmp_path):
    model = model_of("lstm", "general")
    batch = inputs()
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path).eval()
    assert type(loaded) is HfvRNNForConditionalGeneration
    assert loaded.config.rnn_type == "lstm" and loaded.config.attention_score == "general"
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, loaded(**batch).logits)
    assert loaded.lm_head.weight.data_ptr() == loaded.get_input_embeddings().weight.data_ptr()
    assert type(AutoModel.from_pretrained(tmp_path)) is HfvRNNModel
    config = AutoConfig.for_model("hfv_rnn", rnn_type="lstm")
    assert type(config) is HfvRNNConfig and config.num_decoder_layers == config.num_hidden_layers


@pytest.mark.parametrize("rnn_type,score,bidirectional", KINDS[:2])
def test_greedy_generate_equals_argmax_loop(rnn_type, score, bidirectional):
    model = model_of(rnn_type, score, bidirectional, initializer_range=0.5)
    batch = inputs()
    generated = model.generate(batch["input_ids"], attention_mask=batch["attention_mask"], max_new_tokens=6,
                               min_new_tokens=6, do_sample=False)
    current = torch.full((3, 1), model.config.decoder_start_token_id)
    with torch.no_grad():
        for _ in range(6):
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                           decoder_input_ids=current).logits[:, -1]
            logits[:, model.config.eos_token_id] = -float("inf")  # min_new_tokens
            current = torch.cat([current, logits.argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(generated, current)


def test_beam_search_scores_are_the_models_log_probabilities():
    """(EOS, forbidden by min_new_tokens, is masked after the log-softmax, as transformers does.)"""
    model = model_of(initializer_range=0.5)  # far from uniform predictions, so a wrong prefix would show
    batch = inputs()
    out = model.generate(batch["input_ids"], attention_mask=batch["attention_mask"], num_beams=3, max_new_tokens=5,
                         min_new_tokens=5, do_sample=False, length_penalty=0.0, output_scores=True,
                         return_dict_in_generate=True)
    sequences = out.sequences
    assert sequences.shape == (3, 6)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       decoder_input_ids=sequences[:, :-1]).logits
    log_probs = torch.log_softmax(logits, -1).gather(-1, sequences[:, 1:, None]).squeeze(-1).sum(-1)
    assert (log_probs - out.sequences_scores).abs().max() <= 1e-4


@pytest.mark.parametrize("overrides,message", [
    (dict(rnn_type="rnn"), "rnn_type='rnn' is not supported; allowed values: 'gru', 'lstm'"),
    (dict(attention_score="scaled_dot"), "attention_score='scaled_dot' is not supported by hfv_rnn"),
    (dict(attention_score="dot"), "attention_score='dot' needs decoder states and encoder states of one size"),
    (dict(bidirectional_encoder="yes"), "bidirectional_encoder='yes' must be True or False"),
    (dict(embedding_size=8), "tie_word_embeddings=True needs embedding_size=8"),
    (dict(num_decoder_layers=0), "num_decoder_layers=0 must be a positive integer"),
    (dict(hidden_dropout_prob=1.5), "hidden_dropout_prob=1.5 must be in"),
])
def test_impossible_configs_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        HfvRNNConfig(**{**SMALL, **overrides})


def test_untied_embeddings_of_another_size_work():
    model = model_of(embedding_size=8, tie_word_embeddings=False)
    with torch.no_grad():
        assert model(**inputs()).logits.shape == (3, 5, 30)
    assert model.lm_head.weight.data_ptr() != model.get_input_embeddings().weight.data_ptr()


def test_sequence_classification_from_a_seq2seq_checkpoint(tmp_path):
    """The classifier reads the encoder's final states; a seq2seq checkpoint loads into it (new: the classifier)."""
    model_of().save_pretrained(tmp_path)
    classifier = AutoModelForSequenceClassification.from_pretrained(tmp_path, num_labels=3).eval()
    assert type(classifier).__name__ == "HfvRNNForSequenceClassification"
    batch = inputs()
    labels = torch.tensor([0, 2, 1])
    out = classifier(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels)
    assert out.logits.shape == (3, 3)
    assert torch.allclose(out.loss, torch.nn.functional.cross_entropy(out.logits, labels))
    with torch.no_grad():  # padding does not reach the summary: row 2 alone (2 tokens) gives the same logits
        alone = classifier(input_ids=batch["input_ids"][2:, :2]).logits
    assert (alone - out.logits[2:]).abs().max() <= ATOL
    out.loss.backward()
    assert classifier.classifier.weight.grad.abs().sum() > 0


def test_lm_loss_takes_trainers_token_count():
    """Under gradient accumulation Trainer passes `num_items_in_batch` (the step's labelled tokens): the loss is then
    the sum of this micro-batch's token losses / that count, so accumulated micro-batches equal the full batch."""
    model = model_of()
    batch = inputs()
    labels = batch["decoder_input_ids"].masked_fill(torch.tensor([[0, 0, 0, 1, 1]]).bool(), -100)
    with torch.no_grad():
        mean = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels).loss
        scaled = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels,
                       num_items_in_batch=torch.tensor(20)).loss
    labelled = int((labels != -100).sum())
    torch.testing.assert_close(scaled, mean * labelled / 20)
