"""Who gets which role at the edges of each sign-in mode: rebinding, odd proxy headers, OIDC claims."""

from __future__ import annotations

import pytest

from carto import auth

RULES = auth.parse_role_rules(
    {"default": "viewer", "emails": {"dsi@ville.example": "admin"}, "groups": {"analystes": "analyst"}}
)


def local(host: str | None, origin: str | None) -> auth.User:
    return auth.resolve_user(
        None, RULES, auth_configured=False, server_address="localhost", request_host=host, request_origin=origin
    )


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("localhost:8501", "http://localhost:8501"),
        ("127.0.0.1:8501", "http://127.0.0.1:8501"),
        ("127.8.9.10:8501", None),
        ("[::1]:8501", "http://[::1]:8501"),
        ("LOCALHOST.:8501", None),
    ],
)
def test_the_local_analyst_is_whoever_reaches_the_port_by_a_loopback_name(host, origin):
    assert (local(host, origin).role, local(host, origin).source) == ("analyst", "local")


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("evil.example:8501", "http://evil.example:8501"),  # DNS rebinding: the name resolves to 127.0.0.1
        ("evil.example:8501", None),
        ("localhost:8501", "http://evil.example"),  # a foreign page opening our websocket
        ("localhost:8501", "null"),  # sandboxed frame or file:// page
        ("localhost.evil.example:8501", None),
        ("127.0.0.1.nip.io:8501", None),
        ("0.0.0.0:8501", None),
        ("10.0.0.5:8501", None),
        ("[::1:8501", None),  # malformed
        ("", None),
    ],
)
def test_a_foreign_host_or_origin_gets_nothing(host, origin):
    user = local(host, origin)
    assert (user.name, user.role, user.source) == ("anonymous", "viewer", "foreign-host")


def proxy(headers: dict[str, object]) -> auth.User:
    return auth.resolve_user(headers, RULES, auth_configured=True, server_address="0.0.0.0")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # the groups header absent: st.user maps it to None (was TypeError for everyone)
        ({"email": "dsi@ville.example", "groups": None}, ("admin", "proxy")),
        ({"email": "carol@ville.example", "groups": None}, ("viewer", "proxy")),
        ({"email": "carol@ville.example", "groups": ""}, ("viewer", "proxy")),
        ({"email": "carol@ville.example", "groups": " , ,analystes,"}, ("analyst", "proxy")),
        ({"email": "carol@ville.example", "groups": ["analystes", None]}, ("analyst", "proxy")),
        ({"email": "carol@ville.example", "groups": 42}, ("viewer", "proxy")),
        ({"email": "carol@ville.example", "groups": {"analystes": 1}}, ("viewer", "proxy")),
        # no identity at all, or an empty or odd e-mail: the sign-in gate (anonymous)
        ({"email": None, "groups": None}, ("viewer", "anonymous")),
        ({"email": "", "groups": "analystes"}, ("viewer", "anonymous")),
        ({"email": "   ", "groups": None}, ("viewer", "anonymous")),
        ({"email": ["dsi@ville.example"], "groups": None}, ("viewer", "anonymous")),
        ({}, ("viewer", "anonymous")),
    ],
)
def test_proxy_headers_missing_empty_or_odd(headers, expected):
    user = proxy(headers)
    assert (user.role, user.source) == expected


@pytest.mark.parametrize(
    ("claims", "role"),
    [
        ({"email": "dsi@ville.example", "email_verified": True}, "admin"),
        ({"email": "dsi@ville.example", "email_verified": "true"}, "admin"),
        # the provider does not vouch for the address: no role by e-mail
        ({"email": "dsi@ville.example", "email_verified": False}, "viewer"),
        ({"email": "dsi@ville.example", "email_verified": "false"}, "viewer"),
        ({"email": "dsi@ville.example"}, "viewer"),
        ({"email": "dsi@ville.example", "email_verified": 1}, "viewer"),
        # groups come from the signed token itself, verified e-mail or not
        ({"email": "dsi@ville.example", "email_verified": False, "groups": ["analystes"]}, "analyst"),
    ],
)
def test_oidc_grants_by_email_only_when_the_provider_verified_it(claims, role):
    user = auth.resolve_user({**claims, "is_logged_in": True}, RULES, auth_configured=True, server_address="0.0.0.0")
    assert (user.role, user.source, user.email) == (role, "oidc", "dsi@ville.example")
