"""The metadata store: repositories, blob links, manifests, tags, referrers and upload sessions."""
