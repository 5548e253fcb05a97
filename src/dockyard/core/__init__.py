"""The pure core: grammar, digests, media types and manifest parsing. No I/O here."""
