"""One module per resource of the /v2/ API."""
