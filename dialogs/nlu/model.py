"""The learned classifier: linear heads over the features of one message.

The weights are plain text (``resources/nlu/weights.tsv``: a feature, then its
weight for every column) and ``resources/nlu/model.json`` says which columns
belong to which head, the intercepts, the thresholds and how the model was
trained. Nothing is unpickled: a reviewer can read what any word weighs, and
``python -m bot nlu train`` rebuilds both files from the corpus with a fixed
seed (a test holds the shipped files to a retrain).

Heads:

* ``urgency``: is someone in danger now? (a probability; the thresholds in
  model.json split it into urgent, uncertain and calm);
* ``category``: which kind of danger (suicide, grooming, abuse, sexual_images,
  threat, violence_by_writer);
* ``about``: the writer's own danger, or someone else's (a friend, a pupil, a child);
* ``branch``: which branch of the chart a calm message asks for;
* ``role``: who is writing (child, guardian, teacher, other).

Every head is one-vs-rest logistic regression: a class's probability is its
sigmoid, normalised over the head's classes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from dialogs.i18n import RESOURCES, default_cache_dir
from dialogs.nlu.features import features
from dialogs.nlu.text import Analysis, analyse

MODEL_DIR = RESOURCES / "nlu"
FORMAT = 1


class ModelError(ValueError):
    """The shipped model files are missing or inconsistent; the message says how to rebuild."""


@dataclass(frozen=True)
class Head:
    name: str
    classes: tuple[str, ...]
    start: int
    stop: int
    intercept: tuple[float, ...]

    @property
    def binary(self) -> bool:
        return self.stop - self.start == 1


@dataclass(frozen=True)
class Scores:
    """What the model reads in one message: a probability per class of each head."""

    urgency: float
    category: Mapping[str, float]
    about: float  # probability that the danger is someone else's
    branch: Mapping[str, float]
    role: Mapping[str, float]
    features_known: int

    def top(self, head: str) -> str:
        table = getattr(self, head)
        return max(table, key=table.__getitem__)


@dataclass(frozen=True)
class Model:
    family: str
    vocab: Mapping[str, int]
    weights: Any  # numpy array, features x columns
    heads: Mapping[str, Head]
    thresholds: Mapping[str, float]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def columns(self, feats: list[str]) -> tuple[Any, int]:
        idx = [i for f in feats if (i := self.vocab.get(f)) is not None]
        if not idx:
            return np.zeros(self.weights.shape[1], dtype=np.float64), 0
        z = self.weights[idx].sum(axis=0, dtype=np.float64) / math.sqrt(len(idx))
        return z, len(idx)

    def scores(self, analysis: Analysis) -> Scores:
        z, known = self.columns(features(analysis, self.family))
        out: dict[str, Any] = {}
        for name, head in self.heads.items():
            logits = z[head.start:head.stop] + np.asarray(head.intercept)
            p = 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))
            if head.binary:
                out[name] = float(p[0])
            else:
                # One-vs-rest heads: each class's probability, normalised.
                p = p / p.sum()
                out[name] = {c: float(v) for c, v in zip(head.classes, p)}
        return Scores(out["urgency"], out["category"], out["about"], out["branch"], out["role"], known)

    def read(self, text: str) -> Scores:
        return self.scores(analyse(text))


def save(model_dir: Path, family: str, vocab: list[str], weights: Any, heads: list[Head],
         thresholds: Mapping[str, float], meta: Mapping[str, Any], prune: float = 0.0) -> None:
    """Write model.json and weights.tsv: per feature, ``column:weight`` for each
    weight at least ``prune`` from zero, to 3 decimals; a feature with none is left out."""
    model_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for f, row in zip(vocab, weights):
        kept = [f"{j}:{v:.3f}" for j, v in enumerate(row) if abs(v) >= max(prune, 0.0005)]
        if kept:
            rows.append(f + "\t" + " ".join(kept))
    doc = {
        "format": FORMAT,
        "family": family,
        "features": len(rows),
        "columns": int(weights.shape[1]),
        "heads": {h.name: {"classes": list(h.classes), "columns": [h.start, h.stop],
                           "intercept": [round(float(v), 6) for v in h.intercept]} for h in heads},
        "thresholds": {k: round(float(v), 6) for k, v in thresholds.items()},
        **meta,
    }
    (model_dir / "model.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    with (model_dir / "weights.tsv").open("w", encoding="utf-8") as out:
        out.write("# feature<TAB>column:weight ... (columns as model.json's heads say; absent = 0)\n")
        out.write("\n".join(rows) + "\n")


def load(model_dir: Path = MODEL_DIR, cache_dir: Path | None = None) -> Model:
    """The model in ``model_dir``. Parsing weights.tsv costs a second of CPU; the
    parsed arrays are kept under ``cache_dir`` (dialogs.i18n's cache by default),
    named after the file's content, so the next process on this host (a worker
    joining under load, a test process) loads them in a few milliseconds."""
    meta_path, weights_path = model_dir / "model.json", model_dir / "weights.tsv"
    fix = "rebuild them with `python -m bot nlu train`"
    try:
        doc = json.loads(meta_path.read_text(encoding="utf-8"))
        raw = weights_path.read_bytes()
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{model_dir}: cannot read the NLU model ({exc}); {fix}") from None
    if doc.get("format") != FORMAT:
        raise ModelError(f"{meta_path}: format {doc.get('format')!r}, expected {FORMAT}; {fix}")
    columns = doc["columns"]
    # The shipped model, or any other when asked: a freshly trained one is read once.
    cached = _Cache(cache_dir or default_cache_dir(), raw) if cache_dir or model_dir == MODEL_DIR else None
    parsed = cached.read(columns) if cached else None
    if parsed is None:
        try:
            lines = raw.decode("utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise ModelError(f"{weights_path}: not UTF-8 ({exc}); {fix}") from None
        parsed = _parse_fast(lines[1:], columns)
        if parsed is None:
            parsed = _parse_checked(lines, columns, weights_path, fix)
        if cached:
            cached.write(*parsed)
    vocab, matrix = parsed
    if len(vocab) != doc["features"]:
        raise ModelError(f"{weights_path}: {len(vocab)} features, model.json says {doc['features']}; {fix}")
    heads = {
        name: Head(name, tuple(h["classes"]), h["columns"][0], h["columns"][1], tuple(h["intercept"]))
        for name, h in doc["heads"].items()
    }
    missing = {"urgency", "category", "about", "branch", "role"} - set(heads)
    if missing:
        raise ModelError(f"{meta_path}: heads {sorted(missing)} missing; {fix}")
    meta = {k: v for k, v in doc.items() if k not in ("heads", "thresholds")}
    return Model(doc["family"], vocab, matrix, heads, doc["thresholds"], meta)


class _Cache:
    """weights.tsv parsed, as two files named after its content: the matrix (.npy,
    no pickles) and the features (one per line). A missing or unreadable cache is
    parsed again and rewritten; it is never an error."""

    def __init__(self, root: Path, raw: bytes) -> None:
        digest = hashlib.blake2b(raw, digest_size=12).hexdigest()
        self.matrix = root / "nlu" / f"weights-{digest}.npy"
        self.features = self.matrix.with_suffix(".features")

    def read(self, columns: int) -> tuple[dict[str, int], Any] | None:
        try:
            matrix = np.load(self.matrix, allow_pickle=False)
            features = self.features.read_text(encoding="utf-8").split("\n")
        except (OSError, ValueError):
            return None
        if matrix.ndim != 2 or matrix.shape != (len(features), columns) or matrix.dtype != np.float32:
            return None
        return {f: i for i, f in enumerate(features)}, matrix

    def write(self, vocab: dict[str, int], matrix: Any) -> None:
        try:
            self.matrix.parent.mkdir(parents=True, exist_ok=True)
            # Atomic: a process starting meanwhile reads the whole file or none.
            tmp = self.matrix.with_name(f"{self.matrix.stem}.{os.getpid()}.tmp.npy")
            np.save(tmp, matrix, allow_pickle=False)
            tmp_features = self.features.with_suffix(f".{os.getpid()}.tmp")
            tmp_features.write_text("\n".join(vocab), encoding="utf-8")
            tmp_features.replace(self.features)
            tmp.replace(self.matrix)
        except OSError:
            pass  # read-only or full: the next process parses again


def _parse_fast(lines: list[str], columns: int) -> tuple[dict[str, int], Any] | None:
    """The weights in a few array operations instead of a loop over 3 million pairs
    (a worker starts in a second less): None when anything looks wrong, and the
    line-by-line parser then says what and where."""
    try:
        features, pairs = [], []
        for line in lines:
            feat, _, rest = line.rpartition("\t")
            features.append(feat)
            pairs.append(rest)
        counts = np.fromiter((p.count(":") for p in pairs), dtype=np.int64, count=len(pairs))
        text = " ".join(pairs).replace(":", " ")
        flat = np.array(text.split(), dtype=np.float64)
    except ValueError:
        return None
    if flat.size != 2 * int(counts.sum()) or not all(features) or len(set(features)) != len(features):
        return None
    index, values = flat[0::2], flat[1::2]
    if index.size and (index.min() < 0 or index.max() >= columns or not np.all(index == np.floor(index))):
        return None
    matrix = np.zeros((len(features), columns), dtype=np.float32)
    matrix[np.repeat(np.arange(len(features)), counts), index.astype(np.int64)] = values
    return {f: i for i, f in enumerate(features)}, matrix


def _parse_checked(lines: list[str], columns: int, weights_path: Path, fix: str) -> tuple[dict[str, int], Any]:
    vocab: dict[str, int] = {}
    rows: list[list[float]] = []
    for n, line in enumerate(lines[1:], 2):
        feat, _, pairs = line.rpartition("\t")
        row = [0.0] * columns
        try:
            for pair in pairs.split(" "):
                j, v = pair.split(":")
                row[int(j)] = float(v)
        except (ValueError, IndexError):
            raise ModelError(f"{weights_path}:{n}: expected feature<TAB>column:weight ... "
                             f"with columns below {columns}; {fix}") from None
        if not feat or feat in vocab:
            raise ModelError(f"{weights_path}:{n}: empty or repeated feature {feat!r}; {fix}")
        vocab[feat] = len(rows)
        rows.append(row)
    return vocab, np.asarray(rows, dtype=np.float32)


@lru_cache(maxsize=1)
def default_model(cache_dir: Path | None = None) -> Model:
    return load(MODEL_DIR, cache_dir)
