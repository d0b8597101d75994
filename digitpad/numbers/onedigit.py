"""The "one digit" model: how likely a candidate is exactly one whole digit (not a fragment, not two digits).

A ten-class softmax is confident on a 4's first stroke ("1") and on two touching digits too; this small
network looks at what the classifier said *and* at the candidate's shape and neighbours (candidates.py)
and answers with one probability. It is a 2-layer perceptron small enough to keep as JSON (no pickle, no
torch needed to run it). Trained by benchmarks/train_onedigit.py on numbers composed from the pen digits of
training writers only; assets/MODEL_CARD.md tells how.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitpad.numbers.candidates import GEOMETRY_FEATURES
from trainer.errors import CheckpointError
from trainer.sizes import NUM_CLASSES

MODEL_NAME = "onedigit.json"
LOG_FLOOR = -20.0       # log-probabilities are clipped here: a softmax's 1e-30 says no more than 1e-9
FEATURES = (*GEOMETRY_FEATURES, "log_height", "log_height_sq", "log_p_top", "log_p_second", "entropy",
            *(f"log_p{d}" for d in range(NUM_CLASSES)))


def feature_matrix(geometry: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Candidates' geometry (candidate_features) and class probabilities -> the model's input columns."""
    logp = np.log(np.clip(probs.astype(np.float64), np.exp(LOG_FLOOR), 1.0))
    ranked = np.sort(logp, axis=1)
    entropy = -(np.exp(logp) * logp).sum(axis=1)
    log_h = np.log(np.maximum(geometry[:, GEOMETRY_FEATURES.index("height")], 0.05))
    return np.column_stack([geometry, log_h, log_h**2, ranked[:, -1], ranked[:, -2], entropy, logp])


@dataclass
class OneDigitModel:
    """Standardize, one hidden ReLU layer, a logit: P(one whole digit)."""

    mean: np.ndarray
    std: np.ndarray
    w1: np.ndarray          # (features, hidden)
    b1: np.ndarray
    w2: np.ndarray          # (hidden,)
    b2: float
    info: dict

    def log_probability(self, features: np.ndarray) -> np.ndarray:
        """(n, features) -> (n,) log P(one whole digit), computed stably."""
        hidden = np.maximum(((features - self.mean) / self.std) @ self.w1 + self.b1, 0.0)
        logit = hidden @ self.w2 + self.b2
        return -np.logaddexp(0.0, -logit)

    def to_json(self) -> dict:
        arrays = {k: getattr(self, k).tolist() for k in ("mean", "std", "w1", "b1", "w2")}
        return {"kind": "onedigit-mlp", "features": list(FEATURES), **arrays, "b2": float(self.b2), "info": self.info}

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        return path

    @classmethod
    def from_json(cls, doc: dict, source: str = "model") -> OneDigitModel:
        if doc.get("kind") != "onedigit-mlp" or tuple(doc.get("features", ())) != FEATURES:
            raise CheckpointError(f"{source}: not a 'one digit' model for these features")
        try:
            model = cls(*(np.asarray(doc[k], dtype=np.float64) for k in ("mean", "std", "w1", "b1", "w2")),
                        b2=float(doc["b2"]), info=dict(doc.get("info", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{source}: broken 'one digit' model ({type(exc).__name__})") from None
        if model.w1.shape != (len(FEATURES), len(model.b1)) or model.w2.shape != model.b1.shape:
            raise CheckpointError(f"{source}: 'one digit' model weights have the wrong shapes")
        return model


def bundled_onedigit_path() -> Path | None:
    """assets/onedigit.json (or its installed copy), None when absent."""
    from digitpad.recognizer import ASSET_DIRS

    for folder in ASSET_DIRS:
        if (folder / MODEL_NAME).is_file():
            return folder / MODEL_NAME
    return None


@functools.lru_cache(maxsize=4)
def load_onedigit(path: str | None = None) -> OneDigitModel | None:
    """The model at `path` (default: the bundled one); None when there is no bundled model."""
    resolved = Path(path) if path is not None else bundled_onedigit_path()
    if resolved is None:
        return None
    try:
        doc = json.loads(resolved.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{resolved}: cannot read the 'one digit' model ({type(exc).__name__})") from None
    return OneDigitModel.from_json(doc, str(resolved))
