"""An AppTest signed in through OpenID Connect as one e-mail, with the roles given (no provider is
reached: Streamlit's ``st.login`` is configured, and the test sets the signed-in user itself)."""

from __future__ import annotations

from typing import Any

from streamlit.testing.v1 import AppTest

OIDC_FOR_TESTS = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-only",
    "client_id": "carto",
    "client_secret": "test-only",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",  # never reached
}


def signed_in(at: AppTest, email: str, roles: dict[str, Any]) -> AppTest:
    """``at`` with sign-in configured, ``roles`` as the ``[roles]`` table, and ``email`` signed in."""
    at.secrets["auth"] = dict(OIDC_FOR_TESTS)
    at.secrets["roles"] = roles
    at.user = {"email": email, "email_verified": True, "is_logged_in": True}
    return at
