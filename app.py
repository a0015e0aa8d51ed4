"""Entry point: page config, language, who is signed in, and the pages their role may open."""

from __future__ import annotations

import streamlit as st

from carto import auth, ui

st.set_page_config(page_title="Territoires & espace social", page_icon=":material/map:", layout="wide")

ui.language_switch()
user = ui.current_user()
ui.sign_in_gate(user)
ui.identity_badge(user)


# Pages a role may not use are not registered at all: their URL leads nowhere for that user.
# Material icons: Streamlit bundles their font, so no emoji font is needed on the viewer's system.
pages = [
    st.Page("app_pages/explorer.py", title=ui.tr("nav.explorer"), icon=":material/map:", url_path="explorer",
            default=True),
    st.Page("app_pages/summary.py", title=ui.tr("nav.summary"), icon=":material/summarize:", url_path="summary"),
]
if auth.can(user, "import"):
    pages.append(st.Page("app_pages/import.py", title=ui.tr("nav.import"), icon=":material/upload_file:",
                         url_path="import"))
    pages.append(st.Page("app_pages/data.py", title=ui.tr("nav.data"), icon=":material/database:", url_path="data"))
if auth.can(user, "settings"):
    pages.append(st.Page("app_pages/admin.py", title=ui.tr("nav.admin"), icon=":material/settings:", url_path="admin"))
navigation = st.navigation(pages)
with ui.timed_run():
    ui.ensure_data()
    navigation.run()
