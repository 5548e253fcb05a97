"""The web UI: its static files (static/), the pages that serve them, its JSON API, its sessions and
CSRF protection, and the route table the composition root hands to the HTTP app. The HTTP layer
knows nothing of it; it may use the HTTP layer's messages and errors and the registry."""
