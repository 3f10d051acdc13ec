"""Training throughput: tokens/s and model FLOPs utilisation (MFU) from hf_variants' FLOP accounting.

`install_throughput(trainer, peak_tflops)` makes Trainer count FLOPs with the model's own accounting (attention at
the batch's length, active experts only; Trainer's built-in estimate is 6 x parameters x tokens) and adds a
callback that times the optimizer steps and reports `train_tokens_per_second`, `train_model_tflops_per_second`
and, when the accelerator's peak is known or given, `train_mfu` (achieved model FLOP/s / peak FLOP/s).
"""

from __future__ import annotations

import time

import torch
from transformers import TrainerCallback

# Dense bf16/fp16 tensor-core peaks (TFLOP/s) of common accelerators, from the vendors' data sheets.
KNOWN_PEAK_TFLOPS = {"H200": 989.4, "H100": 989.4, "A100": 312.0, "L40S": 362.1, "L4": 121.0}


def known_peak_tflops(device: torch.device | str | None = None) -> float | None:
    """The dense 16-bit peak of the current CUDA device when listed in KNOWN_PEAK_TFLOPS, else None."""
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in KNOWN_PEAK_TFLOPS.items() if key in name), None)


def batch_tokens(inputs: dict, encoder_decoder: bool = False) -> int:
    """Tokens a batch puts through the model (padding included: it is computed): the input tokens, plus for
    encoder-decoders the decoder tokens (`decoder_input_ids`, else the `labels` they are derived from)."""
    def numel(*keys):
        tensor = next((inputs[k] for k in keys if inputs.get(k) is not None), None)
        return 0 if tensor is None else tensor.shape[0] * tensor.shape[1]

    total = numel("input_ids", "inputs_embeds")
    if encoder_decoder:
        total += numel("decoder_input_ids", "decoder_inputs_embeds", "labels")
    return total


class ThroughputCallback(TrainerCallback):
    """Times each optimizer step (forward, backward, optimizer; not evaluation or saving) and sums the tokens and
    model FLOPs of its micro-batches."""

    def __init__(self, model, peak_tflops: float | None = None):
        self.model = model
        self.peak_tflops = peak_tflops
        self.tokens = 0
        self.flops = 0.0
        self.seconds = 0.0
        self._started: float | None = None

    def floating_point_ops(self, inputs: dict) -> float:
        """Trainer.floating_point_ops replacement: the model's accounted FLOPs, counting tokens on the way."""
        tokens = batch_tokens(inputs, bool(getattr(self.model.config, "is_encoder_decoder", False)))
        self.tokens += tokens
        if hasattr(self.model, "floating_point_ops"):
            flops = float(self.model.floating_point_ops(inputs))
        else:  # a wrapper without accounting: transformers' estimate
            flops = 6.0 * tokens * sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        self.flops += flops
        return flops

    @staticmethod
    def _synchronize() -> None:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()

    def on_step_begin(self, args, state, control, **kwargs):
        self._synchronize()
        self._started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self._started is not None:
            self._synchronize()
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def metrics(self) -> dict[str, float]:
        """What goes into metrics.json and the model card (empty before any step)."""
        if self.seconds <= 0:
            return {}
        achieved = self.flops / self.seconds
        result = {"train_tokens": self.tokens, "train_tokens_per_second": self.tokens / self.seconds,
                  "train_model_flops": self.flops, "train_model_tflops_per_second": achieved / 1e12}
        if self.peak_tflops:
            result["train_peak_tflops"] = self.peak_tflops
            result["train_mfu"] = achieved / (self.peak_tflops * 1e12)
        return result


def install_throughput(trainer, peak_tflops: float | None = None) -> ThroughputCallback:
    """Count `trainer`'s FLOPs with the model's accounting and add the throughput callback (returned).
    `peak_tflops` None: the known peak of the CUDA device in 16-bit precision, if any."""
    if peak_tflops is not None and peak_tflops <= 0:
        raise ValueError(f"peak_tflops={peak_tflops!r} must be > 0 (the accelerator's peak TFLOP/s)")
    if peak_tflops is None and (trainer.args.bf16 or trainer.args.fp16):
        peak_tflops = known_peak_tflops()
    callback = ThroughputCallback(trainer.model, peak_tflops)
    trainer.floating_point_ops = callback.floating_point_ops
    trainer.add_callback(callback)
    return callback
