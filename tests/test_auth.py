from __future__ import annotations

import pytest

from carto import auth
from carto.errors import InputError, PermissionDenied

pytestmark = pytest.mark.both_stores  # ./test.sh runs these on DuckDB and on PostGIS

VIEWER = auth.User("v", "viewer", "oidc", "v@x.fr")
ANALYST = auth.User("a", "analyst", "oidc", "a@x.fr")
ADMIN = auth.User("d", "admin", "oidc", "d@x.fr")


@pytest.mark.parametrize(
    ("user", "allowed"),
    [
        (VIEWER, {"view"}),
        (ANALYST, {"view", "import", "edit", "undo", "export_raw"}),
        (ADMIN, {"view", "import", "edit", "undo", "export_raw", "settings", "backup"}),
    ],
)
def test_each_role_has_exactly_its_actions(user, allowed):
    assert {a for a in auth.ACTIONS if auth.can(user, a)} == allowed


def test_require_refuses_with_the_needed_role():
    with pytest.raises(PermissionDenied, match="v has the viewer role and may not import; this needs the analyst role"):
        auth.require(VIEWER, "import")
    auth.require(ANALYST, "import")


def test_unknown_action_or_role_is_an_error():
    with pytest.raises(InputError, match="unknown action"):
        auth.can(ADMIN, "fly")
    with pytest.raises(InputError, match="unknown role"):
        auth.User("x", "superuser", "oidc")


RULES = auth.parse_role_rules(
    {
        "default": "viewer",
        "emails": {"Alice@Ville.fr": "admin", "bob@ville.fr": "analyst"},
        "groups": {"analystes": "analyst", "dsi": "admin"},
    }
)


@pytest.mark.parametrize(
    ("identity", "role", "source"),
    [
        ({"email": "alice@ville.fr", "email_verified": True, "is_logged_in": True}, "admin", "oidc"),
        ({"email": "BOB@ville.fr", "email_verified": "true", "is_logged_in": True}, "analyst", "oidc"),
        ({"email": "carol@ville.fr", "email_verified": True, "is_logged_in": True}, "viewer", "oidc"),
        ({"email": "carol@ville.fr", "groups": ["analystes"], "is_logged_in": True}, "analyst", "oidc"),
        ({"email": "bob@ville.fr", "groups": "x, dsi"}, "admin", "proxy"),
    ],
)
def test_roles_come_from_email_and_groups(identity, role, source):
    user = auth.resolve_user(identity, RULES, auth_configured=True, server_address="0.0.0.0")
    assert (user.role, user.source) == (role, source)


def test_local_mode_only_on_loopback_without_sign_in():
    local = auth.resolve_user(None, RULES, auth_configured=False, server_address="localhost")
    assert (local.name, local.role, local.source) == ("local", "analyst", "local")
    # Listening on every interface, or with sign-in configured: nobody is trusted by default.
    for configured, address in ((False, "0.0.0.0"), (False, None), (False, ""), (True, "127.0.0.1")):
        user = auth.resolve_user(None, RULES, auth_configured=configured, server_address=address)
        assert (user.role, user.source) == ("viewer", "anonymous")


def test_identity_is_ignored_without_configured_sign_in():
    claimed = {"email": "alice@ville.fr"}
    user = auth.resolve_user(claimed, RULES, auth_configured=False, server_address="0.0.0.0")
    assert (user.role, user.source) == ("viewer", "anonymous")
    logged_out = {"email": "alice@ville.fr", "is_logged_in": False}
    user = auth.resolve_user(logged_out, RULES, auth_configured=True, server_address="localhost")
    assert (user.role, user.source) == ("viewer", "anonymous")


def test_bad_role_configuration_lists_every_problem():
    with pytest.raises(InputError) as caught:
        auth.parse_role_rules({"default": "boss", "emails": {"a@b.fr": "root"}})
    assert str(caught.value) == (
        "role configuration is wrong: roles.default: 'boss' is not a role (viewer, analyst, admin); "
        "roles.emails.a@b.fr: 'root' is not a role (viewer, analyst, admin)"
    )


def test_role_rules_file(tmp_path, monkeypatch):
    path = tmp_path / "roles.toml"
    path.write_text('[roles]\ndefault = "viewer"\n[roles.emails]\n"maire@ville.fr" = "admin"\n', encoding="utf-8")
    monkeypatch.setenv("CARTO_ROLES", str(path))
    assert auth.load_role_rules().role_for("maire@ville.fr") == "admin"
    path.write_text("[roles\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid TOML"):
        auth.load_role_rules()
    monkeypatch.delenv("CARTO_ROLES")
    assert auth.load_role_rules() == auth.RoleRules()


def test_viewer_cannot_replace_the_data_by_function_call(conn):
    from carto import store
    from carto.ingest import sample

    with pytest.raises(PermissionDenied, match="may not import"):
        sample.load_folder(conn, sample.SAMPLE_DIR, user=VIEWER)
    assert store.is_empty(conn)
