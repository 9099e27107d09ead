"""Helpers the plot modules share: α labels, labelled vertical lines, a colour per series."""

from __future__ import annotations

import plotly.graph_objects as go

__all__ = ["alpha_label"]


def alpha_label(a: float) -> str:
    """Compact label for an L1 coefficient, two significant digits, no "e+02": 0.0316 → '0.032', 316 → '320',
    100 → '100'; below 10⁻³ a power of ten, 3.16e-5 → '3.2·10⁻⁵'."""
    s = f"{a:.2g}"
    if "e" not in s:
        return s
    if a == 0 or abs(a) >= 1e-3:  # 2 significant digits of a large number: 320, 1000, 32000
        return f"{float(s):.0f}"
    mantissa, exponent = s.split("e")
    power = str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{mantissa}·10{power}"


def _vline(fig: go.Figure, x: float, text: str, log_x: bool, colour: str = "grey", dash: str = "dash",
           row: int | None = None, col: int | None = None) -> None:
    """A vertical line at x with its label at the top. On a log axis a shape takes the value x but an annotation takes
    log10(x) (plotly's convention), so the label is placed by hand instead of through add_vline's annotation_text."""
    import math

    where = {} if row is None else dict(row=row, col=col)
    fig.add_vline(x=x, line=dict(dash=dash, color=colour), **where)
    fig.add_annotation(x=math.log10(x) if log_x else x, y=1, yref="y domain", text=text, showarrow=False,
                       yanchor="bottom", font=dict(color=colour), **where)


def _colour(i: int, n: int) -> str:
    from plotly.colors import sample_colorscale

    return sample_colorscale("Viridis", [0.9 * i / max(1, n - 1)])[0]


# ---------------------------------------------------------------------------------------------------- 06: recipes
