"""Map page: territories, inhabited places, actors and their relations, from the store."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from carto import layers, offline, ui

st.title(ui.tr("map.title"))
st.caption(ui.tr("map.boundaries_note"))

tiles = st.sidebar.selectbox(
    ui.tr("map.tiles"),
    options=list(offline.TILE_CHOICES),
    index=list(offline.TILE_CHOICES).index(offline.default_tiles()),
    format_func=lambda name: ui.tr(f"map.tiles.{name}"),
    key="tiles",
)

communes = ui.read("territories")
communes = communes[communes["level"] == "commune"]
places, actors, relations = ui.read("places"), ui.read("actors"), ui.read("relations")

cols = st.columns(4)
for col, (key, frame) in zip(
    cols,
    (("territories", communes), ("actors", actors), ("places", places), ("relations", relations)),
    strict=True,
):
    col.metric(ui.tr(f"dataset.{key}"), f"{len(frame):,}".replace(",", "\u202f"))

m = layers.overview_map(communes, places, actors, relations, ui.language(), tiles=tiles)
st_folium(m, height=640, use_container_width=True, returned_objects=[], key="overview_map")
