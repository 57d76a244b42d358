"""Longer fuzzing of the RDB decoder than the test suite's few seconds.

Mutates corpus files and hand-built files with every RDB 13-15 record (tests/rdb15_builder.py: arrays,
hash templates, streams v4/v5, key metadata, GCRA) with bit flips, interesting bytes, cuts, splices and
duplicated runs, and feeds each mutant through ``read_rdb`` whole and in random chunkings, on one thread
and on two (every run of keys handed to the segment decoders). Any exception that is not an ``RdbError``,
an error without a byte offset, a case taking longer than ``--case-timeout`` seconds, two threads
delivering other batches or another error than one, or a case growing the peak RSS by more than
``--max-rss-mib`` (decompression bombs: the seeds include small ones) is a finding:
the input is written to benchmarks/out/fuzz/ for replay. A segfault kills the process; rerun with
the printed seed and ``--verbose`` to find the input.

    python benchmarks/fuzz_decode.py [--seconds 300] [--seed N] [--case-timeout 5] [--max-rss-mib 64]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from rdb_helpers import chunked, fuzz_seeds, mutate  # noqa: E402

import insightkit  # noqa: E402
from insightkit.errors import RdbError, RdbVersionError  # noqa: E402
from insightkit.rdb import reader as reader_module  # noqa: E402

# every run of keys, however short, goes to the segment decoders when threads=2
reader_module.SCAN_MIN_BYTES = 1
reader_module.SEGMENT_MIN_KEYS = 1

OUT = Path(__file__).resolve().parent / "out" / "fuzz"


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout


def _save(data: bytes, reason: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{hashlib.sha1(data).hexdigest()[:16]}.rdb"
    path.write_bytes(data)
    print(f"FINDING {reason}: {path}", flush=True)
    return path


def _outcome(source: object, **options: object) -> tuple[list[list[dict[str, object]]], object]:
    """The batches delivered (as rows) and how the decode ended: None, or the RdbError's particulars."""
    batches: list[list[dict[str, object]]] = []
    try:
        for batch in insightkit.read_rdb(source, **options):  # type: ignore[arg-type]
            batches.append(batch.to_pylist())
    except RdbError as exc:
        if exc.offset is None and not isinstance(exc, RdbVersionError):
            raise AssertionError(f"error without offset: {exc!r}") from None
        return batches, (type(exc).__name__, str(exc), exc.offset, exc.key)
    return batches, None


def run_case(data: bytes, rng: random.Random, case_timeout: int, max_rss_mib: int) -> str | None:
    """None when the decoder behaved (rows or an RdbError with an offset, the same on one and two
    threads, in bounded memory), else what went wrong."""
    source: object = data
    if rng.random() < 0.5:
        source = chunked(data, [rng.randint(1, 512) for _ in range(8)])
    options = {"verify_checksum": rng.random() < 0.3, "batch_size": rng.choice([1, 7, 4096])}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    signal.alarm(case_timeout)
    try:
        one = _outcome(data, threads=1, **options)
        two = _outcome(source, threads=2, **options)
    except _Timeout:
        return f"no result within {case_timeout}s"
    except AssertionError as exc:
        return str(exc)
    except Exception as exc:
        return f"unexpected {type(exc).__name__}: {exc}"
    finally:
        signal.alarm(0)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024
    if grown > max_rss_mib:
        return f"peak RSS grew {grown} MiB decoding {len(data)} bytes"
    if one != two:
        return f"two threads: {two[1]!r} after {len(two[0])} batches, one: {one[1]!r} after {len(one[0])}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--case-timeout", type=int, default=5)
    parser.add_argument("--max-rss-mib", type=int, default=64)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    rng = random.Random(args.seed)
    seeds = fuzz_seeds()
    print(f"seed {args.seed}: {len(seeds)} corpus seeds, {args.seconds:.0f} s", flush=True)
    deadline = time.monotonic() + args.seconds
    cases = findings = 0
    while time.monotonic() < deadline:
        data = rng.choice(seeds)
        for _ in range(rng.choice([1, 1, 2, 3, 5])):
            data = mutate(data, rng)
        if args.verbose:
            print(f"case {cases}: {len(data)} bytes {hashlib.sha1(data).hexdigest()[:16]}", flush=True)
        problem = run_case(data, rng, args.case_timeout, args.max_rss_mib)
        if problem is not None:
            findings += 1
            _save(data, problem)
        cases += 1
    print(f"{cases:,} cases, {findings} findings", flush=True)
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
