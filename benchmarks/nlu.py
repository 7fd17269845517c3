"""What understanding one message costs (issue 11: p99 ≤ 2 ms on this 2-core machine).

Per message of the corpus and the earlier labelled sets: the classifier alone
(analysis with SudachiPy, features, the five heads) and the whole of crisis
triage as the worker runs it (dialogs.assess: classifier and lexicon). Each
message is timed ``repeat`` times in round-robin order, after one warm-up pass
(the dictionary is loaded once per worker process, at its first message).

``python -m benchmarks.nlu`` measures this alone and writes it into the last
run's figures (docs/performance.json) and page; the full ``python -m
benchmarks`` measures it with the rest.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from benchmarks.dialogue import _time_round_robin
from dialogs.assess import assess
from dialogs.nlu.corpus import dedupe, load_dir
from dialogs.nlu.model import default_model
from dialogs.triage import default_lexicon

ROOT = Path(__file__).resolve().parents[1]


def _pct(sorted_ns: Sequence[int], q: float) -> float:
    return round(sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000, 1)


def _summary(ns: list[int]) -> dict[str, float]:
    ns = sorted(ns)
    return {"median_us": round(statistics.median(ns) / 1000, 1), "p90_us": _pct(ns, 0.90),
            "p99_us": _pct(ns, 0.99), "max_us": round(ns[-1] / 1000, 1)}


def nlu_figures(repeat: int = 5, limit: int | None = None) -> dict[str, Any]:
    model, lexicon = default_model(), default_lexicon()
    texts = [e.text for e in dedupe(load_dir())][:limit]
    started = time.perf_counter()
    classifier = _time_round_robin([lambda t=t: model.read(t) for t in texts], repeat)
    whole = _time_round_robin([lambda t=t: assess(t, lexicon, model) for t in texts], repeat)
    by_length: dict[str, list[int]] = {}
    for t, samples in zip(texts, whole):
        bucket = "≤ 20 chars" if len(t) <= 20 else "21–80 chars" if len(t) <= 80 else "> 80 chars"
        by_length.setdefault(bucket, []).extend(samples)
    return {
        "messages": len(texts),
        "repeat": repeat,
        "seconds": round(time.perf_counter() - started, 1),
        "classifier": _summary([x for s in classifier for x in s]),
        "assess": _summary([x for s in whole for x in s]),
        "by_length": {k: _summary(v) for k, v in sorted(by_length.items())},
    }


def render(nlu: dict[str, Any]) -> list[str]:
    lines = [
        "## 6. Understanding a message (classifier and triage)",
        "",
        f"Per message over the {nlu['messages']:,} messages of the NLU corpus (resources/nlu/corpus), "
        f"each timed {nlu['repeat']} times after a warm-up pass, in one process on this machine "
        "(`python -m benchmarks.nlu`). The classifier: SudachiPy analysis, features, five heads. "
        "Triage: the classifier and the lexicon, as the worker runs it on every text message "
        "(never in the webhook). Target: p99 ≤ 2 ms.",
        "",
        "| | median µs | p90 µs | p99 µs | max µs |",
        "|---|---|---|---|---|",
    ]
    for name, key in (("classifier", "classifier"), ("triage (classifier + lexicon)", "assess")):
        f = nlu[key]
        lines.append(f"| {name} | {f['median_us']} | {f['p90_us']} | {f['p99_us']} | {f['max_us']} |")
    for bucket, f in nlu["by_length"].items():
        lines.append(f"| triage, {bucket} | {f['median_us']} | {f['p90_us']} | {f['p99_us']} | {f['max_us']} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    import argparse

    from benchmarks import report

    parser = argparse.ArgumentParser(prog="python -m benchmarks.nlu", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    nlu = nlu_figures(repeat=args.repeat)
    print("\n".join(render(nlu)))
    figures_path = args.out.with_suffix(".json")
    if figures_path.exists():
        figures = json.loads(figures_path.read_text(encoding="utf-8"))
        figures.setdefault("dialogue", {})["nlu"] = nlu
        report.write(figures, args.out)
        print(f"wrote {args.out} and {figures_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
