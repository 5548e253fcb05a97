"""Authentication and authorization: htpasswd users, bearer tokens, and the policy that answers
"may this principal do ACTION on REPOSITORY". Nothing here sees HTTP."""
