"""The pull-through cache: upstream registries pulled through on demand, their content kept here.

- `upstreams.py`: the upstreams and how a request's name maps onto a cache repository (routes);
- `manifests.py`: byte-exact manifests, tag TTLs with HEAD revalidation, stale serving;
- `blobs.py` and `fill.py`: blobs streamed to clients while they are stored, one download per blob
  across every process and instance (`leases.py`);
- `listing.py`: tags and referrers as upstream has them;
- `pulls.py` and `eviction.py`: last pulls, and releasing what is not pulled to the garbage collector;
- `errors.py`, `metrics.py`, `notify.py`: what clients, Prometheus and webhooks are told;
- `service.py`: all of it together, as the registry and the HTTP layer use it; `warm.py`: pre-warming.

It depends on `remote` (the client for other registries), the metadata store's interfaces, the blob
store and `core`; the registry asks it when a repository is a cache. See docs/proxy.md.
"""

from dockyard.proxy.notify import Filled, FillEvents
from dockyard.proxy.service import CacheNote, CacheStore, LocalName, PullThroughCache
from dockyard.proxy.upstreams import CacheRoute

__all__ = ["CacheNote", "CacheRoute", "CacheStore", "FillEvents", "Filled", "LocalName", "PullThroughCache"]
