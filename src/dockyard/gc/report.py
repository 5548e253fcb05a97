"""What a collection freed, per repository, as `dockyard gc` prints it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.meta.garbage_reviews import Collected

_UNLINKED = "(no repository)"


@dataclass
class Freed:
    manifests: int = 0
    blobs: int = 0
    bytes: int = 0


class Report:
    def __init__(self, dry_run: bool):
        self.dry_run = dry_run
        self.by_repository: defaultdict[str, Freed] = defaultdict(Freed)
        self.digests: set[str] = set()

    def add(self, collected: Iterable[Collected]) -> None:
        for item in collected:
            freed = self.by_repository[item.repository or _UNLINKED]
            self.digests.add(item.digest)
            if item.kind == "manifest":
                freed.manifests += 1
            else:
                freed.blobs += 1
                freed.bytes += item.size

    def total(self) -> Freed:
        total = Freed()
        for freed in self.by_repository.values():
            total.manifests += freed.manifests
            total.blobs += freed.blobs
            total.bytes += freed.bytes
        return total

    def lines(self) -> list[str]:
        width = max([len("repository"), *map(len, self.by_repository)])
        lines = [f"{'repository':<{width}}  {'manifests':>9}  {'blobs':>7}  {'bytes':>14}"]
        for name in sorted(self.by_repository):
            freed = self.by_repository[name]
            lines.append(f"{name:<{width}}  {freed.manifests:>9}  {freed.blobs:>7}  {freed.bytes:>14}")
        lines.append(self.summary())
        return lines

    def summary(self) -> str:
        total = self.total()
        verb = "would free" if self.dry_run else "freed"
        return f"{verb} {total.manifests} manifests, {total.blobs} blobs, {total.bytes} bytes"
