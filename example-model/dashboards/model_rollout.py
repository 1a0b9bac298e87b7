"""The example model's rollout dashboard, built with grafana-foundation-sdk.

    python example-model/dashboards/model_rollout.py [OUT.json]

writes model-rollout.json beside this file (or OUT.json): canary vs stable traffic, error
rate, latency quantiles and score distribution from the serving app's own metrics
(serving/ctr_serving/metrics.py, the names modelrail.yaml's analysis queries), then the
canary's verdicts and the monitor's drift as `modelrail canary run` and `modelrail monitor`
write them (--openmetrics, --pushgateway; docs/openmetrics.md). Import it in Grafana
(Dashboards > New > Import) and pick a Prometheus data source.
"""

import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, heatmap, prometheus, stat, table
from grafana_foundation_sdk.builders import timeseries as ts
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMapping,
    ValueMappingResult,
    VariableOption,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

OUTPUT = Path(__file__).with_name("model-rollout.json")
UID = "modelrail-model-rollout"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
# The selector of every serving query: one model, every version (canary and stable).
SERVED = 'model="$model"'
RATE = "[$__rate_interval]"
# The numbers `modelrail canary run` and `modelrail monitor` give verdicts and severities.
VERDICTS = {"1": ("pass", "green"), "0": ("inconclusive", "yellow"), "-1": ("fail", "red"),
            "-2": ("error", "purple")}
SEVERITIES = {"0": ("none", "green"), "1": ("minor", "orange"), "2": ("major", "red")}


def query(expr: str, legend: str = "", ref: str = "A") -> prometheus.Dataquery:
    target = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    return target.legend_format(legend) if legend else target


def thresholds(*steps: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
        [Threshold(value=value, color=color) for value, color in steps])


def value_map(names: dict[str, tuple[str, str]]) -> list[ValueMapping]:
    return [ValueMap(options={value: ValueMappingResult(text=text, color=color, index=i)
                              for i, (value, (text, color)) in enumerate(names.items())})]


def by_version(title: str, unit: str, *targets: prometheus.Dataquery) -> ts.Panel:
    panel = ts.Panel().title(title).unit(unit).span(12).height(8).datasource(DATASOURCE)
    for target in targets:
        panel = panel.with_target(target)
    return panel


def traffic_panels() -> list[ts.Panel | heatmap.Panel]:
    requests = f"sum by (version) (rate(modelrail_requests_total{{{SERVED}}}{RATE}))"
    errors = (f'sum by (version) (rate(modelrail_requests_total{{{SERVED},code=~"5.."}}{RATE}))'
              f" / {requests}")
    latency = ("sum by (version, le) "
               f"(rate(modelrail_request_duration_seconds_bucket{{{SERVED}}}{RATE}))")
    scores = f"sum by (version, le) (rate(modelrail_prediction_score_bucket{{{SERVED}}}{RATE}))"
    return [
        by_version("Requests per second: canary vs stable (by version)", "reqps",
                   query(requests, "v{{version}}")),
        by_version("Error rate (5xx share) by version", "percentunit",
                   query(errors, "v{{version}}")),
        by_version("Latency p50 / p90 / p99 by version", "s",
                   *(query(f"histogram_quantile({q}, {latency})", f"v{{{{version}}}} p{p}", ref)
                     for ref, (q, p) in zip("ABC", ((0.5, 50), (0.9, 90), (0.99, 99)),
                                            strict=True))),
        by_version("Prediction score p50 / p90 by version", "percentunit",
                   *(query(f"histogram_quantile({q}, {scores})", f"v{{{{version}}}} p{p}", ref)
                     for ref, (q, p) in zip("AB", ((0.5, 50), (0.9, 90)), strict=True))),
        heatmap.Panel().title("Prediction score distribution (all versions)").span(24)
        .height(8).datasource(DATASOURCE).calculate(False).with_target(
            query(f"sum by (le) (increase(modelrail_prediction_score_bucket{{{SERVED}}}{RATE}))",
                  "{{le}}").format(PromQueryFormat.HEATMAP)),
    ]


def verdict_panels() -> list[ts.Panel | table.Panel]:
    of_model = 'model="$model"'
    return [
        ts.Panel().title("Canary step verdicts (1 pass, 0 inconclusive, -1 fail, -2 error)")
        .span(12).height(8).datasource(DATASOURCE).min(-2).max(1).mappings(value_map(VERDICTS))
        .with_target(query(f"modelrail_canary_step_verdict{{{of_model}}}",
                           "v{{version}} step {{step}} ({{weight}}%)")),
        table.Panel().title("Canary verdict per metric and look").span(12).height(8)
        .datasource(DATASOURCE).mappings(value_map(VERDICTS)).with_target(
            query("max by (version, baseline, step, weight, metric, verdict) "
                  f"(modelrail_canary_verdict{{{of_model}}})").instant()
            .format(PromQueryFormat.TABLE)),
        ts.Panel().title("Canary vs baseline: the values the judge saw").span(12).height(8)
        .datasource(DATASOURCE).with_target(query(
            f'modelrail_canary_value{{{of_model},stat=~"rate|value|mean|p[0-9.]+"}}',
            "{{metric}} {{side}} {{stat}} (step {{step}})")),
        ts.Panel().title("p-value vs alpha of each compare metric").span(12).height(8)
        .datasource(DATASOURCE).with_target(query(
            f"modelrail_canary_p_value{{{of_model}}}", "{{metric}} p-value (step {{step}})"))
        .with_target(query(f"modelrail_canary_alpha{{{of_model}}}",
                           "{{metric}} alpha (step {{step}})", "B")),
    ]


def drift_panels() -> list[ts.Panel | stat.Panel]:
    of_model = 'model="$model"'
    return [
        stat.Panel().title("Monitor: worst drift severity").span(6).height(8)
        .datasource(DATASOURCE).mappings(value_map(SEVERITIES))
        .thresholds(thresholds((None, "green"), (1, "orange"), (2, "red")))
        .with_target(query(f"max(modelrail_monitor_severity{{{of_model}}})")),
        ts.Panel().title("Monitor: PSI per feature (minor 0.1, major 0.25)").span(18)
        .height(8).datasource(DATASOURCE)
        .thresholds(thresholds((None, "green"), (0.1, "orange"), (0.25, "red")))
        .with_target(query(f"max by (feature) (modelrail_monitor_psi{{{of_model}}})",
                           "{{feature}}")),
    ]


def build() -> dashboard.Dashboard:
    board = (
        dashboard.Dashboard("Model rollout: ctr-ranker canary, verdicts and drift")
        .uid(UID).tags(["modelrail", "canary", "mlops"]).refresh("30s").time("now-6h", "now")
        .tooltip(DashboardCursorSync.CROSSHAIR).readonly()
        .with_variable(dashboard.DatasourceVariable("datasource").label("Prometheus")
                       .type("prometheus"))
        .with_variable(dashboard.QueryVariable("model").label("Model")
                       .datasource(DATASOURCE).query("label_values(modelrail_model_info, model)")
                       .current(VariableOption(text="ctr-ranker", value="ctr-ranker",
                                               selected=True)))
    )
    rows = (("Serving: canary vs stable", traffic_panels()),
            ("Canary verdicts (modelrail canary run)", verdict_panels()),
            ("Drift (modelrail monitor)", drift_panels()))
    ids = iter(range(1, 100))  # Grafana links and repeats panels by id: one each
    for title, panels in rows:
        board = board.with_row(dashboard.Row(title).id(next(ids)))
        for panel in panels:
            board = board.with_panel(panel.id(next(ids)))
    return board


def render() -> str:
    """The dashboard as Grafana's JSON model, keys sorted so a rebuild diffs cleanly."""
    return json.dumps(build().build(), cls=JSONEncoder, sort_keys=True, indent=2) + "\n"


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else OUTPUT
    out.write_text(render(), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
