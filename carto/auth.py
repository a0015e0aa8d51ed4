"""Who is acting, and what their role lets them do.

Three roles, each with everything of the one before: **viewer** (explorer, summary), **analyst**
(also import, edit, undo, export of raw tables), **admin** (also settings, backups). Roles come from
configuration (e-mail or group → role); the identity comes from OpenID Connect (``st.login``), a
trusted reverse-proxy header, or the local mode where the one local user is an analyst. Functions
that write call :func:`require` with the acting user, so a refused role is refused by the server,
not only hidden by the interface.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from carto.errors import InputError, PermissionDenied

ROLES = ("viewer", "analyst", "admin")

# The lowest role allowed to do each action.
ACTIONS: dict[str, str] = {
    "view": "viewer",
    "import": "analyst",
    "edit": "analyst",
    "undo": "analyst",
    "export_raw": "analyst",
    "settings": "admin",
    "backup": "admin",
}

LOCAL_ADDRESSES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


@dataclass(frozen=True)
class User:
    """The acting person. ``source`` says how we know them: oidc, proxy, local, cli, system, anonymous."""

    name: str
    role: str
    source: str
    email: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            msg = f"unknown role {self.role!r}; expected one of {', '.join(ROLES)}"
            raise InputError(msg)


# Internal work that no person triggers (filling an empty database with the sample).
SYSTEM = User(name="system", role="admin", source="system")


def cli_user() -> User:
    """Whoever runs the command line already holds the database file: an administrator."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "cli"
    return User(name=name, role="admin", source="cli")


def can(user: User, action: str) -> bool:
    """True when ``user``'s role reaches the one ``action`` needs."""
    try:
        needed = ACTIONS[action]
    except KeyError:
        msg = f"unknown action {action!r}"
        raise InputError(msg) from None
    return ROLES.index(user.role) >= ROLES.index(needed)


def require(user: User, action: str) -> None:
    """Raise :class:`PermissionDenied` unless ``user`` may do ``action``."""
    if not can(user, action):
        needed = ACTIONS[action]
        msg = (
            f"{user.name} has the {user.role} role and may not {action.replace('_', ' ')}; "
            f"this needs the {needed} role: ask an administrator"
        )
        raise PermissionDenied(msg)


@dataclass(frozen=True)
class RoleRules:
    """Configuration: e-mail → role, group → role, and the role of anyone else signed in."""

    emails: Mapping[str, str] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)
    default: str = "viewer"

    def role_for(self, email: str | None, groups: Iterable[str] = ()) -> str:
        """The highest role granted by the e-mail or any group; ``default`` otherwise."""
        granted = [self.default]
        if email and email.strip().lower() in self.emails:
            granted.append(self.emails[email.strip().lower()])
        granted += [self.groups[g] for g in groups if g in self.groups]
        return max(granted, key=ROLES.index)


def parse_role_rules(config: Mapping[str, Any]) -> RoleRules:
    """Read a ``[roles]`` table: ``default``, ``[roles.emails]`` and ``[roles.groups]``.

    Every problem is reported at once, so a bad configuration is fixed in one go.
    """
    problems: list[str] = []

    def checked(where: str, role: object) -> str:
        if role not in ROLES:
            problems.append(f"{where}: {role!r} is not a role ({', '.join(ROLES)})")
            return "viewer"
        return str(role)

    default = checked("roles.default", config.get("default", "viewer"))
    emails = {
        str(k).strip().lower(): checked(f"roles.emails.{k}", v) for k, v in dict(config.get("emails", {})).items()
    }
    groups = {str(k): checked(f"roles.groups.{k}", v) for k, v in dict(config.get("groups", {})).items()}
    if problems:
        msg = "role configuration is wrong: " + "; ".join(problems)
        raise InputError(msg)
    return RoleRules(emails=emails, groups=groups, default=default)


def load_role_rules(path: str | Path | None = None) -> RoleRules:
    """Rules from the TOML file ``path`` or ``$CARTO_ROLES`` (its ``[roles]`` table); none → defaults."""
    chosen = path or os.environ.get("CARTO_ROLES")
    if not chosen:
        return RoleRules()
    try:
        data = tomllib.loads(Path(chosen).read_text(encoding="utf-8"))
    except OSError as exc:
        msg = f"cannot read the role configuration {chosen}: {exc.strerror}"
        raise InputError(msg) from exc
    except tomllib.TOMLDecodeError as exc:
        msg = f"the role configuration {chosen} is not valid TOML: {exc}"
        raise InputError(msg) from exc
    return parse_role_rules(data.get("roles", {}))


def _groups_of(identity: Mapping[str, Any]) -> list[str]:
    """Groups from OIDC claims (a list) or a proxy header (one comma-separated value); none if absent."""
    raw = identity.get("groups")
    if raw is None:
        return []
    if isinstance(raw, str):
        return [g.strip() for g in raw.split(",") if g.strip()]
    if isinstance(raw, Iterable) and not isinstance(raw, bytes | Mapping):
        return [str(g).strip() for g in raw if g is not None and str(g).strip()]
    return []


def _email_of(identity: Mapping[str, Any]) -> str | None:
    """The identity's e-mail as a non-empty string, or None (absent, empty, not text)."""
    email = identity.get("email")
    if not isinstance(email, str) or not email.strip():
        return None
    return email.strip()


def _is_verified(identity: Mapping[str, Any]) -> bool:
    """The OIDC provider vouches for the e-mail (``email_verified``, a boolean or its text)."""
    flag = identity.get("email_verified")
    return flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")


def resolve_user(
    identity: Mapping[str, Any] | None,
    rules: RoleRules,
    *,
    auth_configured: bool,
    server_address: str | None,
    request_host: str | None = None,
    request_origin: str | None = None,
) -> User:
    """Decide who is acting.

    ``identity`` is what the sign-in gave (``st.user``: OIDC claims or trusted proxy headers).
    With an identity, the role comes from ``rules``: by e-mail only when the e-mail is vouched
    for (a proxy's header, or an OIDC ``email_verified`` claim), by groups in any case.

    Without one, the local mode applies only when no sign-in is configured, the server listens on
    a loopback address *and* the browser reached it by a loopback name (``request_host``, and
    ``request_origin`` when sent): a page from another site whose name resolves to 127.0.0.1
    (DNS rebinding) is refused (source ``"foreign-host"``). ``None`` for both means no HTTP
    request at all (a script run without a server). Anyone else is an anonymous viewer.
    """
    # An identity counts only where sign-in is configured; otherwise anybody could claim one.
    claims = dict(identity or {})
    email = _email_of(claims)
    if auth_configured and email and claims.get("is_logged_in", True) is not False:
        name = str(claims.get("name") or email)
        source = "oidc" if claims.get("is_logged_in") else "proxy"
        vouched = source == "proxy" or _is_verified(claims)
        role = rules.role_for(email if vouched else None, _groups_of(claims))
        return User(name=name, role=role, source=source, email=email)
    if not auth_configured and is_local_address(server_address):
        if not is_loopback_request(request_host, request_origin):
            return User(name="anonymous", role="viewer", source="foreign-host")
        return User(name="local", role="analyst", source="local")
    return User(name="anonymous", role="viewer", source="anonymous")


def is_local_address(address: str | None) -> bool:
    """True for a loopback address; an empty address means every interface, so False."""
    return bool(address) and str(address).strip().lower() in LOCAL_ADDRESSES


def is_loopback_name(hostname: str | None) -> bool:
    """``localhost`` or a loopback IP (127.0.0.0/8, ::1); anything else, a name that could resolve anywhere."""
    if not hostname:
        return False
    name = hostname.strip().lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_request(host: str | None, origin: str | None) -> bool:
    """The browser asked for a loopback name (``Host``) from a loopback page (``Origin``, when sent)."""
    if host is None and origin is None:
        return True  # no HTTP request: a script run without a server (tests, CLI)
    try:
        hostname = urlsplit(f"//{host}").hostname if host is not None else None
        origin_ok = origin is None or is_loopback_name(urlsplit(origin).hostname)
    except ValueError:
        return False
    return is_loopback_name(hostname) and origin_ok
