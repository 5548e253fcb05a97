"""The access log's own cost, apart from any server: CPU per line on the event loop, and all the
process's CPU per line including the writer thread's, writing to /dev/null or a file.

    python -m bench.accesslog [--lines N] [--file PATH]

The server-level comparison is `python -m bench.run --only manifest_get_tag --peer dockyard:1-log
--dockyard dockyard:1+log --dockyard-2w none` (see README.md); on a busy machine its noise is
larger than what this measures.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from dockyard.http.accesslog import AccessLog, LogFormat, RequestIds
from dockyard.http.messages import Request
from dockyard.telemetry.linewriter import LineWriter


class _Scope:
    method = "GET"
    path = "/v2/bench/manifest/manifests/latest"
    client = "127.0.0.1:54321"
    headers = {"user-agent": "wrk/4.2.0", "accept": "application/vnd.oci.image.manifest.v1+json"}  # noqa: RUF012


def measure(log_format: LogFormat, lines: int, sink: Path) -> dict[str, float]:
    dropped: list[int] = []
    writer = LineWriter(sink, dropped.append, max_pending=lines + 1)
    access, ids, scope = AccessLog(writer, log_format), RequestIds(), _Scope()
    cpu_before, loop_before = time.process_time(), time.thread_time()
    for _ in range(lines):
        request_id = ids.for_request(scope.headers.get("x-request-id"))
        req = Request(scope.method, scope.path, "", scope.headers, None, client=scope.client, request_id=request_id)
        access.record(req, 200, 528, 0.000412)
    loop_cpu = time.thread_time() - loop_before
    access.close()  # the writer thread writes what is left
    total_cpu = time.process_time() - cpu_before
    return {"loop_us_per_line": loop_cpu / lines * 1e6, "process_us_per_line": total_cpu / lines * 1e6}


def measure_logging(lines: int, sink: Path) -> float:
    """What one line cost before: a `logging` call per request, as dockyard 0.1 made it."""
    logger = logging.getLogger("bench.access")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    with sink.open("a") as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
        logging._srcfile = None  # type: ignore[attr-defined]  # as dockyard 0.1 did
        scope, before = _Scope(), time.process_time()
        for _ in range(lines):
            logger.info('%s "%s %s%s" %d %.1fms', scope.client, scope.method, scope.path, "", 200, 0.412)
        logger.removeHandler(handler)
    return (time.process_time() - before) / lines * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.accesslog", description=__doc__)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--file", type=Path, default=Path("/dev/null"), help="sink (default /dev/null)")
    args = parser.parse_args()
    for log_format in ("text", "json"):
        result = measure(log_format, args.lines, args.file)
        print(
            f"{log_format}: {result['loop_us_per_line']:.2f} us/line on the event loop, "
            f"{result['process_us_per_line']:.2f} us/line in all ({args.lines} lines to {args.file})"
        )
    print(f"logging (before): {measure_logging(args.lines, args.file):.2f} us/line, all on the event loop")


if __name__ == "__main__":
    main()
