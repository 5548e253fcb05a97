"""How dockyard reports on itself, beneath every other room: log formats and the configuration of
`logging`, the line writer behind the access log, the metrics every store shares, how background
work logs its failures, and whether a local disk takes writes. The metrics of each subsystem live
in its own room (http/, registry/, gc/, events/)."""
