"""Summary of one territory for elected officials: five figures in words, map, partners, gaps, exports."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from carto import i18n, store, ui
from carto.analysis import indicators
from carto.analysis.summary import (
    children_table,
    choropleth_level,
    default_territory,
    siblings_table,
    territory_choices,
)
from carto.render import charts, netview, offline, summary_text
from carto.render.choropleth import choropleth_map
from carto.render.indicator_text import comparison_table
from carto.render.indicators_csv import indicators_csv
from carto.render.static_map import summary_map_png
from carto.ui import cache, social
from carto.ui.state import SummaryState as keys

lang, version, db = ui.language(), ui.data_version(), store.default_db()
st.title(ui.tr("summary.title"))
ui.warn_node_id_clashes(version)
radius = st.sidebar.slider(ui.tr("summary.radius"), 0.5, 5.0, 1.0, 0.5, format="%.1f km", key=keys.RADIUS)
with st.spinner(ui.tr("summary.computing")):
    table, metrics = cache.summary_analytics(version, db, radius)
if table.empty:
    st.info(ui.tr("summary.empty"))
    st.stop()

choices, names, default = territory_choices(table), summary_text.territory_labels(table), default_territory(table)
keys.open_from_url(st.query_params.to_dict(), choices)
code = str(st.selectbox(ui.tr("summary.pick"), options=choices, key=keys.TERRITORY,
                        index=choices.index(default) if default in choices else 0, format_func=names.__getitem__))
st.query_params.from_dict(keys.link(code))
summary = cache.territory_summary(version, db, code, radius)
with st.container(key=keys.HEADER):
    st.header(ui.md(f"{summary.name} ({summary.code})"))
    st.caption(ui.md(summary_text.subtitle(summary, lang)))

pdf, page = cache.summary_exports(version, db, code, lang, radius)
a, b, c = st.columns(3)
files = summary_text.download_names(code, lang)
a.download_button(ui.tr("summary.download.pdf"), pdf, files["pdf"], "application/pdf", key=keys.DOWNLOAD_PDF)
b.download_button(ui.tr("summary.download.html"), page, files["html"], "text/html", key=keys.DOWNLOAD_HTML)
c.download_button(ui.tr("summary.download.csv"), indicators_csv(table, lang=lang), files["csv"], "text/csv",
                  key=keys.DOWNLOAD_CSV)

with st.container(key=keys.FIGURES):
    for col, figure, (label, value, text) in zip(st.columns(len(summary.figures)), summary.figures,
                                                 summary_text.headline_sentences(summary, lang), strict=True):
        col.markdown(f"**{ui.md(label)}**")  # wraps; a metric's own label is cut with "…" in five columns
        col.metric(label, value, delta=summary_text.delta_text(figure, lang), delta_color="off",
                   label_visibility="collapsed")
        col.caption(ui.md(text))

left, right = st.columns([3, 2])
with left, st.container(key=keys.MAP):
    st.subheader(ui.tr("summary.map"))
    st.image(summary_map_png(summary, width_px=700, height_px=490))
    marks = [":blue[●]", ":orange[●]", ":gray[□]", ":red[□]"]  # the colours of summary_text.map_legend
    st.caption(" · ".join(f"{m} {words}" for m, (_, words) in zip(marks, summary_text.map_legend(lang), strict=True)))
with right:
    with st.container(key=keys.PARTNERS):
        st.subheader(ui.tr("summary.partners"))
        for partner in summary.partners:
            st.markdown(f"- {ui.md(summary_text.partner_line(partner, lang))}")
        if not summary.partners:
            st.write(ui.tr("summary.partners.none"))
    with st.container(key=keys.GAPS):
        st.subheader(ui.tr("summary.gaps"))
        st.markdown(f"**{ui.md(summary_text.gap_intro(summary, lang))}**")
        st.markdown("\n".join(f"- {ui.md(summary_text.place_line(p, lang))}" for p in summary.uncovered[:20]))
        st.markdown(f"**{ui.md(summary_text.isolated_intro(summary, lang))}**")
        st.markdown("\n".join(f"- {ui.md(summary_text.isolated_line(p, lang))}" for p in summary.isolated[:20]))

st.subheader(ui.tr("summary.per_year"))
per_year = summary.relations_per_year
if per_year.empty:
    st.info(ui.tr("summary.per_year.none"))
else:
    chart, colours = summary_text.per_year_chart(per_year, lang)
    st.plotly_chart(charts.yearly_figure(chart, colours, year_label=i18n.t("summary.year", lang)),
                    config=netview.plotly_config(lang), key=keys.PER_YEAR, width="stretch")
with st.expander(ui.tr("summary.method")):
    st.markdown("\n".join(f"- {ui.md(line)}" for line in summary_text.method_lines(summary, lang)))

labels = {c: ui.tr(f"summary.label.{c}") for c in indicators.HEADLINES}  # AppTest formats outside a run
with st.container(key=keys.SIBLINGS):
    st.subheader(ui.tr("summary.siblings"))
    peers = siblings_table(table, code)
    if len(peers) <= 1:  # alone at its level (a département): compare what lies inside it
        peers = children_table(table, code)
        st.caption(ui.tr("summary.children", name=summary.name))
    st.dataframe(comparison_table(peers, lang), hide_index=True)

st.subheader(ui.tr("summary.choropleth"))
column = st.selectbox(ui.tr("summary.choropleth.pick"), options=list(labels), format_func=labels.__getitem__,
                      key=keys.CHOROPLETH)
level_map = choropleth_map(ui.read("territories", version), table, str(column), lang,
                           level=choropleth_level(table, code), highlight=code, tiles=offline.default_tiles())
st_folium(level_map, height=480, use_container_width=True, returned_objects=[], key=keys.CHOROPLETH_MAP)
social.summary_section(version, db, code, summary.name, lang)  # the social space, in plain words
