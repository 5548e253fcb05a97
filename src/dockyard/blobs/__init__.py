"""The blob store: content-addressed bytes and in-progress uploads."""
