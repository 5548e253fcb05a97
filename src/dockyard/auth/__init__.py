"""Authentication and authorization: users (htpasswd, LDAP, OpenID Connect), bearer tokens, and the
policy that answers "may this principal do ACTION on REPOSITORY". Nothing here serves HTTP (oidc.py
only speaks to the identity provider, as its client).

- `service.py`: the Authenticator the rest of dockyard sees (credentials to a principal, a principal
  and scopes to a token), built once per worker;
- `sources.py`: where user names and passwords are checked, behind one narrow interface, in the
  configured order: the htpasswd file (`credentials.py`, with the failed-login limit) and an LDAP
  directory (`ldap.py`); `verifier.py`: the cache of verified credentials in front of them;
  `password_checks.py`: bcrypt and directory binds in a bounded pool of their own;
- `oidc.py`: the OpenID Connect relying party of the web UI's single sign-on;
- `tokens.py`, `keys.py`, `grants.py`: signed tokens, their keys, upload grants;
- `revocation.py`: what ends refresh tokens and UI sessions before they expire, on every instance
  (the interface a new source of credentials plugs its stamps into);
- `policy.py`: the rules.
"""
