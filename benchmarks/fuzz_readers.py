"""A fixed-seed sweep of generated inputs through `read_ratings`: random bytes, truncated and
mutated valid files of every format, wrong .npy headers and arrays, odd Parquet tables.

Prints how many inputs were read, how many gave `Ratings`, how many a `DataError`, and every
other exception (there should be none), grouped by kind with one example each.

    .venv/bin/python benchmarks/fuzz_readers.py [--inputs 10000] [--seed 0] [--keep DIR]

``--keep DIR`` writes one input of each failure kind to DIR, to add to tests/data/corpus/.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzzing import check_input, failure_kind, random_input, valid_files  # noqa: E402

from clusterrec.errors import DataError  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="folder for one input of each failure kind")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(args.seed)
    valid = valid_files()
    outcomes: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    examples: dict[str, tuple[str, str, bytes]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for number in range(args.inputs):
            name, data, how = random_input(rng, valid)
            path = Path(folder) / name
            try:
                result = check_input(path, data)
            except Exception as error:  # noqa: BLE001 - counting exactly these
                kind = failure_kind(error)
                failures[kind] += 1
                examples.setdefault(kind, (f"{number:05d}-{name}", how, data))
                continue
            outcomes["DataError" if isinstance(result, DataError) else "Ratings"] += 1
    seconds = time.perf_counter() - started
    print(
        f"{args.inputs:,} inputs (seed {args.seed}) in {seconds:.1f} s: "
        f"{outcomes['Ratings']:,} read as Ratings, {outcomes['DataError']:,} DataError, "
        f"{sum(failures.values()):,} other exceptions ({len(failures)} kinds)"
    )
    for kind, count in failures.most_common():
        name, how, _ = examples[kind]
        print(f"  {count:6,}  {kind}\n          e.g. input {name} ({how})")
    if args.keep and examples:
        args.keep.mkdir(parents=True, exist_ok=True)
        for name, _, data in examples.values():
            (args.keep / name).write_bytes(data)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
