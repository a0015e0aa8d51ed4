"""Entry point: page config, language, who is signed in, and the pages their role may open."""

from __future__ import annotations

import streamlit as st

from carto import auth, i18n, ui

st.set_page_config(page_title=i18n.t("app.title", ui.language()), page_icon="🗺️", layout="wide")

ui.language_switch()
user = ui.current_user()
ui.sign_in_gate(user)
ui.identity_badge(user)


# Pages a role may not use are not registered at all: their URL leads nowhere for that user.
# No page icons: emoji need an emoji font on the viewer's system (else empty boxes), and Streamlit
# fetches its Material icons' font from Google's servers, which breaks the offline promise.
pages = [
    st.Page("app_pages/explorer.py", title=ui.tr("nav.explorer"), url_path="explorer", default=True),
    st.Page("app_pages/summary.py", title=ui.tr("nav.summary"), url_path="summary"),
    st.Page("app_pages/social_space.py", title=ui.tr("nav.social"), url_path="espace-social"),
]
if auth.can(user, "import"):
    pages.append(st.Page("app_pages/import.py", title=ui.tr("nav.import"), url_path="import"))
    pages.append(st.Page("app_pages/data.py", title=ui.tr("nav.data"), url_path="data"))
if auth.can(user, "settings"):
    pages.append(st.Page("app_pages/admin.py", title=ui.tr("nav.admin"), url_path="admin"))
navigation = st.navigation(pages)
with ui.collect_garbage_after(), ui.timed_run():
    ui.ensure_data()
    with st.sidebar:
        ui.follow_commits()
    navigation.run()
