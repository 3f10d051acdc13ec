"""Out-of-suite config sweep: seeded random configs for every variant, each refused naming a drawn field or built,
run (forward + backward, finite) and round-tripped exactly. See docs/reliability.md.

    HF_HUB_OFFLINE=1 python scripts/config_sweep.py --per-variant 400 --seed 0
"""

from __future__ import annotations

import argparse
import collections
import random
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from transformers.utils import logging  # noqa: E402

from tests.config_property import check_config, draw_random  # noqa: E402
from tests.variant_configs import TEST_VARIANTS  # noqa: E402


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-variant", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=int, default=60, help="seconds per config before it counts as a hang")
    # every variant with a test configuration: the RNN baseline has its own config fields (tests/encoder_decoder/test_rnn.py)
    parser.add_argument("--variants", nargs="*", default=sorted(TEST_VARIANTS), choices=sorted(TEST_VARIANTS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    signal.signal(signal.SIGALRM, _alarm)
    counts = collections.Counter()
    failures = []
    start = time.time()
    for variant in args.variants:
        rng = random.Random(f"{args.seed}-{variant}")
        for index in range(args.per_variant):
            overrides = draw_random(rng)
            signal.alarm(args.timeout)
            try:
                counts[check_config(variant, overrides, seed=index)] += 1
            except _Timeout:
                counts["hang"] += 1
                failures.append(f"{variant} {overrides}: no result within {args.timeout} s")
            except AssertionError as error:
                counts["failed"] += 1
                failures.append(str(error).splitlines()[0][:400])
            finally:
                signal.alarm(0)
        print(f"{variant}: {dict(counts)} after {time.time() - start:.0f} s", flush=True)
    for failure in failures:
        print("FAIL", failure)
    total = sum(counts.values())
    print(f"{total} configs ({len(args.variants)} variants, seed {args.seed}): {counts['ok']} built, ran finite and "
          f"round-tripped; {counts['refused']} refused naming a drawn field; {counts['failed']} failed; "
          f"{counts['hang']} hung; {time.time() - start:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
