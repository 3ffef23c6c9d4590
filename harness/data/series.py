"""Monthly series: the airline passengers data, a synthetic seasonal series, splits, scaling, windows.

Forecasts are multi-step from the end of the training part (METRICS.md): the last ``holdout``
months are never seen in training, and scaling uses statistics of the training part only.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

SCALINGS = ("minmax", "standard", "none")
SEASONALITIES = ("multiplicative", "additive")

# International airline passengers, monthly totals in thousands, 1949-01 … 1960-12
# (Box & Jenkins, Time Series Analysis, series G). tasks/forecasting/airline_passengers.csv holds
# the same figures; a test keeps the two equal.
AIRLINE_PASSENGERS = (
    112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118,
    115, 126, 141, 135, 125, 149, 170, 170, 158, 133, 114, 140,
    145, 150, 178, 163, 172, 178, 199, 199, 184, 162, 146, 166,
    171, 180, 193, 181, 183, 218, 230, 242, 209, 191, 172, 194,
    196, 196, 236, 235, 229, 243, 264, 272, 237, 211, 180, 201,
    204, 188, 235, 227, 234, 264, 302, 293, 259, 229, 203, 229,
    242, 233, 267, 269, 270, 315, 364, 347, 312, 274, 237, 278,
    284, 277, 317, 313, 318, 374, 413, 405, 355, 306, 271, 306,
    315, 301, 356, 348, 355, 422, 465, 467, 404, 347, 305, 336,
    340, 318, 362, 348, 363, 435, 491, 505, 404, 359, 310, 337,
    360, 342, 406, 396, 420, 472, 548, 559, 463, 407, 362, 405,
    417, 391, 419, 461, 472, 535, 622, 606, 508, 461, 390, 432,
)


@dataclass
class MonthlySeries:
    months: list[str]  # "YYYY-MM", consecutive
    values: np.ndarray  # (L,) float64


def month_range(start: str, length: int) -> list[str]:
    """``length`` consecutive months from ``start`` ("YYYY-MM")."""
    year, month = (int(p) for p in start.split("-")[:2])
    first = year * 12 + month - 1
    return [f"{(first + k) // 12:04d}-{(first + k) % 12 + 1:02d}" for k in range(length)]


def airline_passengers() -> MonthlySeries:
    return MonthlySeries(month_range("1949-01", 144), np.array(AIRLINE_PASSENGERS, dtype=np.float64))


@dataclass
class SyntheticSeries:
    series: MonthlySeries  # the noisy observations
    signal: np.ndarray  # (L,) the noise-free trend × season (or trend + season)
    sigma: float


def synthetic_seasonal(seed: int = 0, length: int = 144, start: str = "2000-01", level: float = 120.0,
                       slope: float = 2.0, amplitude: float = 0.2, sigma: float = 10.0,
                       seasonality: str = "multiplicative") -> SyntheticSeries:
    """y_t = s_t + e_t with e_t ~ N(0, sigma²) i.i.d. and a known signal s_t.

    multiplicative: s_t = (level + slope·t)·(1 + amplitude·sin(2π(t−3)/12)), peak in July;
    additive: s_t = level + slope·t + amplitude·level·sin(2π(t−3)/12).
    Since e_t is independent of the past, the best forecast of y_t at any horizon is s_t: its
    expected RMSE is sigma (one-step or multi-step alike). For a holdout the optimum reported is
    the RMSE (MAE, MAPE, …) of the noise-free s_t against the noisy observations, ≈ sigma.
    """
    if seasonality not in SEASONALITIES:
        raise ValueError(f"seasonality must be one of {SEASONALITIES}, not {seasonality!r}")
    t = np.arange(length, dtype=np.float64)
    trend = level + slope * t
    wave = np.sin(2 * np.pi * (t - 3) / 12)
    signal = trend * (1 + amplitude * wave) if seasonality == "multiplicative" else trend + amplitude * level * wave
    noise = np.random.default_rng(seed).normal(0.0, sigma, size=length)
    return SyntheticSeries(MonthlySeries(month_range(start, length), signal + noise), signal, float(sigma))


def split_holdout(values: np.ndarray, holdout: int) -> tuple[np.ndarray, np.ndarray]:
    """(training part, last ``holdout`` values)."""
    if not 0 < holdout < len(values):
        raise ValueError(f"holdout must be between 1 and {len(values) - 1}, not {holdout}")
    return values[:-holdout], values[-holdout:]


@dataclass
class Scaler:
    """Affine scaling fitted on the training part: ``scaled = (x − shift) / scale``.

    minmax: shift = min, scale = max − min (training part → [0, 1]); standard: shift = mean,
    scale = population std (ddof = 0, as scikit-learn's StandardScaler); none: 0 and 1.
    """

    kind: str
    shift: float
    scale: float

    @classmethod
    def fit(cls, train: np.ndarray, kind: str = "minmax") -> "Scaler":
        train = np.asarray(train, dtype=np.float64)
        if kind == "minmax":
            shift, scale = float(train.min()), float(train.max() - train.min())
        elif kind == "standard":
            shift, scale = float(train.mean()), float(train.std())
        elif kind == "none":
            shift, scale = 0.0, 1.0
        else:
            raise ValueError(f"scaling must be one of {SCALINGS}, not {kind!r}")
        return cls(kind, shift, scale if scale > 0 else 1.0)

    def transform(self, x):
        return (np.asarray(x, dtype=np.float64) - self.shift) / self.scale

    def inverse_transform(self, x):
        return np.asarray(x, dtype=np.float64) * self.scale + self.shift

    def to_dict(self) -> dict:
        return {"kind": self.kind, "shift": self.shift, "scale": self.scale}

    @classmethod
    def from_dict(cls, data: dict) -> "Scaler":
        return cls(data["kind"], float(data["shift"]), float(data["scale"]))


def series_windows(values: np.ndarray, window: int, horizon: int) -> tuple[Tensor, Tensor]:
    """Supervised pairs from one series: X (N, window, 1) and Y (N, horizon), float32.

    X[n] = values[n : n+window], Y[n] = values[n+window : n+window+horizon], in time order;
    N = len − window − horizon + 1 (0 when the series is too short).
    """
    if window < 1 or horizon < 1:
        raise ValueError(f"window and horizon must be >= 1, not {window}, {horizon}")
    values = np.asarray(values, dtype=np.float64)
    n = len(values) - window - horizon + 1
    if n <= 0:
        return torch.empty(0, window, 1), torch.empty(0, horizon)
    runs = np.lib.stride_tricks.sliding_window_view(values, window + horizon)[:n]
    X = torch.tensor(runs[:, :window, None], dtype=torch.float32)
    Y = torch.tensor(runs[:, window:], dtype=torch.float32)
    return X, Y


def recursive_forecast(predict: Callable[[np.ndarray], np.ndarray], history: np.ndarray, window: int,
                       steps: int) -> np.ndarray:
    """``steps`` values after ``history`` (scaled), from a model that maps (1, window, 1) → (1, horizon).

    When the horizon is shorter than ``steps``, predictions are fed back as inputs, a horizon at a
    time; with horizon ≥ steps this is one call.
    """
    values = list(np.asarray(history, dtype=np.float64)[-window:])
    out: list[float] = []
    while len(out) < steps:
        x = np.asarray(values[-window:], dtype=np.float32).reshape(1, window, 1)
        y = np.asarray(predict(x), dtype=np.float64).reshape(-1)
        out.extend(y.tolist())
        values.extend(y.tolist())
    return np.asarray(out[:steps])
