"""Charts other than the network: plotly figures drawn with the one palette, in the page's language
(numbers as the locale writes them once the chart's config carries plotly's locale, see
:func:`carto.render.netview.plotly_config`)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go


def yearly_figure(chart: pd.DataFrame, colours: list[str], *, year_label: str) -> go.Figure:
    """Stacked bars per year: ``chart`` is ``year`` then one column per series (see
    :func:`carto.render.summary_text.per_year_chart`), ``colours`` one per series."""
    fig = go.Figure()
    years = chart["year"].astype(int).to_numpy()
    for column, colour in zip(chart.columns[1:], colours, strict=True):
        fig.add_trace(
            go.Bar(
                x=years,
                y=chart[column].to_numpy(),
                name=str(column),
                marker={"color": colour},
                hovertemplate="%{x} · %{y:,}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        height=360,
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
        legend={"orientation": "h", "y": -0.2},
        xaxis={"title": {"text": year_label}, "dtick": 1, "tickformat": "d"},
        yaxis={"tickformat": ",d"},
    )
    return fig
