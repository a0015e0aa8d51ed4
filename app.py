"""Entry point: page config, language, navigation. Pages live in pages/, logic in carto/."""

from __future__ import annotations

import streamlit as st

from carto import ui

st.set_page_config(page_title="Territoires & espace social", page_icon="🗺️", layout="wide")

ui.language_switch()

pages = [
    st.Page("pages/map.py", title=ui.tr("nav.map"), icon="🗺️", url_path="map", default=True),
    st.Page("pages/import.py", title=ui.tr("nav.import"), icon="📥", url_path="import"),
    st.Page("pages/data.py", title=ui.tr("nav.data"), icon="🗄️", url_path="data"),
]
navigation = st.navigation(pages)
ui.ensure_data()
navigation.run()
