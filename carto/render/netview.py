"""Data → network figure (plotly). Pure: frames in, a ``plotly.graph_objects.Figure`` out.

Nodes are actors and places, edges are relations. Node traces carry the node id in
``customdata``, so a click, box or lasso selection comes back to Python as node ids. The force
layout is igraph's Fruchterman–Reingold from a seeded start (same data, same picture); the
geographic layout uses each node's longitude and latitude, as on the map.
"""

from __future__ import annotations

import html
import json
import random
import threading
from functools import cache

import igraph as ig
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from carto import i18n
from carto.formatting import format_number
from carto.model import ACTOR_TYPES, RELATION_KINDS
from carto.render.offline import STATIC_DIR
from carto.render.palette import (
    COMMUNITY_PALETTE,
    HIGHLIGHT_COLOUR,
    NO_COMMUNITY,
    PLACE_COLOUR,
    RELATION_COLOURS,
    TYPE_COLOURS,
    community_colour,
)


def plotly_text(text: str) -> str:
    """Data text for a plotly label or hover: plotly reads ``<b>``-like tags there, so ``<``, ``>``
    and ``&`` become the entities it shows as those characters."""
    return html.escape(text, quote=False)


# plotly.js's French words (mode bar, dates, decimal comma), vendored: see static/vendor/README.md.
PLOTLY_LOCALES = {"fr": STATIC_DIR / "vendor" / "plotly.js-locales-3.7.0" / "fr.json"}


@cache
def _plotly_locale(lang: str) -> dict[str, object]:
    data = json.loads(PLOTLY_LOCALES[lang].read_text(encoding="utf-8"))
    return {"dictionary": data["dictionary"], "format": data["format"]}


def plotly_config(lang: str) -> dict[str, object]:
    """A plotly chart's ``config`` for ``lang``: its mode bar, tooltips and numbers in that language.

    English is plotly's own; another language's dictionary goes in the config itself
    (``config.locales``), so the browser loads no script for it.
    """
    if lang not in PLOTLY_LOCALES:
        return {"locale": "en"}
    return {"locale": lang, "locales": {lang: _plotly_locale(lang)}}


LAYOUTS = ("force", "geo")
COLOUR_BY = ("type", "community")
SIZE_BY = ("degree", "weighted_degree", "betweenness", "closeness", "pagerank")

# Dashes in plotly's names; colours from the one palette, so a kind or a type looks the same as on the map.
KIND_DASH = {"partnership": "solid", "network": "dash", "referral": "dot", "affinity": "solid", "tension": "dashdot"}
_LAYOUT_LOCK = threading.Lock()
# plotly draws a legend item at most 16 px wide and the largest node is 24 px: the size key is drawn
# at 16/24 of the nodes' sizes, so its three circles keep their proportions.
LEGEND_SCALE = 16 / 24


def layout_positions(nodes: pd.DataFrame, edges: pd.DataFrame, *, layout: str = "force", seed: int = 0) -> pd.DataFrame:
    """``x``/``y`` of each node: force-directed (seeded) or geographic (lon/lat)."""
    if layout == "geo":
        return pd.DataFrame({"x": nodes["lon"].to_numpy(), "y": nodes["lat"].to_numpy()}, index=nodes.index)
    if layout != "force":
        msg = f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}"
        raise ValueError(msg)
    n = len(nodes)
    if n == 0:
        return pd.DataFrame({"x": [], "y": []}, index=nodes.index)
    position = {node: i for i, node in enumerate(nodes.index)}
    pairs = [
        (position[s], position[t])
        for s, t in zip(edges["source"], edges["target"], strict=True)
        if s in position and t in position and s != t
    ]
    graph = ig.Graph(n=n, edges=pairs)
    start = np.random.default_rng(seed).uniform(-1, 1, size=(n, 2)).tolist()
    # igraph draws its own random numbers too: seed its generator for this call, then restore it.
    with _LAYOUT_LOCK:
        ig.set_random_number_generator(random.Random(seed))
        try:
            placed = graph.layout_fruchterman_reingold(seed=start, niter=60, grid="auto")
        finally:
            ig.set_random_number_generator(random)
    coords = np.asarray(placed.coords, dtype=np.float64)
    return pd.DataFrame({"x": coords[:, 0], "y": coords[:, 1]}, index=nodes.index)


def _sizes(values: pd.Series) -> np.ndarray:
    v = values.astype(float).fillna(0.0).to_numpy()
    top = v.max() if len(v) else 0.0
    if top <= 0:
        return np.full(len(v), 8.0)
    return 6.0 + 18.0 * np.sqrt(np.clip(v, 0, None) / top)


def _colours(nodes: pd.DataFrame, metrics: pd.DataFrame, colour_by: str) -> list[str]:
    if colour_by == "community" and "community" in metrics:
        return [community_colour(c) for c in metrics["community"].reindex(nodes.index)]
    return [TYPE_COLOURS.get(t, TYPE_COLOURS["other"]) for t in nodes["type"]]


def _rings(nodes: pd.DataFrame) -> tuple[list[str], list[float]]:
    """Places are rings, as on the map: a dark outline; actors a thin white one."""
    is_place = (nodes["type"] == "place").to_numpy()
    return [PLACE_COLOUR if p else "#ffffff" for p in is_place], [1.5 if p else 0.5 for p in is_place]


def colour_key(nodes: pd.DataFrame, metrics: pd.DataFrame, colour_by: str, lang: str) -> list[tuple[str, str]]:
    """``(label, colour)`` of each colour the nodes show, in the legend's order.

    By type: the actor types present in :data:`carto.model.ACTOR_TYPES` order, then places. By
    community: the communities present among the :data:`COMMUNITY_PALETTE` largest (numbered from
    1 for the reader), then one grey entry for the smaller ones.
    """
    if colour_by == "community" and "community" in metrics:
        present = metrics["community"].reindex(nodes.index)
        numbers = sorted({int(c) for c in present.dropna()})
        key = [
            (i18n.t("explorer.network.legend.community", lang, n=n + 1), community_colour(n))
            for n in numbers
            if n < len(COMMUNITY_PALETTE)
        ]
        if present.isna().any() or any(n >= len(COMMUNITY_PALETTE) for n in numbers):
            key.append((i18n.t("explorer.network.legend.small_communities", lang), NO_COMMUNITY))
        return key
    types = set(nodes["type"])
    key = [(i18n.label(t, lang), TYPE_COLOURS[t]) for t in ACTOR_TYPES if t in types]
    if "place" in types:
        key.append((i18n.t("explorer.node.place", lang), TYPE_COLOURS["place"]))
    return key


def size_key(values: pd.Series, size_by: str, lang: str) -> list[tuple[str, float]]:
    """``(label, marker size)`` for the smallest, middle and largest values the nodes are sized by."""
    v = values.astype(float).fillna(0.0)
    if v.empty:
        return []
    top = float(v.max())
    decimals = 0 if size_by in ("degree", "weighted_degree") and (v == v.round()).all() else 3
    samples = sorted({round(float(x), decimals) for x in (v.min(), (v.min() + top) / 2, top)})
    sizes = _sizes(pd.Series([*samples, top]))[:-1]  # scaled against the same maximum as the nodes
    name = i18n.t(f"explorer.network.size.{size_by}", lang)
    return [
        (f"{name} {format_number(x, lang, decimals=decimals)}", float(size))
        for x, size in zip(samples, sizes, strict=True)
    ]


def network_figure(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    metrics: pd.DataFrame,
    *,
    positions: pd.DataFrame | None = None,
    layout: str = "force",
    colour_by: str = "type",
    size_by: str = "degree",
    highlight: set[str] = frozenset(),  # type: ignore[assignment]
    lang: str = "fr",
) -> go.Figure:
    """The network: one line trace per relation kind, then the nodes, then the highlighted nodes.

    ``nodes`` is indexed by id (see :func:`carto.analysis.scene.graph_nodes`), ``metrics`` by the same ids. Node
    traces carry the id in ``customdata``. With a highlight, other nodes are dimmed and the
    highlighted ones drawn last, larger, with a yellow ring.
    """
    pos = positions if positions is not None else layout_positions(nodes, edges, layout=layout)
    pos = pos.reindex(nodes.index)
    fig = go.Figure()
    for kind in RELATION_KINDS:
        part = edges[edges["kind"] == kind]
        part = part[part["source"].isin(pos.index) & part["target"].isin(pos.index)]
        if part.empty:
            continue
        xs = np.column_stack(
            [
                pos.loc[part["source"], "x"].to_numpy(),
                pos.loc[part["target"], "x"].to_numpy(),
                np.full(len(part), np.nan),
            ]
        ).ravel()
        ys = np.column_stack(
            [
                pos.loc[part["source"], "y"].to_numpy(),
                pos.loc[part["target"], "y"].to_numpy(),
                np.full(len(part), np.nan),
            ]
        ).ravel()
        fig.add_trace(
            go.Scattergl(
                x=xs,
                y=ys,
                mode="lines",
                name=i18n.label(kind, lang),
                line={"color": RELATION_COLOURS[kind], "width": 1, "dash": KIND_DASH[kind]},
                opacity=0.45 if highlight else 0.6,
                hoverinfo="skip",
                legendgroup="kinds",
                legendgrouptitle={"text": i18n.t("explorer.filter.kinds", lang)},
                meta={"role": "edges", "kind": kind},
            )
        )
    size_values = metrics[size_by] if size_by in metrics else pd.Series(0.0, index=nodes.index)
    size_values = size_values.reindex(nodes.index)
    sizes = _sizes(size_values)
    colours = np.array(_colours(nodes, metrics, colour_by), dtype=object)
    ring_colours, ring_widths = (np.array(v, dtype=object) for v in _rings(nodes))
    lit = nodes.index.isin(list(highlight))
    hover = [plotly_text(f"{name} [{node}]") for node, name in zip(nodes.index, nodes["name"], strict=True)]
    for role, mask in (("nodes", ~lit), ("highlight", lit)):
        if role == "highlight" and not mask.any():
            continue
        fig.add_trace(
            go.Scattergl(
                x=pos["x"].to_numpy()[mask],
                y=pos["y"].to_numpy()[mask],
                mode="markers",
                name=i18n.t("explorer.network.selection" if role == "highlight" else "explorer.network.nodes", lang),
                # The nodes' colours and sizes are keyed by the legend-only entries below.
                showlegend=role == "highlight",
                customdata=np.asarray(nodes.index, dtype=object)[mask],
                text=np.asarray(hover, dtype=object)[mask],
                hovertemplate="%{text}<extra></extra>",
                marker={
                    "size": sizes[mask] + (4 if role == "highlight" else 0),
                    "color": colours[mask],
                    "opacity": 1.0 if role == "highlight" or not highlight else 0.35,
                    "line": {
                        "color": HIGHLIGHT_COLOUR if role == "highlight" else list(ring_colours[mask]),
                        "width": 3 if role == "highlight" else list(ring_widths[mask]),
                    },
                },
                meta={"role": role},
            )
        )
    _add_key(fig, nodes, metrics, size_values, colour_by=colour_by, size_by=size_by, lang=lang)
    fig.update_layout(
        showlegend=True,
        # Legend items as large as their trace's marker: the size key shows three sizes.
        legend={"orientation": "h", "y": -0.02, "yanchor": "top", "itemsizing": "trace", "groupclick": "toggleitem"},
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
        # No dragmode/clickmode: Streamlit sets them from selection_mode (pan + click to select;
        # the box and lasso tools are in the mode bar).
        hovermode="closest",
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x" if layout == "geo" else None},
        height=600,
    )
    return fig


def _add_key(
    fig: go.Figure,
    nodes: pd.DataFrame,
    metrics: pd.DataFrame,
    size_values: pd.Series,
    *,
    colour_by: str,
    size_by: str,
    lang: str,
) -> None:
    """Legend-only traces (no point drawn): one per node colour, three for node sizes."""
    groups = (
        ("colours", i18n.t(f"explorer.network.colour.{colour_by}", lang),
         [(label, colour, 10.0, PLACE_COLOUR if colour == TYPE_COLOURS["place"] else "#ffffff")
          for label, colour in colour_key(nodes, metrics, colour_by, lang)]),
        ("sizes", i18n.t("explorer.network.legend.size", lang),
         [(label, NO_COMMUNITY, size * LEGEND_SCALE, "#ffffff")
          for label, size in size_key(size_values, size_by, lang)]),
    )
    for group, title, entries in groups:
        for label, colour, size, ring in entries:
            fig.add_trace(  # SVG, not WebGL: only SVG legend items take their trace's marker size
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="markers",
                    name=plotly_text(label),
                    legendgroup=group,
                    legendgrouptitle={"text": title},
                    marker={"size": size, "color": colour, "line": {"color": ring, "width": 1.5}},
                    hoverinfo="skip",
                    meta={"role": "key", "group": group},
                )
            )
