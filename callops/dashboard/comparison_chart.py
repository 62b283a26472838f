"""Geometry of the Comparison page's chart: calls per bucket, stacked by group (the busiest
CHART_GROUPS groups, the rest as "Other"). The template draws it as SVG; colours come from CSS
classes, so no style or markup is built here."""

from callops.analytics.comparison import CHART_GROUPS, Comparison

from .charts import Bar, nice_max, y_ticks


def stacked(result: Comparison, width=720, height=240, pad_left=44, pad_bottom=26, pad_top=8):
    names = [g.name for g in result.groups[:CHART_GROUPS]]
    has_other = len(result.groups) > CHART_GROUPS
    legend = [(f"g{i}", name) for i, name in enumerate(names)] + ([("other", "Other")] if has_other else [])
    tz = result.period.tz
    hourly = result.period.interval == "hour"
    top = nice_max(max((b.calls for b in result.buckets), default=0))
    plot_h = height - pad_bottom - pad_top
    plot_w = width - pad_left - 8
    slot = plot_w / max(len(result.buckets), 1)
    bar_w = max(1.0, min(40, slot * 0.7))
    # At most about 12 labels along the axis, whatever the number of bars.
    every = max(1, round(len(result.buckets) / 12))
    bars, labels = [], []
    for i, b in enumerate(result.buckets):
        local = b.start.astimezone(tz)
        when = f"{local:%b %d %H:%M}" if hourly else f"{local:%a %b %d}"
        x = pad_left + i * slot + (slot - bar_w) / 2
        y = pad_top + plot_h
        parts = list(enumerate(b.by_group[:CHART_GROUPS]))
        if has_other:
            parts.append((-1, sum(b.by_group[CHART_GROUPS:])))
        for index, n in parts:
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            series, name = ("other", "Other") if index < 0 else (f"g{index}", names[index])
            bars.append(Bar(round(x, 1), round(y, 1), round(bar_w, 1), round(h, 1), series,
                            f"{when}: {n} {'call' if n == 1 else 'calls'} on {name}", n))
        if i % every == 0:
            labels.append({"x": round(x + bar_w / 2, 1), "y": height - 8,
                           "text": f"{local:%H:%M}" if hourly else f"{local:%b %d}"})
    return {"width": width, "height": height, "bars": bars, "labels": labels, "ticks": y_ticks(top, pad_top, plot_h),
            "x0": pad_left,
            "x1": width - 8, "legend": legend, "total": sum(b.calls for b in result.buckets)}
