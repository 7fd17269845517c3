"""Training and held-out evaluation of the classifier (``python -m bot nlu ...``).

Needs scikit-learn (the ``nlu`` extra, also in ``test``); the bot itself only
reads the weights it writes (dialogs.nlu.model), with numpy.

Held-out figures leave a whole writer out at a time (each corpus file is one
writer's brief): a model is judged on voices it has not seen, which is what the
next child will be. The thresholds are chosen on those out-of-writer
probabilities, never on the training fit.
"""

from __future__ import annotations

import hashlib
from itertools import chain
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dialogs.nlu.corpus import BRANCHES, CORPUS_DIR, ROLES, URGENT_CATEGORIES, Example, dedupe, load_dir
from dialogs.nlu.features import FAMILIES, features
from dialogs.nlu.model import MODEL_DIR, Head, save
from dialogs.nlu.text import analyse

SEED = 20261206
#: Inverse regularisation per head, chosen by held-out figures (docs/triage.md).
C = {"urgency": 64.0, "category": 16.0, "about": 16.0, "branch": 16.0, "role": 16.0}
#: A feature seen in fewer messages is left out: half the vocabulary, no held-out loss.
MIN_DF = 4
#: Rows are scaled by 1/sqrt(n + SMOOTH) for n known features: a short message
#: ("明日友達の家に行く") is not read as loudly as a long one saying the same words,
#: so a few plan-like words alone do not make an alarm (see model.columns).
SMOOTH = 0.0
#: Weights closer to zero than this are not stored (no held-out loss either).
PRUNE = 0.05
#: Held-out recall the thresholds are set for: urgent where the model alone
#: catches this share of out-of-writer urgent messages; uncertain (the 24-hour
#: number and a caring question) down to the lower one.
TARGET_RECALL = {"urgent": 0.965, "uncertain": 0.995}


def corpus_digest(examples: Sequence[Example]) -> str:
    h = hashlib.sha256()
    for e in examples:
        h.update(f"{e.text}\t{e.urgency}\t{e.category}\t{e.about}\t{e.branch}\t{e.writer}\n".encode())
    return h.hexdigest()


def feature_lists(examples: Sequence[Example], family: str) -> list[list[str]]:
    return [features(analyse(e.text), family) for e in examples]


def vocabulary(feats: Sequence[list[str]], min_df: int = MIN_DF) -> list[str]:
    return _vocabulary_and_matrix(feats, min_df)[0]


def matrix(feats: Sequence[list[str]], vocab: Sequence[str]) -> Any:
    """Binary features, each row scaled to unit length (as Model.columns reads them)."""
    get = {f: i for i, f in enumerate(vocab)}.get
    flat = np.fromiter((get(f, -1) for f in chain.from_iterable(feats)), dtype=np.int64)
    return _scaled(flat, [len(fs) for fs in feats], len(vocab))


def _vocabulary_and_matrix(feats: Sequence[list[str]], min_df: int = MIN_DF) -> tuple[list[str], Any]:
    """The features seen in at least ``min_df`` messages, sorted, and the matrix
    over them, from one pass of dictionary lookups over the rows: a pass costs
    about 6 of a retrain's seconds here, and counting and indexing took one each."""
    ids: dict[str, int] = {}
    seen = ids.setdefault
    flat = np.fromiter((seen(f, len(ids)) for f in chain.from_iterable(feats)), dtype=np.int64)
    lengths = [len(fs) for fs in feats]
    df = np.diff(_scaled(flat, lengths, len(ids)).tocsc().indptr)  # messages per feature
    names = list(ids)
    vocab = sorted(names[i] for i in np.flatnonzero(df >= min_df))
    column = np.full(len(ids) + 1, -1, dtype=np.int64)  # the last one is -1's: unknown stays unknown
    column[[ids[f] for f in vocab]] = np.arange(len(vocab))
    return vocab, _scaled(column[flat], lengths, len(vocab))


def _scaled(flat: Any, lengths: Sequence[int], width: int) -> Any:
    """Rows of ``lengths`` column numbers each (-1: not a column), as binary rows
    scaled by 1/sqrt(n + SMOOTH). Building coordinate lists row by row in Python
    took 13 of a retrain's 70 seconds; this is scipy's work."""
    from scipy.sparse import csr_matrix

    row = np.repeat(np.arange(len(lengths)), lengths)
    known = flat >= 0
    x = csr_matrix((np.ones(int(known.sum())), (row[known], flat[known])),
                   shape=(len(lengths), width), dtype=np.float64)
    x.sum_duplicates()
    x.data[:] = 1.0  # a feature said twice is still one feature
    counts = np.diff(x.indptr).astype(np.float64)
    scale = np.divide(1.0, np.sqrt(counts + SMOOTH), out=np.zeros_like(counts), where=counts > 0)
    x.data *= np.repeat(scale, np.diff(x.indptr))
    return x


def _targets(examples: Sequence[Example]) -> dict[str, tuple[np.ndarray, np.ndarray, tuple[str, ...]]]:
    """For each head: which rows it learns from, their labels, its classes."""
    urgent = np.array([e.urgent for e in examples])

    def teaching(head: str) -> np.ndarray:
        return np.array([e.teaches(head) for e in examples])

    return {
        "urgency": (teaching("urgency"), urgent.astype(int), ("urgent",)),
        "category": (urgent & teaching("category"),
                     np.array([URGENT_CATEGORIES.index(e.category) if e.urgent else -1 for e in examples]),
                     URGENT_CATEGORIES),
        "about": (teaching("about"), np.array([e.about == "other" for e in examples], dtype=int), ("other",)),
        "branch": (~urgent & teaching("branch"), np.array([BRANCHES.index(e.branch) for e in examples]), BRANCHES),
        "role": (teaching("role"), np.array([ROLES.index(e.role) for e in examples]), ROLES),
    }


@dataclass
class Fitted:
    vocab: list[str]
    weights: np.ndarray
    heads: list[Head]


def _binary(x: Any, y: np.ndarray, c: float, balanced: bool) -> tuple[np.ndarray, float]:
    """One L2 logistic regression, solved in the dual (liblinear): with far more
    features than messages that is seconds where lbfgs took minutes."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, solver="liblinear", dual=True, max_iter=5000, tol=1e-5,
                             random_state=SEED, class_weight="balanced" if balanced else None)
    clf.fit(x, y)
    return clf.coef_[0], float(clf.intercept_[0])


def fit(examples: Sequence[Example], family: str, feats: Sequence[list[str]] | None = None,
        c: dict[str, float] | None = None) -> Fitted:
    """Every head is one-vs-rest: a binary model per class (model.py reads them so)."""
    c = {**C, **(c or {})}
    feats = feats if feats is not None else feature_lists(examples, family)
    vocab, X = _vocabulary_and_matrix(feats)
    blocks, heads, start = [], [], 0
    for name, (rows, y, classes) in _targets(examples).items():
        x, y = X[rows], y[rows]
        if len(classes) == 1:
            pairs = [_binary(x, y, c[name], name == "urgency")]
        else:
            # A class absent from the rows keeps a column that is never chosen.
            pairs = [_binary(x, (y == k).astype(int), c[name], False) if (y == k).any() and (y != k).any()
                     else (np.zeros(X.shape[1]), -30.0) for k in range(len(classes))]
        coef = np.vstack([w for w, _ in pairs])
        blocks.append(coef.T)
        heads.append(Head(name, classes, start, start + len(pairs), tuple(b for _, b in pairs)))
        start += len(pairs)
    return Fitted(vocab, np.hstack(blocks), heads)


def predict(fitted: Fitted, feats: Sequence[list[str]]) -> dict[str, np.ndarray]:
    X = matrix(feats, fitted.vocab)
    z = X @ fitted.weights
    out = {}
    for h in fitted.heads:
        logits = z[:, h.start:h.stop] + np.asarray(h.intercept)
        p = 1.0 / (1.0 + np.exp(-logits))
        out[h.name] = p[:, 0] if h.stop - h.start == 1 else p / p.sum(axis=1, keepdims=True)
    return out


def out_of_writer(examples: Sequence[Example], family: str, c: dict[str, float] | None = None
                  ) -> dict[str, np.ndarray]:
    """Each example scored by a model trained without its writer's file."""
    from joblib import Parallel, delayed

    feats = feature_lists(examples, family)
    sources = sorted({e.source for e in examples})

    def one(source: str) -> tuple[list[int], dict[str, np.ndarray]]:
        test = [i for i, e in enumerate(examples) if e.source == source]
        train = [i for i, e in enumerate(examples) if e.source != source]
        fitted = fit([examples[i] for i in train], family, [feats[i] for i in train], c)
        return test, predict(fitted, [feats[i] for i in test])

    out: dict[str, np.ndarray] = {}
    for test, pred in Parallel(n_jobs=2)(delayed(one)(s) for s in sources):
        for name, p in pred.items():
            if name not in out:
                out[name] = np.zeros((len(examples),) + p.shape[1:])
            out[name][test] = p
    return out


def threshold_for_recall(p: np.ndarray, urgent: np.ndarray, recall: float) -> float:
    """The highest threshold that still catches ``recall`` of the urgent messages."""
    scores = np.sort(p[urgent])
    k = int(np.floor((1 - recall) * len(scores)))
    return float(scores[k]) if len(scores) else 0.5


@dataclass
class Figures:
    family: str
    recall: float
    false_alarms: float
    hard_negative_alarms: float
    uncertain_calm: float
    category_accuracy: float
    about_accuracy: float
    routing_accuracy: float
    thresholds: dict[str, float]
    per_writer: dict[str, tuple[float, float]]


def figures(examples: Sequence[Example], oof: dict[str, np.ndarray], family: str,
            thresholds: dict[str, float] | None = None) -> Figures:
    urgent = np.array([e.urgent for e in examples])
    hard = np.array([e.hard_negative for e in examples])
    p = oof["urgency"]
    th = thresholds or {
        "urgent": threshold_for_recall(p, urgent, TARGET_RECALL["urgent"]),
        "uncertain": threshold_for_recall(p, urgent, TARGET_RECALL["uncertain"]),
    }
    # As dialogs.assess joins them: the lexicon makes an uncertain reading urgent.
    from dialogs.triage import default_lexicon

    lexicon = default_lexicon()
    lex = np.array([lexicon.triage(e.text).urgent for e in examples])
    flagged = (p >= th["urgent"]) | (lex & (p >= th["uncertain"]))
    calm = ~urgent
    cat_true = np.array([URGENT_CATEGORIES.index(e.category) if e.urgent else -1 for e in examples])
    branch_true = np.array([BRANCHES.index(e.branch) for e in examples])
    about_true = np.array([e.about == "other" for e in examples])
    cat_rows = urgent & np.array([e.teaches("category") for e in examples])
    about_rows = urgent & np.array([e.teaches("about") for e in examples])
    branch_rows = calm & np.array([e.teaches("branch") for e in examples])
    per_writer = {}
    for source in sorted({e.source for e in examples}):
        m = np.array([e.source == source for e in examples])
        per_writer[source] = (float(flagged[m & urgent].mean()) if (m & urgent).any() else float("nan"),
                              float(flagged[m & calm].mean()) if (m & calm).any() else float("nan"))
    return Figures(
        family=family,
        recall=float(flagged[urgent].mean()),
        false_alarms=float(flagged[calm & ~hard].mean()),
        hard_negative_alarms=float(flagged[calm & hard].mean()) if (calm & hard).any() else 0.0,
        uncertain_calm=float(((p >= th["uncertain"]) & ~flagged)[calm].mean()),
        category_accuracy=float((oof["category"].argmax(axis=1)[cat_rows] == cat_true[cat_rows]).mean()),
        about_accuracy=float(((oof["about"] >= 0.5)[about_rows] == about_true[about_rows]).mean()),
        routing_accuracy=float((oof["branch"].argmax(axis=1)[branch_rows] == branch_true[branch_rows]).mean()),
        thresholds=th,
        per_writer=per_writer,
    )


def train(corpus_dir: Path = CORPUS_DIR, model_dir: Path = MODEL_DIR, family: str = "wide",
          held_out: bool = True) -> tuple[Fitted, Figures | None]:
    """Fit on the whole corpus and write the model; thresholds from out-of-writer scores."""
    examples = dedupe(load_dir(corpus_dir))
    figs = None
    if held_out:
        figs = figures(examples, out_of_writer(examples, family), family)
        thresholds = figs.thresholds
    else:
        thresholds = {"urgent": 0.5, "uncertain": 0.25}
    fitted = fit(examples, family)
    meta = {
        "seed": SEED,
        "min_df": MIN_DF,
        "prune": PRUNE,
        "target_recall": TARGET_RECALL,
        "c": C,
        "corpus_messages": len(examples),
        "corpus_sha256": corpus_digest(examples),
        "held_out": None if figs is None else {
            "recall": round(figs.recall, 4), "false_alarms": round(figs.false_alarms, 4),
            "hard_negative_alarms": round(figs.hard_negative_alarms, 4),
            "routing_accuracy": round(figs.routing_accuracy, 4),
        },
    }
    save(model_dir, family, fitted.vocab, fitted.weights, fitted.heads, thresholds, meta, prune=PRUNE)
    return fitted, figs


def compare(corpus_dir: Path = CORPUS_DIR, families: Sequence[str] = FAMILIES) -> list[Figures]:
    examples = dedupe(load_dir(corpus_dir))
    return [figures(examples, out_of_writer(examples, fam), fam) for fam in families]


def format_figures(rows: Sequence[Figures]) -> str:
    """The held-out table of docs/triage.md."""
    out = ["| family | urgent recall | false alarms (hard negatives apart) | hard-negative alarms "
           "| calm in the uncertain band | category | about | routing | thresholds |",
           "|---|---|---|---|---|---|---|---|---|"]
    for f in rows:
        out.append(f"| {f.family} | {f.recall:.1%} | {f.false_alarms:.1%} | {f.hard_negative_alarms:.1%} "
                   f"| {f.uncertain_calm:.1%} | {f.category_accuracy:.1%} | {f.about_accuracy:.1%} "
                   f"| {f.routing_accuracy:.1%} | urgent ≥ {f.thresholds['urgent']:.3f}, "
                   f"uncertain ≥ {f.thresholds['uncertain']:.3f} |")
    return "\n".join(out)
