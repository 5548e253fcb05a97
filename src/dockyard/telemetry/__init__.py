"""How dockyard reports on itself, beneath every other room: log formats and the configuration of
`logging`, the line writer behind the access log, and the metrics every store shares. The metrics
of each subsystem live in its own room (http/, registry/, gc/, events/)."""
