"""The forecasting family (a series, e.g. the airline passengers): the model maps a window of scaled values
(B, window, 1) to the next ``horizon`` values (B, horizon); the forecast of the holdout is scored by RMSE, MAE,
MAPE and MASE (m = the season's length) against naive and seasonal-naive forecasts and the reference model."""
from __future__ import annotations

import torch

from .. import metrics
from .compare import describe
from . import Context, Verdict, register, register_figure
from .trained import (GRADED, REFERENCE_TARGET, Family, baselines, family, graded_figure, scorable,
                      student_figures, student_run)


@family
class Forecasting(Family):
    name = "series"
    loss = "regression"
    # the forecast every model must beat; the seasonal naive is shown beside it (the shipped reference LSTM does
    # not beat it on the airline series, so points cannot start there)
    floors = {"mase": ("naive (last value)", False)}
    params = ("window", "horizon")
    output = "(B, horizon) forecasts"

    def build_args(self, data) -> tuple:
        return data.window, data.horizon

    def training_data(self, data) -> dict:
        return {"x": data.X, "y": data.Y}

    def validation_rows(self, data, n: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The last ``k`` windows; the ``horizon`` − 1 windows before them are left out of training too, since the
        values they are trained to predict include the first validation window's targets."""
        return torch.arange(max(0, n - k - (data.horizon - 1))), torch.arange(n - k, n)

    def probe_inputs(self, data, n: int = 4) -> list:
        return [data.X[:n]]

    def expected_shape(self, data, inputs: list) -> tuple:
        return inputs[0].shape[0], data.horizon

    def test_outputs(self, p, model, data) -> dict:
        return {"forecast": p.op("predict", model, [data.forecast_input])}

    def extra_outputs(self, p, model, data, seed: int) -> dict:
        """Forecasts of 16 windows and of the same windows reversed and rescaled, for the uses-input check."""
        window = data.X[:16]
        return {"probe": {"a": p.op("predict", model, [window]),
                          "b": p.op("predict", model, [window.flip(1) * 0.5 + 0.25])}}

    def evaluate(self, data, out: dict) -> dict:
        forecast = scorable(out["forecast"], (1, data.horizon), "forecast").numpy()[0]
        values = data.scaler.inverse_transform(forecast)[: len(data.holdout)]
        return {**forecast_figures(data, values), "forecast": values.tolist()}

    def classical_baselines(self, data) -> dict:
        from .. import baselines as b

        steps = len(data.holdout)
        seasonal = b.SeasonalNaiveForecast(m=data.season_length).fit(data.train).predict(steps)
        return {"naive (last value)": forecast_figures(data, b.NaiveForecast().fit(data.train).predict(steps)),
                "seasonal naive": {**forecast_figures(data, seasonal), "forecast": [float(v) for v in seasonal]}}


def forecast_figures(data, values) -> dict:
    y, train = data.holdout, data.train
    return {"rmse": metrics.rmse(y, values), "mae": metrics.mae(y, values), "mape": metrics.mape(y, values),
            "smape": metrics.smape(y, values), "mase": metrics.mase(y, values, train, m=data.season_length)}


@register("series.mase", ["build_model"], "MASE on the holdout between the naive forecast and the target",
          prepare=baselines, **{**GRADED, "target": REFERENCE_TARGET})
def check_mase(ctx: Context) -> Verdict:
    verdict = graded_figure(ctx, "mase", "holdout MASE", fmt=".3f")
    figures = student_figures(ctx)
    verdict.message += f" (RMSE {figures['rmse']:.1f}, MAPE {figures['mape']:.1f}%)"
    verdict.numbers.update({k: figures[k] for k in ("rmse", "mae", "mape", "smape")})
    return verdict


@register("series.uses_input", ["build_model"], "the forecast changes when the input window changes",
          prepare=baselines, atol=1e-6)
def check_uses_input(ctx: Context) -> Verdict:
    probe = student_run(ctx)["out"]["probe"]
    a, b = probe["a"], probe["b"]
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape):
        return Verdict(False, f"the forecasts of two batches of windows were {describe(a)} and {describe(b)}")
    change = float((a - b).abs().max())
    if change <= ctx.options["atol"]:
        return Verdict(False, "the forecast is the same whatever the input window: the model ignores its input",
                       "forecast from x: run the recurrent layer over the window and map its last state to the horizon",
                       {"max_change": change})
    return Verdict(True, f"the forecast depends on the input window (max change {change:.3g})",
                   numbers={"max_change": change})


@register_figure("series.forecast", ["build_model"], "Forecast against the actual series, holdout shaded")
def forecast_plot(ctx: Context) -> dict:
    data = ctx.data
    n_train = len(data.train)
    start = max(0, n_train - 48)
    months = data.months[start:]
    pad = [None] * (n_train - start)
    base = baselines(ctx)
    series = [{"label": "actual", "who": "actual", "values": [float(v) for v in data.values[start:]]},
              {"label": "yours", "who": "student", "values": pad + student_figures(ctx)["forecast"]},
              {"label": "reference model", "who": "reference", "values": pad + base["reference"]["forecast"]}]
    seasonal = base["classical"]["seasonal naive"]["forecast"]
    series.append({"label": "seasonal naive", "who": "baseline", "values": pad + seasonal})
    return {"kind": "lines", "x_labels": months, "x_label": "month", "y_label": "value", "log_y": False,
            "shade": {"from": n_train - start, "to": len(months) - 1, "label": "holdout"}, "series": series}
