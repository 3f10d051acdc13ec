"""MoE inside models: the auxiliary loss is always added when its coefficient is > 0, a BERT-MoE trains, and the
balancing loss balances."""

import torch

from tests.variant_configs import tiny_config


def _bert_moe(**overrides):
    from hf_variants.families.encoder import EncoderForMaskedLM

    torch.manual_seed(0)
    config = tiny_config("bert", num_experts=4, num_experts_per_tok=2, **overrides)
    return EncoderForMaskedLM(config)


def _batch(vocab: int = 99, batch: int = 4, seq: int = 12):
    ids = torch.randint(5, vocab, (batch, seq))
    return dict(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids.clone())


def test_aux_loss_added_without_output_router_logits():
    from hf_variants.core.moe import moe_auxiliary_loss

    model = _bert_moe(router_aux_loss_coef=0.5, router_z_loss_coef=0.1).eval()
    inputs = _batch()
    loss = model(**inputs).loss
    base = model.model(inputs["input_ids"], attention_mask=inputs["attention_mask"])
    assert len(base.router_logits) == 2
    logits = model.lm_head(base.last_hidden_state)
    plain = torch.nn.functional.cross_entropy(logits.view(-1, 99), inputs["labels"].view(-1))
    aux = moe_auxiliary_loss(model.config, base.router_logits)
    assert aux > 0
    torch.testing.assert_close(loss, plain + aux)
    model.config.router_aux_loss_coef = model.config.router_z_loss_coef = 0.0
    torch.testing.assert_close(model(**inputs).loss, plain)


def test_moe_layer_frequency_and_state_dict_names():
    model = _bert_moe(num_hidden_layers=4, moe_layer_frequency=2)
    sparse = [i for i, layer in enumerate(model.model.encoder.layers) if hasattr(layer.mlp, "experts")]
    assert sparse == [1, 3]
    keys = model.state_dict()
    assert keys["model.encoder.layers.1.mlp.experts.up_proj"].shape == (4, 37, 32)
    assert keys["model.encoder.layers.1.mlp.experts.down_proj"].shape == (4, 32, 37)
    assert keys["model.encoder.layers.1.mlp.gate.weight"].shape == (4, 32)
    assert keys["model.encoder.layers.1.mlp.experts.up_proj"].std() > 0  # initialised, not torch.empty


def test_bert_moe_trains_and_round_trips(tmp_path):
    from hf_variants.families.encoder import EncoderForMaskedLM

    model = _bert_moe(router_aux_loss_coef=0.01).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    inputs = _batch()
    losses = []
    for _ in range(8):
        loss = model(**inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.5
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())
    model.save_pretrained(tmp_path)
    reloaded = EncoderForMaskedLM.from_pretrained(tmp_path).eval()
    model.eval()
    torch.testing.assert_close(reloaded(**inputs).logits, model(**inputs).logits)


def _expert_load(model, inputs) -> torch.Tensor:
    """Fraction of top-k assignments per expert, over all MoE layers."""
    with torch.no_grad():
        logits = model.model(inputs["input_ids"]).router_logits
    top = torch.cat([layer.reshape(-1, 4) for layer in logits]).topk(2, dim=-1).indices
    return torch.bincount(top.reshape(-1), minlength=4).float() / top.numel()


def _train_load(coef: float) -> float:
    model = _bert_moe(router_aux_loss_coef=coef).train()
    with torch.no_grad():  # a skewed start: the router favours experts 0 and 1
        for layer in model.model.encoder.layers:
            layer.mlp.gate.weight[:2] += 0.5
            layer.mlp.gate.weight.add_(torch.randn_like(layer.mlp.gate.weight) * 0.5)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    torch.manual_seed(1)
    for _ in range(30):
        model(**_batch(batch=8, seq=16)).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    torch.manual_seed(2)
    load = _expert_load(model.eval(), _batch(batch=16, seq=16))
    return (load - 0.25).abs().sum().item()


def test_aux_loss_balances_expert_load():
    imbalance_off, imbalance_on = _train_load(0.0), _train_load(1.0)
    assert imbalance_on < imbalance_off, (imbalance_on, imbalance_off)


def test_bart_moe_builds_trains_and_round_trips(tmp_path):
    """A BART with top-2-of-4 expert feed-forwards in both stacks: the aux loss reaches the loss, training lowers it."""
    from hf_variants.variants.bart import HfvBartForConditionalGeneration

    torch.manual_seed(0)
    config = tiny_config("bart", num_experts=4, num_experts_per_tok=2, router_aux_loss_coef=0.01,
                         router_z_loss_coef=0.001, pad_token_id=1, num_decoder_layers=2)
    model = HfvBartForConditionalGeneration(config).train()
    assert all(hasattr(layer.mlp, "experts") for stack in (model.model.encoder, model.model.decoder)
               for layer in stack.layers)
    ids = torch.randint(5, 99, (4, 12))
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    inputs = dict(input_ids=ids.masked_fill(mask == 0, 1), attention_mask=mask, labels=ids)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):
        out = model(**inputs)
        assert out.aux_loss is not None and out.aux_loss > 0
        assert len(out.encoder_router_logits) == len(out.decoder_router_logits) == 2
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(out.loss.item())
    assert losses[-1] < losses[0] - 0.5, losses
    model.save_pretrained(tmp_path)
    reloaded = HfvBartForConditionalGeneration.from_pretrained(tmp_path).eval()
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs).logits, model(**inputs).logits)
