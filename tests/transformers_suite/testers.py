"""Small model testers per family for transformers' ModelTesterMixin (like its BertModelTester / T5ModelTester).

A tester builds the variant's tiny config (tests/variant_configs.py) and random inputs; `VariantModelTest` is the
base of the per-variant test classes: it maps each of our heads to the labels transformers' mixin would give its
native counterpart (the mixin finds heads by native class name, which ours do not carry).
"""

from __future__ import annotations

from unittest import mock

import torch
from transformers.models.auto import modeling_auto

import hf_variants
from tests.variant_configs import tiny_config


def ids_tensor(shape: tuple[int, ...], vocab_size: int, low: int = 0) -> torch.Tensor:
    return torch.randint(low, vocab_size, shape, dtype=torch.long)


def random_attention_mask(shape: tuple[int, int]) -> torch.Tensor:
    """Random 0/1 mask whose first column is 1 (every row attends to something), as transformers' testers do."""
    mask = ids_tensor(shape, 2)
    mask[:, 0] = 1
    return mask


class FamilyTester:
    """Shared attributes read by ModelTesterMixin."""

    batch_size = 3
    seq_length = 7
    num_choices = 2
    is_training = True
    use_labels = True

    def __init__(self, parent, name: str):
        self.parent = parent
        self.name = name
        config = self.get_config()
        self.vocab_size = config.vocab_size
        self.hidden_size = config.hidden_size
        self.num_hidden_layers = config.num_hidden_layers
        self.num_attention_heads = config.num_attention_heads
        self.encoder_seq_length = self.seq_length
        self.decoder_seq_length = self.seq_length
        self.key_length = self.seq_length

    def get_config(self):
        return tiny_config(self.name)

    def prepare_config_and_inputs_for_common(self):
        config, inputs = self.prepare_config_and_inputs()
        return config, inputs


class EncoderTester(FamilyTester):
    """BERT-like encoders: ids, mask and (where the embeddings have them) token type ids."""

    def prepare_config_and_inputs(self):
        config = self.get_config()
        inputs = {"input_ids": ids_tensor((self.batch_size, self.seq_length), self.vocab_size),
                  "attention_mask": random_attention_mask((self.batch_size, self.seq_length))}
        if getattr(config, "type_vocab_size", 0):
            inputs["token_type_ids"] = ids_tensor((self.batch_size, self.seq_length), config.type_vocab_size)
        return config, inputs


class DecoderTester(FamilyTester):
    """Causal decoders: ids that avoid the pad id, and a mask."""

    def prepare_config_and_inputs(self):
        config = self.get_config()
        inputs = {"input_ids": ids_tensor((self.batch_size, self.seq_length), self.vocab_size, low=3),
                  "attention_mask": random_attention_mask((self.batch_size, self.seq_length))}
        return config, inputs


class EncoderDecoderTester(FamilyTester):
    """Sequence-to-sequence: encoder ids/mask, decoder ids/mask; every encoder row ends in EOS (as BART's tester
    does: its sequence-classification head pools the last EOS). Encoder and decoder get the same two layers: the
    mixin counts decoder attentions and hidden states by `num_hidden_layers` (native T5/BART testers do the same)."""

    def get_config(self):
        return tiny_config(self.name, num_hidden_layers=2, num_decoder_layers=2)

    def prepare_config_and_inputs(self):
        config = self.get_config()
        input_ids = ids_tensor((self.batch_size, self.seq_length), self.vocab_size, low=3)
        if config.eos_token_id is not None:
            input_ids[:, -1] = config.eos_token_id
        inputs = {"input_ids": input_ids,
                  "attention_mask": random_attention_mask((self.batch_size, self.seq_length)),
                  "decoder_input_ids": ids_tensor((self.batch_size, self.seq_length), self.vocab_size, low=3),
                  "decoder_attention_mask": random_attention_mask((self.batch_size, self.seq_length))}
        inputs["attention_mask"][:, -1] = 1
        return config, inputs


TESTERS = {"encoder": EncoderTester, "decoder": DecoderTester, "encoder-decoder": EncoderDecoderTester}

# Our head suffix -> transformers' auto-mapping (of class names) where the native head of that kind is listed.
HEAD_MAPPINGS = {
    "Model": "MODEL_MAPPING_NAMES",
    "ForMaskedLM": "MODEL_FOR_MASKED_LM_MAPPING_NAMES",
    "ForCausalLM": "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES",
    "ForPreTraining": "MODEL_FOR_PRETRAINING_MAPPING_NAMES",
    "ForSequenceClassification": "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",
    "ForTokenClassification": "MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES",
    "ForQuestionAnswering": "MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES",
    "ForMultipleChoice": "MODEL_FOR_MULTIPLE_CHOICE_MAPPING_NAMES",
    "ForConditionalGeneration": "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES",
}
# The sentence-level pretraining label each variant's `...ForPreTraining` trains (as BertModelTest adds it).
PRETRAINING_SENTENCE_LABEL = {"bert": "next_sentence_label", "albert": "sentence_order_label"}


class VariantModelTest:
    """Mixed into each per-variant `ModelTesterMixin` + `unittest.TestCase` class; `variant` names the variant.

    The mixin recognises heads by native class name (`MODEL_FOR_..._MAPPING_NAMES`); for the duration of each
    test our class names are listed there too (under our model_type), so it treats our heads as their native
    counterparts: which one is the bare model, which labels each head takes, which heads generate."""

    variant: str = ""

    def setUp(self):
        spec = hf_variants.VARIANTS[self.variant]
        self.model_tester = TESTERS[spec.family](self, self.variant)
        model_type = spec.config_class.model_type
        for suffix, cls in spec.classes.items():
            mapping = getattr(modeling_auto, HEAD_MAPPINGS[suffix])
            patcher = mock.patch.dict(mapping, {model_type: cls.__name__})
            patcher.start()
            self.addCleanup(patcher.stop)

    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        inputs = super()._prepare_for_class(inputs_dict, model_class, return_labels=return_labels)
        if return_labels and model_class is hf_variants.VARIANTS[self.variant].classes.get("ForPreTraining"):
            tester = self.model_tester
            inputs["labels"] = torch.zeros((tester.batch_size, tester.seq_length), dtype=torch.long)
            if self.variant in PRETRAINING_SENTENCE_LABEL:
                inputs[PRETRAINING_SENTENCE_LABEL[self.variant]] = torch.zeros(tester.batch_size, dtype=torch.long)
        return inputs
