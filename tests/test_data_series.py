"""harness.data.series: the shipped airline figures, train-only scaling, windows, the synthetic series."""
import csv
from pathlib import Path

import numpy as np
import pytest

from harness import metrics
from harness.data import build_dataset as build_view
from harness.data.series import (AIRLINE_PASSENGERS, Scaler, airline_passengers, recursive_forecast,
                                 series_windows, split_holdout, synthetic_seasonal)


def build_dataset(table, spec_path, view="hidden"):
    """These tests look at every split as the instructor's side builds it: the hidden view."""
    return build_view(table, spec_path, view=view)

CSV = Path(__file__).resolve().parents[1] / "tasks" / "forecasting" / "airline_passengers.csv"


def test_shipped_csv_is_the_box_jenkins_series():
    with open(CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["Month", "Passengers"]
    assert len(rows) == 144 and rows[0]["Month"] == "1949-01" and rows[-1]["Month"] == "1960-12"
    assert [float(r["Passengers"]) for r in rows] == list(map(float, AIRLINE_PASSENGERS))
    assert sum(AIRLINE_PASSENGERS) == 40363 and max(AIRLINE_PASSENGERS) == 622  # 1960-07


@pytest.mark.parametrize("holdout, model, rmse, mape, mase", [
    (24, "naive", 137.3, 23.6, 4.03),
    (24, "seasonal naive", 77.0, 15.5, 2.49),
    (12, "seasonal naive", 50.7, 10.0, 1.57),
])
def test_airline_reference_figures_of_metrics_md(holdout, model, rmse, mape, mase):
    train, test = split_holdout(airline_passengers().values, holdout)
    forecast = np.full(holdout, train[-1]) if model == "naive" else np.tile(train[-12:], holdout // 12)
    assert metrics.rmse(test, forecast) == pytest.approx(rmse, abs=0.1)
    assert metrics.mape(test, forecast) == pytest.approx(mape, abs=0.1)
    assert metrics.mase(test, forecast, train, m=12) == pytest.approx(mase, abs=0.01)


@pytest.mark.parametrize("kind", ["minmax", "standard", "none"])
def test_scaler_uses_training_part_only_and_inverts(kind):
    train, holdout = split_holdout(airline_passengers().values, 24)
    scaler = Scaler.fit(train, kind)
    scaled = scaler.transform(train)
    if kind == "minmax":
        assert scaled.min() == 0 and scaled.max() == 1
        assert scaler.transform(holdout).max() > 1  # 1960 exceeds the training maximum: no leak
    if kind == "standard":
        assert abs(scaled.mean()) < 1e-12 and scaled.std() == pytest.approx(1)
    assert np.allclose(scaler.inverse_transform(scaler.transform(holdout)), holdout)
    assert Scaler.from_dict(scaler.to_dict()) == scaler


def test_series_windows_pair_each_window_with_what_follows():
    X, Y = series_windows(np.arange(10.0), window=3, horizon=2)
    assert X.shape == (6, 3, 1) and Y.shape == (6, 2)
    assert X[0, :, 0].tolist() == [0, 1, 2] and Y[0].tolist() == [3, 4]
    assert X[-1, :, 0].tolist() == [5, 6, 7] and Y[-1].tolist() == [8, 9]
    assert series_windows(np.arange(4.0), 3, 2)[0].shape == (0, 3, 1)


def test_airline_dataset_defaults():
    data = build_dataset({"kind": "airline"}, Path("tasks/forecasting/task.toml"))
    assert (data.window, data.horizon, data.season_length) == (12, 24, 12)
    assert len(data.train) == 120 and len(data.holdout) == 24 and data.holdout_months[0] == "1959-01"
    assert data.X.shape == (85, 12, 1) and data.Y.shape == (85, 24)
    assert data.scaler.kind == "minmax" and data.scaler.shift == 104 and data.scaler.scale == 505 - 104
    last = data.scaler.inverse_transform(data.forecast_input.reshape(-1).double().numpy())
    assert np.allclose(last, data.train[-12:], atol=1e-3)
    assert data.optimum == {}  # real data: the optimum is unknown


def test_recursive_forecast_rolls_a_short_horizon_forward():
    history = np.arange(12.0)
    step = lambda x: x[:, -1, :] + 1  # noqa: E731 - a perfect one-step model of a ramp
    assert recursive_forecast(step, history, window=4, steps=5).tolist() == [12, 13, 14, 15, 16]


def test_synthetic_series_is_seeded_and_its_optimum_is_the_noise():
    a, b, c = synthetic_seasonal(1), synthetic_seasonal(1), synthetic_seasonal(2)
    assert np.array_equal(a.series.values, b.series.values)
    assert not np.array_equal(a.series.values, c.series.values)
    assert np.array_equal(a.signal, c.signal)  # the noise differs, the signal does not
    resid = a.series.values - a.signal
    assert resid.std() == pytest.approx(10.0, rel=0.2)
    data = build_dataset({"kind": "synthetic-series", "seed": 3, "sigma": 4.0,
                          "preprocessing": {"holdout": 24, "scaling": "standard"}}, Path("t/task.toml"))
    truth = synthetic_seasonal(3, sigma=4.0)
    assert data.optimum["rmse"] == pytest.approx(metrics.rmse(data.holdout, truth.signal[-24:]))
    assert data.optimum["sigma"] == 4.0 and 2.0 < data.optimum["rmse"] < 6.0
    # the seasonal-naive forecast is worse than the optimum
    naive = np.tile(data.train[-12:], 2)
    assert metrics.rmse(data.holdout, naive) > data.optimum["rmse"]


def test_additive_seasonality():
    s = synthetic_seasonal(0, sigma=0.0, seasonality="additive", amplitude=0.1, level=100, slope=0)
    assert s.series.values.max() == pytest.approx(110) and s.series.values.min() == pytest.approx(90)
