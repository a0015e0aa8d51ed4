"""The social space drawn: footprints over the boundaries, referral paths with their direction, the
flow diagram of referrals between actor types, and the tables the page shows.

Pure: computed frames in (:mod:`carto.analysis.footprint`, :mod:`carto.analysis.pathways`), a
folium map, a plotly figure or a frame out. Names reach the map as text only (StyledGeoJson's
TextTooltip), plotly labels through :func:`carto.render.netview.plotly_text`.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import shapely

from carto import i18n
from carto.analysis.changes import CHANGES, node_changes
from carto.formatting import format_number, format_percent
from carto.model import METROPOLITAN_FRANCE
from carto.render import offline
from carto.render.leaflet import DirectionArrows
from carto.render.netview import plotly_text
from carto.render.palette import (
    ALERT,
    COMMUNITY_PALETTE,
    HIGHLIGHT_COLOUR,
    RELATION_COLOURS,
    TERRITORY_FILL,
    TERRITORY_LINE,
    TYPE_COLOURS,
)
from carto.render.plain import STYLE_PROPERTY, StyledGeoJson, style_table


def _bounds(*frames: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    present = [f for f in frames if len(f)]
    if not present:
        return METROPOLITAN_FRANCE
    boxes = np.array([f.total_bounds for f in present])
    return float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max())


def _borders_layer(territories: gpd.GeoDataFrame, lang: str, home: str | None) -> StyledGeoJson:
    chosen = (territories["code"].astype(str) == home).to_numpy()
    styles, index = style_table(
        ((ALERT if c else TERRITORY_LINE, 2.5 if c else 0.7, TERRITORY_FILL, 0.35) for c in chosen),
        ["color", "weight", "fillColor", "fillOpacity"],
    )
    properties = pd.DataFrame(
        {"name": territories["name"].astype(str).to_numpy(), "code": territories["code"].astype(str).to_numpy()}
    ).assign(**{STYLE_PROPERTY: index})
    return StyledGeoJson(
        properties,
        territories.geometry.to_numpy(),
        styles,
        name=i18n.t("social.map.borders", lang),
        tooltip=[("name", i18n.t("field.name", lang)), ("code", i18n.t("field.code", lang))],
    )


def _nodes_layer(nodes: gpd.GeoDataFrame, lang: str, *, emphasis: set[str] | None = None) -> StyledGeoJson:
    emphasis = emphasis or set()
    ids = nodes.index.astype(str)
    styles, index = style_table(
        (
            (TYPE_COLOURS.get(t, TYPE_COLOURS["other"]), 8 if i in emphasis else 5, HIGHLIGHT_COLOUR if i in emphasis
             else "#ffffff", 0.9)
            for i, t in zip(ids, nodes["type"].astype(str), strict=True)
        ),
        ["fillColor", "radius", "color", "fillOpacity"],
    )
    properties = pd.DataFrame(
        {
            "name": nodes["name"].astype(str).to_numpy(),
            "type": [i18n.label(t, lang) for t in nodes["type"].astype(str)],
        }
    ).assign(**{STYLE_PROPERTY: index})
    points = nodes.geometry.representative_point().to_numpy()
    return StyledGeoJson(
        properties,
        points,
        styles,
        name=i18n.t("social.map.nodes", lang),
        circle_points=True,
        tooltip=[("name", i18n.t("field.name", lang)), ("type", i18n.t("field.type", lang))],
    )


def footprint_layer(footprints: gpd.GeoDataFrame, lang: str) -> StyledGeoJson:
    """The footprints as a plain layer, one palette colour each; their ``shape``, ``parts``,
    ``area_km2`` and ``share_outside`` in the tooltip, as text."""
    colours = [COMMUNITY_PALETTE[i % len(COMMUNITY_PALETTE)] for i in range(len(footprints))]
    styles, index = style_table(((c, 2, c, 0.35) for c in colours), ["color", "weight", "fillColor", "fillOpacity"])
    properties = pd.DataFrame(
        {
            "shape": [i18n.t(f"social.shape.{s}", lang) for s in footprints["shape"]],
            "parts": [format_number(v, lang) for v in footprints["parts"]],
            "area": [format_number(v, lang, decimals=1) for v in footprints["area_km2"]],
            "outside": [format_percent(v, lang) for v in footprints["share_outside"]],
        }
    ).assign(**{STYLE_PROPERTY: index})
    return StyledGeoJson(
        properties,
        footprints.geometry.to_numpy(),
        styles,
        name=i18n.t("social.map.footprint", lang),
        tooltip=[(f, i18n.t(f"social.map.{f}", lang)) for f in ("shape", "parts", "area", "outside")],
    )


def footprint_map(
    territories: gpd.GeoDataFrame,
    footprints: gpd.GeoDataFrame,
    nodes: gpd.GeoDataFrame,
    lang: str,
    *,
    home: str | None = None,
    tiles: str = "none",
) -> folium.Map:
    """The footprints (their ``shape``, ``area_km2`` and ``share_outside`` in the tooltip) over the
    boundaries of ``territories`` (one level), with the group's ``nodes``; ``home`` outlined."""
    minx, miny, maxx, maxy = _bounds(footprints, nodes)
    m = offline.make_map(((miny + maxy) / 2, (minx + maxx) / 2), 9, tiles=tiles)
    _borders_layer(territories, lang, home).add_to(m)
    footprint_layer(footprints, lang).add_to(m)
    _nodes_layer(nodes, lang).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return offline.localize_assets(m)


def pathway_map(
    territories: gpd.GeoDataFrame,
    edges: pd.DataFrame,
    nodes: gpd.GeoDataFrame,
    start: str,
    lang: str,
    *,
    tiles: str = "none",
) -> folium.Map:
    """Referral paths from ``start`` (``edges``: ``source``, ``target``, ``step``) drawn with their
    direction over the boundaries, the nodes they reach, ``start`` emphasised."""
    ids = sorted({start, *edges["source"].astype(str), *edges["target"].astype(str)} & set(nodes.index))
    shown = nodes.loc[ids]
    points = shown.geometry.representative_point()
    known = edges[edges["source"].isin(points.index) & edges["target"].isin(points.index)]
    lines = shapely.linestrings(
        [[(points[s].x, points[s].y), (points[t].x, points[t].y)] for s, t in zip(known["source"], known["target"],
                                                                                  strict=True)]
    ) if len(known) else np.array([], dtype=object)
    minx, miny, maxx, maxy = _bounds(shown)
    m = offline.make_map(((miny + maxy) / 2, (minx + maxx) / 2), 9, tiles=tiles)
    _borders_layer(territories, lang, None).add_to(m)
    widths = (4.5 - known["step"].to_numpy(float)).clip(1.5, 4)
    styles, index = style_table(((RELATION_COLOURS["referral"], w, 0.9) for w in widths.tolist()),
                                ["color", "weight", "opacity"])
    names = nodes["name"].astype(str)
    properties = pd.DataFrame(
        {
            "from": known["source"].map(names).to_numpy(),
            "to": known["target"].map(names).to_numpy(),
            "step": [format_number(v, lang) for v in known["step"]],
            "directed": True,
        }
    ).assign(**{STYLE_PROPERTY: index})
    layer = StyledGeoJson(
        properties,
        np.asarray(lines, dtype=object),
        styles,
        name=i18n.t("social.map.paths", lang),
        tooltip=[(f, i18n.t(f"social.map.{f}", lang)) for f in ("from", "to", "step")],
    )
    if len(known):
        layer.add_child(DirectionArrows(layer))
    layer.add_to(m)
    _nodes_layer(shown, lang, emphasis={start}).add_to(m)
    if len(shown):
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    return offline.localize_assets(m)


CHANGE_COLOURS = {
    "appeared": RELATION_COLOURS["network"],
    "ended": ALERT,
    "changed": RELATION_COLOURS["referral"],
    "same": TERRITORY_LINE,
}


def change_map(
    territories: gpd.GeoDataFrame, nodes: gpd.GeoDataFrame, change: pd.Series, lang: str, *, tiles: str = "none"
) -> folium.Map:
    """Nodes coloured by their links' change between two dates (:func:`carto.analysis.changes.node_changes`)."""
    shown = nodes.loc[[n for n in change.index if n in nodes.index]]
    minx, miny, maxx, maxy = _bounds(shown)
    m = offline.make_map(((miny + maxy) / 2, (minx + maxx) / 2), 9, tiles=tiles)
    _borders_layer(territories, lang, None).add_to(m)
    kinds = change.reindex(shown.index).astype(str)
    styles, index = style_table(((CHANGE_COLOURS[k], 6, "#ffffff", 0.9) for k in kinds),
                                ["fillColor", "radius", "color", "fillOpacity"])
    properties = pd.DataFrame(
        {"name": shown["name"].astype(str).to_numpy(), "change": [i18n.t(f"social.change.{k}", lang) for k in kinds]}
    ).assign(**{STYLE_PROPERTY: index})
    StyledGeoJson(
        properties,
        shown.geometry.representative_point().to_numpy(),
        styles,
        name=i18n.t("social.section.changes", lang),
        circle_points=True,
        tooltip=[("name", i18n.t("field.name", lang)), ("change", i18n.t("social.changes.kind", lang))],
    ).add_to(m)
    if len(shown):
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    return offline.localize_assets(m)


def change_network(nodes: gpd.GeoDataFrame, diff: pd.DataFrame, lang: str) -> go.Figure:
    """The network of the compared relations on its geographic layout, each link coloured by its change
    (``diff`` of :func:`carto.analysis.changes.compare_dates`: ``a``, ``b``, ``change``): one trace per
    change for the legend, then the nodes in their most telling change's colour, names as text."""
    ids = nodes.index.astype(str)
    points = nodes.geometry.representative_point()
    xy = pd.DataFrame({"x": points.x.to_numpy(), "y": points.y.to_numpy()}, index=ids)
    shown = diff[diff["a"].astype(str).isin(xy.index) & diff["b"].astype(str).isin(xy.index)]
    figure = go.Figure()
    for change in CHANGES:
        rows = shown[shown["change"] == change]
        a = xy.loc[rows["a"].astype(str).to_list()].to_numpy()
        b = xy.loc[rows["b"].astype(str).to_list()].to_numpy()
        gap = np.full((len(rows), 1), np.nan)
        lines = np.hstack([a, b, np.hstack([gap, gap])]).reshape(-1, 2) if len(rows) else np.empty((0, 2))
        label = i18n.t(f"social.change.{change}", lang)
        figure.add_trace(go.Scatter(
            x=lines[:, 0], y=lines[:, 1], mode="lines", hoverinfo="skip", name=plotly_text(f"{label} ({len(rows)})"),
            line={"width": 1 if change == "same" else 2, "color": CHANGE_COLOURS[change]},
        ))
    change_of = node_changes(shown) if len(shown) else pd.Series(dtype=object)
    linked = xy.loc[[i for i in xy.index if i in change_of.index]]
    names = nodes["name"].astype(str).set_axis(ids)
    kinds = [str(change_of[i]) for i in linked.index]
    hover = [plotly_text(f"{names[i]} ({i18n.t(f'social.change.{k}', lang)})") for i, k in zip(linked.index, kinds,
                                                                                               strict=True)]
    figure.add_trace(go.Scatter(x=linked["x"], y=linked["y"], mode="markers", text=hover, hoverinfo="text",
                                showlegend=False, marker={"size": 8, "color": [CHANGE_COLOURS[k] for k in kinds],
                                                          "line": {"width": 1, "color": "#ffffff"}}))
    figure.update_layout(
        height=460, margin={"l": 8, "r": 8, "t": 8, "b": 8}, legend={"title": {"text": plotly_text(
            i18n.t("social.changes.kind", lang))}},
        xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x", "scaleratio": 1.45},
    )
    return figure


def kinds_table(table: pd.DataFrame, before: str, after: str, lang: str) -> pd.DataFrame:
    """Relations running on two dates by kind, columns named by their dates."""
    return pd.DataFrame(
        {
            i18n.t("field.kind", lang): [i18n.label(k, lang) for k in table.index],
            before: table["before"].to_numpy(),
            after: table["after"].to_numpy(),
        }
    )


def network_by_year(nodes: gpd.GeoDataFrame, running: dict[int, pd.DataFrame], lang: str) -> go.Figure:
    """The network on its geographic layout, one frame per year (relations running on 31 December),
    played with a button and a slider; nodes in their type's colour, names in the hover as text."""
    points = nodes.geometry.representative_point()
    xy = pd.DataFrame({"x": points.x.to_numpy(), "y": points.y.to_numpy()}, index=nodes.index.astype(str))
    colour = [TYPE_COLOURS.get(t, TYPE_COLOURS["other"]) for t in nodes["type"].astype(str)]
    hover = [plotly_text(f"{n} ({i18n.label(t, lang)})") for n, t in zip(nodes["name"].astype(str),
                                                                         nodes["type"].astype(str), strict=True)]

    def traces(rows: pd.DataFrame) -> list[go.Scatter]:
        ends = rows[rows["source"].astype(str).isin(xy.index) & rows["target"].astype(str).isin(xy.index)]
        a = xy.loc[ends["source"].astype(str).to_list()].to_numpy()
        b = xy.loc[ends["target"].astype(str).to_list()].to_numpy()
        gap = np.full((len(ends), 1), np.nan)
        lines = np.hstack([a, b, np.hstack([gap, gap])]).reshape(-1, 2) if len(ends) else np.empty((0, 2))
        linked = set(ends["source"].astype(str)) | set(ends["target"].astype(str))
        alive = [i in linked for i in xy.index]
        return [
            go.Scatter(x=lines[:, 0], y=lines[:, 1], mode="lines", hoverinfo="skip",
                       line={"width": 0.6, "color": "rgba(90,90,90,0.45)"}),
            go.Scatter(x=xy["x"], y=xy["y"], mode="markers", text=hover, hoverinfo="text",
                       marker={"size": [7 if a else 3 for a in alive], "color": colour,
                               "opacity": [0.95 if a else 0.25 for a in alive]}),
        ]

    years = sorted(running)
    first = traces(running[years[0]]) if years else traces(pd.DataFrame({"source": [], "target": []}))
    figure = go.Figure(data=first, frames=[go.Frame(data=traces(running[y]), name=str(y)) for y in years])
    step = [{"args": [[str(y)], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}], "label": str(y),
             "method": "animate"} for y in years]
    figure.update_layout(
        showlegend=False, height=520, margin={"l": 8, "r": 8, "t": 8, "b": 8},
        xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x", "scaleratio": 1.45},
        updatemenus=[{"type": "buttons", "x": 0, "y": 1.08, "xanchor": "left", "buttons": [
            {"label": i18n.t("social.play", lang), "method": "animate",
             "args": [None, {"frame": {"duration": 900, "redraw": True}, "fromcurrent": True}]},
        ]}],
        sliders=[{"steps": step, "active": 0, "currentvalue": {"prefix": i18n.t("social.year", lang) + " "}}],
    )
    return figure


def referral_sankey(flows: pd.DataFrame, lang: str) -> go.Figure:
    """Referrals between actor types (``source_type``, ``target_type``, ``referrals``): types on the
    left send, the same types on the right receive; link width is the number of referrals."""
    types = sorted(set(flows["source_type"]) | set(flows["target_type"]))
    labels = [plotly_text(i18n.label(t, lang)) for t in types]
    position = {t: i for i, t in enumerate(types)}
    colours = [TYPE_COLOURS.get(t, TYPE_COLOURS["other"]) for t in types]
    figure = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={"label": labels + labels, "color": colours + colours, "pad": 12},
            link={
                "source": [position[t] for t in flows["source_type"]],
                "target": [len(types) + position[t] for t in flows["target_type"]],
                "value": flows["referrals"].astype(int).to_list(),
                "color": "rgba(224,122,31,0.35)",
            },
        )
    )
    figure.update_layout(margin={"l": 8, "r": 8, "t": 8, "b": 8}, height=460, font={"size": 12})
    return figure


def footprints_table(footprints: pd.DataFrame, labels: dict[str, str], territory_names: dict[str, str],
                     lang: str) -> pd.DataFrame:
    """The footprints as the page lists them: one row per group, words in the reader's language."""
    return pd.DataFrame(
        {
            i18n.t("social.table.group", lang): [labels.get(str(g), str(g)) for g in footprints.index],
            i18n.t("social.table.nodes", lang): footprints["nodes"].astype(int).to_numpy(),
            i18n.t("social.map.shape", lang): [i18n.t(f"social.shape.{s}", lang) for s in footprints["shape"]],
            i18n.t("social.map.parts", lang): footprints["parts"].astype(int).to_numpy(),
            i18n.t("social.map.area", lang): footprints["area_km2"].round(1).to_numpy(),
            i18n.t("social.table.home", lang): [territory_names.get(str(h), str(h)) for h in footprints["home"]],
            i18n.t("social.map.outside", lang): [format_percent(v, lang) for v in footprints["share_outside"]],
        }
    )


def pairs_table(links: pd.DataFrame, names: pd.Series, lang: str, *, days: bool = False) -> pd.DataFrame:
    """Partnerships (``source``, ``target``, ``stage`` …) with the partners' names."""
    table = {
        i18n.t("field.source", lang): links["source"].map(names).fillna(links["source"]).to_numpy(),
        i18n.t("field.target", lang): links["target"].map(names).fillna(links["target"]).to_numpy(),
        i18n.t("field.stage", lang): [i18n.label(s if isinstance(s, str) else None, lang) for s in links["stage"]],
        i18n.t("social.table.dimensions", lang): [", ".join(i18n.label(d, lang) for d in ds) for ds in
                                                    links["dimensions"]],
    }
    if days:
        table[i18n.t("social.table.days", lang)] = links["days"].astype(int).to_numpy()
    return pd.DataFrame(table)


def nodes_table(nodes: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Nodes by name and type (e.g. the dead ends of the referral pathways)."""
    return pd.DataFrame(
        {
            i18n.t("field.name", lang): nodes["name"].astype(str).to_numpy(),
            i18n.t("field.type", lang): [i18n.label(t, lang) for t in nodes["type"].astype(str)],
        }
    )


def stages_table(table: pd.DataFrame, schemes: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Partnerships by stage (columns) per scheme (rows named by the scheme's name)."""
    scheme_names = dict(zip(schemes["id"].astype(str), schemes["name"].astype(str), strict=True))
    out = table.rename(columns={c: i18n.label(c, lang) if c != "none" else "—" for c in table.columns})
    out.index = pd.Index([scheme_names.get(str(i), str(i)) for i in table.index], name=i18n.t("field.scheme", lang))
    return out


def schemes_table(table: pd.DataFrame, territory_names: dict[str, str], lang: str) -> pd.DataFrame:
    """Schemes with their kind, territory, lead, and how many partners and territories they have."""
    return pd.DataFrame(
        {
            i18n.t("field.name", lang): table["name"].astype(str).to_numpy(),
            i18n.t("field.kind", lang): [i18n.label(k if isinstance(k, str) else None, lang) for k in table["kind"]],
            i18n.t("field.territory", lang): [territory_names.get(str(c), str(c)) for c in table["territory_code"]],
            i18n.t("field.lead", lang): [n if isinstance(n, str) else "—" for n in table["lead_name"]],
            i18n.t("social.schemes.table.partners", lang): table["partners"].map(len).to_numpy(),
            i18n.t("social.schemes.table.territories", lang): table["territories"].map(len).to_numpy(),
        }
    )


def changes_table(diff: pd.DataFrame, names: pd.Series, lang: str) -> pd.DataFrame:
    """Pairs whose link changed between two dates, with the kinds before and after."""

    def kinds(values: tuple[str, ...]) -> str:
        return ", ".join(i18n.label(v, lang) for v in values) or "—"

    return pd.DataFrame(
        {
            i18n.t("social.changes.kind", lang): [i18n.t(f"social.change.{c}", lang) for c in diff["change"]],
            i18n.t("field.source", lang): diff["a"].map(names).fillna(diff["a"]).to_numpy(),
            i18n.t("field.target", lang): diff["b"].map(names).fillna(diff["b"]).to_numpy(),
            i18n.t("social.changes.before", lang): [kinds(k) for k in diff["kinds_before"]],
            i18n.t("social.changes.after", lang): [kinds(k) for k in diff["kinds_after"]],
        }
    )


def chain_lines(found: list[list[str]], names: pd.Series) -> list[str]:
    """Each chain of referrals as ``A → B → C`` (names)."""
    return [" → ".join(str(names.get(n, n)) for n in chain) for chain in found]
