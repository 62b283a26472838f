"""Server-rendered SVG chart geometry (no chart library, no inline styles: colours come from
CSS classes on each rect)."""

from dataclasses import dataclass

from .overview_stats import CHART_SERIES


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    label: str
    value: int


def nice_max(n: int, ticks: int = 4) -> int:
    """The smallest 1/2/5×10^k step times `ticks` that covers n, so every tick is a round number."""
    step = 1
    while step * ticks < n:
        for factor in (2, 2.5, 2):  # 1 → 2 → 5 → 10 → 20 → 50 ...
            step = int(step * factor)
            if step * ticks >= n:
                break
    return step * ticks


def y_ticks(top: int, pad_top: float, plot_h: float) -> list[dict]:
    """Five grid lines from 0 to `top` (a nice_max), as y positions and values."""
    return [{"y": round(pad_top + plot_h - plot_h * k / 4, 1), "value": int(top * k / 4)} for k in range(5)]


def stacked_days(days, width=640, height=230, pad_left=40, pad_bottom=24, pad_top=8):
    """Geometry for a stacked bar per day: bars, y-axis ticks and x labels."""
    totals = [sum(v.values()) for _, v in days]
    top = nice_max(max(totals, default=0))
    plot_h = height - pad_bottom - pad_top
    plot_w = width - pad_left - 8
    slot = plot_w / max(len(days), 1)
    bar_w = min(48, slot * 0.6)
    bars, labels = [], []
    for i, (day, values) in enumerate(days):
        x = pad_left + i * slot + (slot - bar_w) / 2
        y = pad_top + plot_h
        for key, label, _ in CHART_SERIES:
            n = values.get(key, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            bars.append(Bar(round(x, 1), round(y, 1), round(bar_w, 1), round(h, 1), key,
                            f"{day:%a %b %d}: {n} {label.lower()}", n))
        labels.append({"x": round(x + bar_w / 2, 1), "y": height - 6, "text": f"{day:%a %d}",
                       "total": totals[i]})
    return {"width": width, "height": height, "bars": bars, "labels": labels, "ticks": y_ticks(top, pad_top, plot_h),
            "x0": pad_left, "x1": width - 8,
            "legend": [(key, label) for key, label, _ in CHART_SERIES]}
