"""AppTest: every page runs without exception; the map page shows what the store holds."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from shown import as_shown
from streamlit.testing.v1 import AppTest

from carto.ui.state import ExplorerState

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

PROJECT = Path(__file__).resolve().parent.parent


def registered_pages() -> list[str]:
    """Page files named in app.py's st.Page(...) calls, read from the source."""
    tree = ast.parse((PROJECT / "app.py").read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append(first.value)
    return found


def test_every_page_file_is_registered():
    on_disk = sorted(f"app_pages/{p.name}" for p in (PROJECT / "app_pages").glob("*.py") if not p.name.startswith("_"))
    assert sorted(registered_pages()) == on_disk


@pytest.fixture
def app_env(monkeypatch, sample_db):
    monkeypatch.setenv("CARTO_DB", str(sample_db))
    monkeypatch.setenv("CARTO_TILES", "none")
    return sample_db


OIDC = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-only",
    "client_id": "carto",
    "client_secret": "test-only",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
ROLES = {"default": "viewer", "emails": {"maire@ville.fr": "admin", "ana@ville.fr": "analyst"}}


def signed_in_app(email: str | None) -> AppTest:
    """The app with OpenID Connect configured and ``email`` signed in (None: signed out)."""
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120)
    at.secrets["auth"] = OIDC
    at.secrets["roles"] = ROLES
    at.user = {"email": email, "email_verified": True, "is_logged_in": True} if email else {"is_logged_in": False}
    return at


@pytest.mark.parametrize("page", registered_pages())
def test_page_runs_without_exception(app_env, page):
    at = signed_in_app("maire@ville.fr").run()
    at.switch_page(page).run()
    assert not at.exception


def test_map_page_counts_match_the_store(app_env):
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.container(ExplorerState.FIGURES).metric}
    # 207 communes of Loire-Atlantique, 340 actors, 66 places, 1,170 relations (data/README.md).
    assert metrics == {"Territoires": "207", "Acteurs": "340", "Lieux habités": "66", "Relations": "1\u202f170"}
    # The sample's boundaries are IGN's and its codes INSEE's: the map says so, not "approximate".
    notes = [c.value for c in at.caption]
    assert any("IGN – ADMIN EXPRESS" in n and "INSEE" in n for n in notes), notes
    assert not any("approxima" in n for n in notes)


def test_language_switch_turns_the_page_english(app_env):
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120).run()
    at.sidebar.selectbox(key="lang").select("en").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Territories, inhabited places and partners"]
    figures = at.container(ExplorerState.FIGURES).metric
    assert [m.label for m in figures] == ["Territories", "Actors", "Inhabited places", "Relations"]


def test_empty_database_is_filled_on_first_run(monkeypatch, new_db):
    monkeypatch.setenv("CARTO_DB", new_db)
    monkeypatch.setenv("CARTO_TILES", "none")
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert {m.label: m.value for m in at.container(ExplorerState.FIGURES).metric}["Acteurs"] == "340"


def test_signed_out_user_sees_only_the_sign_in(app_env):
    at = signed_in_app(None).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Connexion requise"]
    assert [b.label for b in at.button] == ["Se connecter"]
    assert len(at.metric) == 0


def test_viewer_has_no_admin_page_registered(app_env):
    at = signed_in_app("citoyen@ville.fr").run()
    # the e-mail is data, given to Streamlit as escaped markdown
    assert [as_shown(c.value) for c in at.sidebar.caption] == ["Connecté : citoyen@ville.fr (lecteur)"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/admin.py")


def test_admin_takes_a_snapshot_from_the_admin_page(app_env):
    at = signed_in_app("maire@ville.fr").run()
    at.switch_page("app_pages/admin.py").run()
    at.button(key="snapshot_now").click().run()
    assert not at.exception
    (written,) = [as_shown(s.value) for s in at.success]
    # Named for the database: its file (sample.duckdb) or its PostgreSQL name (sample_<n>).
    assert written.startswith("Sauvegarde écrite : sample")


def test_local_mode_is_an_analyst_and_says_so(app_env):
    at = AppTest.from_file(str(PROJECT / "app.py"), default_timeout=120).run()
    (mode,) = [i.value for i in at.sidebar.info]
    assert mode.startswith("Mode local : vous êtes analyste")


def test_each_run_logs_its_time_and_profile_when_asked(app_env, monkeypatch, tmp_path):
    import pstats

    monkeypatch.setenv("CARTO_RUN_LOG", str(tmp_path / "runs.log"))
    monkeypatch.setenv("CARTO_PROFILE", str(tmp_path / "profiles"))
    at = AppTest.from_file(str(Path(__file__).parent.parent / "app.py"), default_timeout=120)
    at.run()
    at.run()
    assert len((tmp_path / "runs.log").read_text().split()) == 2
    profiles = sorted(p.name for p in (tmp_path / "profiles").iterdir())
    assert profiles == ["run-0000.prof", "run-0001.prof"]
    stats = pstats.Stats(str(tmp_path / "profiles" / "run-0001.prof"))
    assert any("explorer.py" in filename for filename, _, _ in stats.stats)


def test_pages_have_no_icon_that_needs_a_font_the_viewer_may_lack():
    # Emoji need an emoji font on the viewer's system (else empty boxes); Streamlit's Material icons
    # load their font from fonts.gstatic.com (the browser tests saw it): no icon in the page list.
    tree = ast.parse((PROJECT / "app.py").read_text())
    pages = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "Page"]
    assert len(pages) == 6  # explorer, summary, social space, import, data, admin
    assert [k.arg for page in pages for k in page.keywords if k.arg == "icon"] == []
