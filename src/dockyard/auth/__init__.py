"""Authentication and authorization: htpasswd users, bearer tokens, and the policy that answers
"may this principal do ACTION on REPOSITORY". Nothing here sees HTTP.

- `service.py`: the Authenticator the rest of dockyard sees (credentials to a principal, a principal
  and scopes to a token), built once per worker;
- `credentials.py`: the htpasswd file, the cache of verified credentials, the failed-login limit;
  `password_checks.py`: bcrypt in a bounded pool of its own;
- `tokens.py`, `keys.py`, `grants.py`: signed tokens, their keys, upload grants;
- `revocation.py`: what ends refresh tokens and UI sessions before they expire, on every instance
  (the interface a new source of credentials plugs its stamps into);
- `policy.py`: the rules.
"""
