"""Pretraining objectives as data collators and model wrappers that plug into `Trainer` / `Seq2SeqTrainer`.

| objective | variants | piece |
|---|---|---|
| masked LM (15%, 80/10/10, whole words optional) | bert, roberta, albert, distilbert | `MaskedLMCollator`, `mlm_collator` |
| next-sentence / sentence-order prediction | bert (NSP), albert (SOP) | `make_sentence_pairs`, `sentence_pair_collator` |
| replaced-token detection | electra | `ElectraPreTrainingModel`, `electra_collator` |
| span corruption | t5, byt5, switch | `SpanCorruptionCollator`, `compute_input_and_target_lengths` |
| denoising | bart | `DenoisingCollator` |
| causal LM with packing | gpt2, llama, mistral, mixtral | `pack_sequences` |
| distillation | distilbert | `DistillationTrainer`, `init_student_from_teacher` |

`recipes.py` maps each objective key a variant declares (`declare_variant(objective=...)`, see `hfv list`) to the
model head, data preparation and collator `hfv pretrain` uses (`pretraining_recipe`).
"""

from .denoising import DenoisingCollator, sentence_end_ids
from .distillation import DistillationTrainer, distillation_loss_terms, init_student_from_teacher
from .electra import ElectraPreTrainingModel, ElectraPreTrainingOutput, electra_collator, share_embeddings
from .mlm import MaskedLMCollator, mlm_collator
from .packing import pack_sequences
from .sentence_pairs import make_sentence_pairs, sentence_pair_collator, split_sentences
from .span_corruption import (
    SpanCorruptionCollator,
    compute_input_and_target_lengths,
    corrupted_lengths,
    random_spans_noise_mask,
    t5_sentinel_ids,
    tokenizer_sentinel_ids,
)

__all__ = [
    "DenoisingCollator",
    "DistillationTrainer",
    "ElectraPreTrainingModel",
    "ElectraPreTrainingOutput",
    "MaskedLMCollator",
    "SpanCorruptionCollator",
    "compute_input_and_target_lengths",
    "corrupted_lengths",
    "distillation_loss_terms",
    "electra_collator",
    "init_student_from_teacher",
    "make_sentence_pairs",
    "mlm_collator",
    "pack_sequences",
    "random_spans_noise_mask",
    "sentence_end_ids",
    "sentence_pair_collator",
    "share_embeddings",
    "split_sentences",
    "t5_sentinel_ids",
    "tokenizer_sentinel_ids",
]
