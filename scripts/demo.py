"""`make demo` — for now a short tour; the full pretrain/fine-tune demo on embedded data comes with issue 6.

It builds a BERT with RoPE, RMSNorm and SwiGLU from one config line, trains it a few steps, saves and reloads it
with the Auto classes, and checks a plain BERT against native transformers.
"""

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoConfig, AutoModelForMaskedLM  # noqa: E402

import hf_variants  # noqa: E402
from hf_variants.convert import from_native, to_native  # noqa: E402

print("Variants:", ", ".join(hf_variants.VARIANTS))
torch.manual_seed(0)
config = AutoConfig.for_model("hfv_bert", vocab_size=500, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                              intermediate_size=128, position_embedding_type="rope", norm_type="rmsnorm",
                              ffn_type="glu", hidden_act="silu")
model = AutoModelForMaskedLM.from_config(config)
print(f"Built {type(model).__name__}: RoPE + RMSNorm + SwiGLU, {sum(p.numel() for p in model.parameters()):,} params")
ids = torch.randint(5, 500, (8, 32))
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
for step in range(20):
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    if step % 5 == 0 or step == 19:
        print(f"  step {step:2d}  loss {loss.item():.3f}")
with tempfile.TemporaryDirectory() as directory:
    model.save_pretrained(directory)
    reloaded = AutoModelForMaskedLM.from_pretrained(directory)
    print("Saved and reloaded with AutoModelForMaskedLM:", type(reloaded).__name__)

native = transformers.BertForMaskedLM(transformers.BertConfig(vocab_size=500, hidden_size=64, num_hidden_layers=2,
                                                              num_attention_heads=4, intermediate_size=128)).eval()
ours = from_native(native)
with torch.no_grad():
    delta = (native(input_ids=ids).logits - ours(input_ids=ids).logits).abs().max().item()
print(f"Native BertForMaskedLM -> {type(ours).__name__}: max |delta logits| = {delta:.2e}")
print("Back to native:", type(to_native(ours)).__name__)
