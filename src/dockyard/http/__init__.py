"""The thin HTTP layer: granian's RSGI interface, routing, and one handler module per resource."""
