"""The web UI's route table: its files under `/` and `/ui/`, its JSON API under `/v2/_dockyard/`.

Every route is public to the auth guard: the files need no login, and the API authenticates its
callers itself (session.py). Repository names contain slashes, so what follows a name in the API's
paths is introduced by `/-/`, a path segment no repository name can contain.
"""

from __future__ import annotations

from dockyard.auth.oidc import OidcClient
from dockyard.http.routes import Route, route
from dockyard.meta.access_tokens import AccessTokens
from dockyard.meta.audit import AuditLog
from dockyard.replication.service import ReplicationService
from dockyard.ui.api import Api
from dockyard.ui.assets import Asset
from dockyard.ui.audit import AuditPage
from dockyard.ui.oidc import CALLBACK_PATH, OidcLogin
from dockyard.ui.pages import Pages
from dockyard.ui.replication import ReplicationPage
from dockyard.ui.session import Sessions
from dockyard.ui.tokens import TokensPage

_REPOSITORY = r"/v2/_dockyard/repositories/(?P<name>.+)/-"


def ui_routes(
    sessions: Sessions | None,
    assets: dict[str, Asset] | None,
    replication: ReplicationService | None = None,
    audit: AuditLog | None = None,
    oidc: OidcClient | None = None,
    *,
    access_tokens: AccessTokens | None = None,
) -> tuple[Route, ...]:
    """`sessions` is None when auth is off, `assets` when the UI is disabled (its API still answers),
    `oidc` when no identity provider is configured, `access_tokens` when access tokens are off."""
    pages = Pages(assets)
    single_sign_on = OidcLogin(sessions, oidc)
    api = Api(sessions, single_sign_on)
    tokens = TokensPage(sessions, access_tokens)
    replication_page = ReplicationPage(sessions, replication)
    audit_page = AuditPage(sessions, audit)
    return (
        route("ui_root", r"/", public=True, GET=pages.root),
        route("ui_root", r"/ui", public=True, GET=pages.ui_without_slash),
        route("ui_asset", r"/ui/", public=True, GET=pages.asset, HEAD=pages.asset),
        route("ui_asset", r"/ui/(?P<file>[A-Za-z0-9][A-Za-z0-9._-]*)", public=True, GET=pages.asset, HEAD=pages.asset),
        route("ui_oidc_login", r"/ui/oidc/login", public=True, changes_content=False, GET=single_sign_on.login),
        route("ui_oidc_callback", CALLBACK_PATH, public=True, changes_content=False, GET=single_sign_on.callback),
        route(
            "ui_session",
            r"/v2/_dockyard/session",
            public=True,
            changes_content=False,
            GET=api.session,
            POST=api.log_in,
            DELETE=api.log_out,
        ),
        route("ui_repositories", r"/v2/_dockyard/repositories", public=True, GET=api.repositories),
        route("ui_tags", _REPOSITORY + r"/tags", public=True, GET=api.tags),
        route("ui_tag", _REPOSITORY + r"/tags/(?P<tag>[^/]+)", public=True, DELETE=api.delete_tag),
        route(
            "ui_manifest",
            _REPOSITORY + r"/manifests/(?P<reference>[^/]+)",
            public=True,
            GET=api.manifest,
            DELETE=api.delete_manifest,
        ),
        route("ui_rights", _REPOSITORY + r"/rights", public=True, GET=api.rights),
        route("ui_replication", r"/v2/_dockyard/replication", public=True, GET=replication_page.status),
        route("ui_audit", r"/v2/_dockyard/audit", public=True, GET=audit_page.entries),
        # Tokens are no registry content: they are managed in read-only mode too, as logins are.
        route(
            "ui_tokens",
            r"/v2/_dockyard/tokens",
            public=True,
            changes_content=False,
            GET=tokens.list_tokens,
            POST=tokens.create,
        ),
        route(
            "ui_token",
            r"/v2/_dockyard/tokens/(?P<token_id>[0-9a-f]{16})",
            public=True,
            changes_content=False,
            DELETE=tokens.revoke,
        ),
    )
