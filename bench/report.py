"""Aggregate the rounds (medians, min-max, per-round ratios), judge the targets, write markdown."""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class Target:
    workload: str
    metric: str
    kind: str  # "ratio": dockyard/peer in the same round; "floor": dockyard/floor; "abs": dockyard's own figure
    op: str  # ">=", "<=", "<"
    threshold: float
    text: str


TARGETS = [
    Target("manifest_get_tag", "rps", "ratio", ">=", 20, "manifest GET by tag >= 20x peer req/s"),
    Target("manifest_get_tag", "server_cpu_us_per_req", "abs", "<=", 60, "manifest GET by tag <= 60 us CPU/req"),
    Target("manifest_head_digest", "rps", "ratio", ">=", 20, "manifest HEAD by digest >= 20x peer req/s"),
    Target(
        "manifest_head_digest",
        "server_cpu_us_per_req",
        "abs",
        "<=",
        60,
        "manifest HEAD by digest <= 60 us CPU/req",
    ),
    Target("blob_get_1", "mb_s", "ratio", ">=", 0.8, "blob GET 1 stream >= 0.8x peer MB/s"),
    Target("blob_get_8", "mb_s", "ratio", ">=", 1.0, "blob GET 8 streams >= 1.0x peer MB/s"),
    Target("push_monolithic", "mb_s", "ratio", ">=", 2.5, "push 512 MiB monolithic >= 2.5x peer MB/s"),
    Target("push_monolithic", "peak_rss_growth_mb", "abs", "<", 20, "push monolithic: peak RSS growth < 20 MB"),
    Target("push_patch", "mb_s", "ratio", ">=", 2.5, "push 512 MiB POST+PATCH+PUT >= 2.5x peer MB/s"),
    Target("push_patch", "peak_rss_growth_mb", "abs", "<", 20, "push POST+PATCH+PUT: peak RSS growth < 20 MB"),
    Target("mixed", "manifest_p99_ms", "abs", "<=", 10, "mixed: manifest p99 <= 10 ms"),
    Target("mixed", "download_mb_s", "abs", ">=", 1000, "mixed: downloads >= 1 GB/s"),
    Target("tags_page", "p50_ms", "abs", "<=", 2, "tags/list n=100 of 10k tags <= 2 ms"),
    Target("catalog_page", "p50_ms", "abs", "<=", 2, "_catalog page of 2k repos <= 2 ms"),
    Target("tags_all", "p50_ms", "abs", "<=", 10, "whole 10k-tag list <= 10 ms"),
    Target(
        "manifest_get_tag",
        "server_cpu_us_per_req",
        "floor",
        "<=",
        1.5,
        "manifest GET by tag: CPU/req <= 1.5x the floor's",
    ),
    Target(
        "manifest_head_digest",
        "server_cpu_us_per_req",
        "floor",
        "<=",
        1.5,
        "manifest HEAD by digest: CPU/req <= 1.5x the floor's",
    ),
    Target(
        "manifest_head_digest",
        "server_cpu_us_per_req",
        "head/get",
        "<=",
        1.0,
        "manifest HEAD by digest: CPU/req above the floor's <= GET by tag's",
    ),
    Target("push_monolithic", "mb_s", "floor", ">=", 0.7, "push monolithic >= 0.7x the raw receiver's MB/s"),
]
# what each round's line in the per-round table shows: (workload, metric, label) of dockyard/floor
FLOOR_RATIOS = [
    ("manifest_get_tag", "server_cpu_us_per_req", "GET CPU/req"),
    ("manifest_head_digest", "server_cpu_us_per_req", "HEAD CPU/req"),
    ("push_monolithic", "mb_s", "push mono MB/s"),
    ("push_patch", "mb_s", "push PATCH MB/s"),
]

# what the markdown table shows for each workload (the JSON keeps every figure)
SHOWN: dict[str, list[tuple[str, str]]] = {
    "manifest_get_tag": [
        ("rps", "req/s"),
        ("p50_ms", "p50 ms"),
        ("p99_ms", "p99 ms"),
        ("server_cpu_us_per_req", "server CPU us/req"),
        ("tool_cpu_s", "wrk CPU s"),
    ],
    "manifest_head_digest": [
        ("rps", "req/s"),
        ("p50_ms", "p50 ms"),
        ("p99_ms", "p99 ms"),
        ("server_cpu_us_per_req", "server CPU us/req"),
        ("tool_cpu_s", "load tool CPU s"),
    ],
    "blob_get_1": [("mb_s", "MB/s"), ("server_cpu_s_per_gb", "server CPU s/GB")],
    "blob_get_8": [("mb_s", "MB/s"), ("server_cpu_s_per_gb", "server CPU s/GB")],
    "push_monolithic": [
        ("mb_s", "MB/s"),
        ("server_cpu_s_per_gb", "server CPU s/GB"),
        ("peak_rss_growth_mb", "peak RSS growth MB"),
        ("peak_rss_mb", "peak RSS MB"),
    ],
    "push_patch": [
        ("mb_s", "MB/s"),
        ("server_cpu_s_per_gb", "server CPU s/GB"),
        ("peak_rss_growth_mb", "peak RSS growth MB"),
        ("peak_rss_mb", "peak RSS MB"),
    ],
    "small_push": [("images_s", "images/s"), ("server_cpu_ms_per_image", "server CPU ms/image")],
    "small_pull": [("images_s", "images/s"), ("server_cpu_ms_per_image", "server CPU ms/image")],
    "mixed": [
        ("manifest_rps", "manifest req/s"),
        ("manifest_p99_ms", "manifest p99 ms"),
        ("download_mb_s", "download MB/s"),
        ("server_cpu_cores", "server CPU cores"),
    ],
    "tags_page": [("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("items", "items")],
    "tags_page_after_last": [("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("items", "items")],
    "tags_all": [("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("items", "items"), ("requests", "requests")],
    "catalog_page": [("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("items", "items")],
    "catalog_last_page": [("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("items", "items")],
    "catalog_all_pages": [
        ("p50_ms", "p50 ms"),
        ("p99_ms", "p99 ms"),
        ("items", "items"),
        ("requests", "requests"),
    ],
}


def _stats(values: list[float]) -> Json | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def _num(v: object) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def _value(rnd: Json, w: str, reg: str, m: str, floor: str | None = None) -> float | None:
    """A registry's figure in one round; with `floor`, what it costs above the floor's (CPU only)."""
    value = _num(rnd["results"].get(w, {}).get(reg, {}).get(m))
    if floor is None or value is None:
        return value
    under = _num(rnd["results"].get(w, {}).get(floor, {}).get(m))
    return None if under is None else value - under


def _round_ratios(
    rounds: list[Json], w: str, m: str, a_reg: str, b_reg: str, b_w: str | None = None, above: str | None = None
) -> list[float]:
    """a/b within each round where both were measured; b taken from workload `b_w` if given; with
    `above`, both as what they cost above that registry (the floor)."""
    ratios = []
    for rnd in rounds:
        a = _value(rnd, w, a_reg, m, above)
        b = _value(rnd, b_w or w, b_reg, m, above)
        if a is not None and b:
            ratios.append(a / b)
    return ratios


def summarize(rounds: list[Json], peer: str, others: list[str], floor: str | None = None) -> Json:
    """{workload: {metric: {registry: stats, "ratio:registry": stats, "floor:registry": stats}}}, ratios
    taken within each round (dockyard/peer, dockyard/floor, and a HEAD's CPU over the GET's)."""
    summary: Json = {}
    workloads: list[str] = []
    for rnd in rounds:
        for w in rnd["results"]:
            if w not in workloads:
                workloads.append(w)
    for w in workloads:
        metrics: list[str] = []
        for rnd in rounds:
            for res in rnd["results"].get(w, {}).values():
                for k in res:
                    if k not in metrics and _num(res[k]) is not None:
                        metrics.append(k)
        wsum: Json = {}
        for m in metrics:
            entry: Json = {}
            for reg in [peer, *others, *([floor] if floor else []), "harness"]:
                vals = [v for rnd in rounds if (v := _num(rnd["results"].get(w, {}).get(reg, {}).get(m))) is not None]
                if (st := _stats(vals)) is not None:
                    entry[reg] = st
            for reg in others:
                if (st := _stats(_round_ratios(rounds, w, m, reg, peer))) is not None:
                    entry[f"ratio:{reg}"] = st
                if floor and (st := _stats(_round_ratios(rounds, w, m, reg, floor))) is not None:
                    entry[f"floor:{reg}"] = st
                if w in ("manifest_get_tag", "manifest_head_digest") and m == "server_cpu_us_per_req":
                    entry.update(_manifest_cpu(rounds, w, reg, floor))
            for reg in others[1:]:
                if (st := _stats(_round_ratios(rounds, w, m, reg, others[0]))) is not None:
                    entry[f"ratio:{reg}/{others[0]}"] = st
            wsum[m] = entry
        summary[w] = wsum
    return summary


def _manifest_cpu(rounds: list[Json], w: str, reg: str, floor: str | None) -> Json:
    """CPU per manifest request above the floor's ("own"), and a HEAD's over a GET's ("head/get"):
    on what the registry adds when there is a floor, since HEAD and GET are driven by different load
    tools (ab and wrk) whose requests cost granian differently."""
    m = "server_cpu_us_per_req"
    out: Json = {}
    if floor and (st := _stats([v for rnd in rounds if (v := _value(rnd, w, reg, m, floor)) is not None])):
        out[f"own:{reg}"] = st
    if w == "manifest_head_digest":
        ratios = _round_ratios(rounds, w, m, reg, reg, "manifest_get_tag", above=floor)
        if st := _stats(ratios):
            out[f"head/get:{reg}"] = st
    return out


def noisy_floor_ratios(summary: Json, dockyard: str, max_spread: float) -> list[str]:
    """The floor ratios whose min-max spread over the rounds exceeds `max_spread` of their median."""
    noisy = []
    for w, m, label in FLOOR_RATIOS:
        st = summary.get(w, {}).get(m, {}).get(f"floor:{dockyard}")
        if st is not None and st["median"] and (st["max"] - st["min"]) / st["median"] > max_spread:
            noisy.append(label)
    return noisy


def judge(summary: Json, dockyard: str, floor: str | None = None) -> list[Json]:
    verdicts = []
    for t in TARGETS:
        if t.kind == "floor" and not floor:
            continue
        key = dockyard if t.kind == "abs" else f"{t.kind}:{dockyard}"
        st = summary.get(t.workload, {}).get(t.metric, {}).get(key)
        if st is None:
            verdicts.append({"target": t.text, "value": None, "holds": None})
            continue
        v = st["median"]
        holds = {">=": v >= t.threshold, "<=": v <= t.threshold, "<": v < t.threshold}[t.op]
        verdicts.append(
            {
                "target": t.text,
                "workload": t.workload,
                "metric": t.metric,
                "kind": t.kind,
                "value": v,
                "min": st["min"],
                "max": st["max"],
                "holds": holds,
            }
        )
    return verdicts


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def _cell(st: Json | None, ratio: bool = False) -> str:
    if st is None:
        return "-"
    suffix = "x" if ratio else ""
    if st["n"] == 1 or st["min"] == st["max"]:
        return f"{fmt(st['median'])}{suffix}"
    return f"{fmt(st['median'])}{suffix} ({fmt(st['min'])}-{fmt(st['max'])})"


def markdown(data: Json) -> str:
    meta = data["meta"]
    peer = meta["peer"]
    main = meta["dockyard"]
    extra = meta.get("extra", [])
    regs = data["registries"]
    lines = [
        f"# dockyard benchmark, {meta['date']}",
        "",
        f"- machine: {meta['machine']}",
        f"- mode: {'smoke' if meta['smoke'] else 'full'}, {meta['rounds']} round(s), order of registries "
        "rotated each round; cells: median (min-max) over rounds; ratios are taken within each round",
        f"- command: `{meta['command']}`",
    ]
    for name, r in regs.items():
        desc = f"{r['kind']}"
        if r.get("workers"):
            desc += f", {r['workers']} worker(s)"
        if r.get("version"):
            desc += f", {r['version']}"
        if r.get("event_loop"):
            desc += f", {r['event_loop']} event loop"
        lines.append(f"- `{name}`: {desc}" + (f" ({'; '.join(r['notes'])})" if r.get("notes") else ""))
    if meta.get("packages"):
        lines.append("- packages: " + ", ".join(f"{k} {v}" for k, v in meta["packages"].items()))
    lim = data["summary"].get("limits", {})
    if lim:
        sha = lim.get("sha256_mb_s_one_core", {}).get("harness")
        lo = lim.get("loopback_tcp_mb_s", {}).get("harness")
        lines.append(
            f"- physical limits (same run): sha256 on one core {_cell(sha)} MB/s, loopback TCP {_cell(lo)} MB/s"
        )
    busy = data["summary"].get("machine", {})
    if busy:
        lines.append(
            f"- machine load per round: busy cores {_cell(busy.get('busy_cores', {}).get('harness'))} of "
            f"{data['meta']['machine'].split()[0]}, load average {_cell(busy.get('loadavg_end', {}).get('harness'))}"
            " (harness and registries included: other work on the machine shows as the excess)"
        )
    lines += ["", "## Targets", "", "| target | dockyard | holds |", "| --- | --- | --- |"]
    for v in data["targets"]:
        if v["value"] is None:
            lines.append(f"| {v['target']} | not measured | - |")
            continue
        suffix = "" if v["kind"] == "abs" else "x"
        val = f"{fmt(v['value'])}{suffix} ({fmt(v['min'])}-{fmt(v['max'])})"
        lines.append(f"| {v['target']} | {val} | {'yes' if v['holds'] else '**no**'} |")

    floor = meta.get("floor")
    floors = [floor] if floor else []
    cols = [main, *extra]
    head = "| workload | figure | " + " | ".join(f"`{c}`" for c in [*cols, peer, *floors]) + " | "
    head += " | ".join(f"`{c}`/`{peer}`" for c in cols) + " |"
    head += "".join(f" `{c}`/`{main}` |" for c in extra)
    head += "".join(f" `{c}`/`{floor}` |" for c in cols if floor)
    width = 3 + 2 * len(cols) + len(extra) + len(floors) * (1 + len(cols))
    lines += ["", "## Results", "", head, "|" + " --- |" * width]
    for w, shown in SHOWN.items():
        wsum = data["summary"].get(w)
        if not wsum:
            continue
        for metric, label in shown:
            entry = wsum.get(metric)
            if not entry:
                continue
            row = [w, label] + [_cell(entry.get(c)) for c in [*cols, peer, *floors]]
            row += [_cell(entry.get(f"ratio:{c}"), ratio=True) for c in cols]
            row += [_cell(entry.get(f"ratio:{c}/{main}"), ratio=True) for c in extra]
            row += [_cell(entry.get(f"floor:{c}"), ratio=True) for c in cols if floor]
            lines.append("| " + " | ".join(row) + " |")
            if metric == "server_cpu_us_per_req" and any(f"own:{c}" in entry for c in cols):
                own = [w, "server CPU us/req above the floor's"] + [_cell(entry.get(f"own:{c}")) for c in cols]
                lines.append("| " + " | ".join(own + ["-"] * (width - len(own))) + " |")
    if floor:
        lines += _rounds_table(data, main, floor)
    if data.get("failures"):
        lines += ["", "## Failures", ""]
        lines += [f"- round {f['round']}, {f['workload']}, `{f['registry']}`: {f['error']}" for f in data["failures"]]
    if data.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in data["notes"]]
    lines.append("")
    return "\n".join(lines)


def _rounds_table(data: Json, main: str, floor: str) -> list[str]:
    """Each round's ratios to the floor next to how busy the machine was during it: a round that
    disagrees with the others usually had company."""
    lines = [
        "",
        "## Rounds",
        "",
        f"`{main}`/`{floor}` within each round; load average at the round's start and end, and the busy cores "
        "of the whole machine over the round.",
        "",
        "| round | order | load average | busy cores | " + " | ".join(label for _, _, label in FLOOR_RATIOS) + " |",
        "|" + " --- |" * (4 + len(FLOOR_RATIOS)),
    ]
    for rnd in data["rounds"]:
        res = rnd["results"]
        machine = res.get("machine", {}).get("harness", {})
        cells = [str(rnd["round"]), " ".join(rnd["order"])]
        cells.append(f"{fmt(machine.get('loadavg_start'))}-{fmt(machine.get('loadavg_end'))}")
        cells.append(fmt(machine.get("busy_cores")))
        for w, m, _ in FLOOR_RATIOS:
            a = _num(res.get(w, {}).get(main, {}).get(m))
            b = _num(res.get(w, {}).get(floor, {}).get(m))
            cells.append(f"{fmt(a / b)}x" if a is not None and b else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_results(out: Path, stem: str, data: Any, text: str) -> Path:
    """`<out>/<stem>.json` with the raw figures and `<stem>.md` with the report; the stem's path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    (out / f"{stem}.md").write_text(text)
    return out / stem


def main(argv: list[str] | None = None) -> int:
    """Re-render the markdown of a results JSON: python -m bench.report RESULTS.json [...]."""
    for name in argv if argv is not None else sys.argv[1:]:
        path = Path(name)
        data = json.loads(path.read_text())
        meta = data["meta"]
        others = [meta["dockyard"], *meta.get("extra", [])]
        data["summary"] = summarize(data["rounds"], meta["peer"], others, meta.get("floor"))
        data["targets"] = judge(data["summary"], meta["dockyard"], meta.get("floor"))
        path.write_text(json.dumps(data, indent=1, default=str) + "\n")
        path.with_suffix(".md").write_text(markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
