"""Benchmark: gazetteer import (time, memory, cache) and geocoding latency.

    .venv/bin/python bench/bench_gazetteer.py \
        --ban ../shared/geodata/adresses-13-marseille-synthetique.csv.gz \
        --sectors ../shared/geodata/marseille-arrondissements-osm-20160128.geojson \
        --sectors ../shared/geodata/communes-metropole-aix-marseille-provence.geojson \
        --out var/bench-gazetteer.json [--queries 1000] [--processes 2]

Measures, each import in a fresh process so that memory is the import's own:
- cold import: parse the BAN CSV and write the cache (seconds, peak RSS in MiB);
- cached import: load the cache written by the cold run;
- geocoding latency (p50/p95/max, ms) of `geocode_address` on addresses built from the file
  itself with the distortions of speech (case and accents lost, type dropped or abbreviated,
  a letter wrong, articles changed), of `propose_addresses` (free-text search of a sentence
  holding the address) and of `resolve_address` (text only);
- throughput with `--processes` workers in parallel (default 2: the 2-core target).
Writes JSON; prints a summary. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from domain.stats import percentile  # noqa: E402 - the repository first on the path


def _peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _import_once(ban: str, cache_dir: str, queue: Any) -> None:
    from activities.geo.gazetteer import Gazetteer

    before = _peak_rss_mib()
    started = time.perf_counter()
    gz = Gazetteer.load(ban, cache_dir)
    seconds = time.perf_counter() - started
    queue.put(
        {
            "seconds": round(seconds, 3),
            "peak_rss_mib": round(_peak_rss_mib(), 1),
            "rss_before_mib": round(before, 1),
            "streets": gz.street_count,
            "addresses": gz.address_count,
        }
    )


def measure_import(ban: str, cache_dir: str) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out: dict[str, Any] = {}
    for label in ("cold", "cached"):
        queue = ctx.Queue()
        proc = ctx.Process(target=_import_once, args=(ban, cache_dir, queue))
        proc.start()
        out[label] = queue.get()
        proc.join()
    cache_files = list(Path(cache_dir).glob("gazetteer-*.pickle"))
    out["cache_mib"] = round(sum(f.stat().st_size for f in cache_files) / 2**20, 1)
    return out


# --------------------------------------------------------------------------- queries

_TYPE_SHORT = {"Boulevard": "bd", "Avenue": "av", "Chemin": "ch", "Traverse": "trav"}


def _distort(name: str, rng: random.Random) -> str:
    from domain.numbers import fold

    kind = rng.randrange(5)
    if kind == 0:
        return name
    if kind == 1:
        return fold(name)  # what a lower-case transcript without accents gives
    words = name.split()
    if kind == 2 and len(words) > 1:
        first = _TYPE_SHORT.get(words[0])
        return " ".join([first, *words[1:]]) if first else " ".join(words[1:])
    if kind == 3 and len(name) > 6:
        i = rng.randrange(len(name) // 2, len(name) - 1)
        return name[:i] + rng.choice("aeioulnrst") + name[i + 1 :]
    return name.replace(" de la ", " de ").replace(" des ", " de ").replace(" du ", " de ")


def build_queries(gz: Any, n: int, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    queries = []
    for _ in range(n):
        street = rng.randrange(gz.street_count)
        numbers = gz.numbers(street)
        number = rng.choice(numbers).label if numbers else ""
        queries.append(
            {
                "housenumber": number,
                "street": _distort(gz.name(street), rng),
                "postcode": gz.postcode(street) if rng.random() < 0.7 else "",
                "city": gz.city(street),
                "official": gz.name(street),
            }
        )
    return queries


def _latencies(ban: str, sector_files: list[str], cache_dir: str, queries: list[dict[str, str]]):
    from activities.geo.gazetteer import Gazetteer
    from activities.geo.sectors import SectorIndex
    from activities.geo.territory_file import load_territory
    from activities.geocode import GeocodeActivities
    from domain.address_models import AddressSearchInput, ResolveAddressInput
    from domain.models import GeocodeInput, SpokenAddress

    acts = GeocodeActivities(
        Gazetteer.load(ban, cache_dir),
        SectorIndex.load(sector_files),
        min_score=0.82,
        territory=load_territory(),
    )
    acts.search  # build the search index outside the timings  # noqa: B018
    geocode_ms, propose_ms, resolve_ms = [], [], []
    found = 0
    for q in queries:
        spoken = SpokenAddress(
            housenumber=q["housenumber"], street=q["street"], postcode=q["postcode"]
        )
        t0 = time.perf_counter()
        result = acts.geocode(GeocodeInput(address=spoken))
        geocode_ms.append((time.perf_counter() - t0) * 1000)
        if result.match is not None and result.match.street == q["official"]:
            found += 1
        text = f"Bonjour, j'habite au {q['housenumber']} {q['street']}, {q['postcode']}. Merci."
        t0 = time.perf_counter()
        cands = acts.propose_addresses(AddressSearchInput(text=text, address=spoken))
        propose_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        acts.resolve_address(ResolveAddressInput(candidates=cands, address=spoken))
        resolve_ms.append((time.perf_counter() - t0) * 1000)
    return geocode_ms, propose_ms, resolve_ms, found


def _summary(ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(ms, 0.5), 3),
        "p95_ms": round(percentile(ms, 0.95), 3),
        "max_ms": round(max(ms), 3),
        "mean_ms": round(statistics.mean(ms), 3),
    }


def _worker(args: tuple[str, list[str], str, list[dict[str, str]]]) -> tuple[int, float]:
    ban, sectors, cache_dir, queries = args
    started = time.perf_counter()
    _latencies(ban, sectors, cache_dir, queries)
    return len(queries), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ban", required=True)
    parser.add_argument("--sectors", action="append", required=True)
    parser.add_argument("--out", default="var/bench-gazetteer.json")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--cache-dir", default="", help="default: a fresh temporary directory")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="bench-gazetteer-")
    cache_dir = args.cache_dir or tmp.name
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_avg": os.getloadavg(),
        },
        "ban": args.ban,
    }
    report["import"] = measure_import(args.ban, cache_dir)

    from activities.geo.gazetteer import Gazetteer

    queries = build_queries(Gazetteer.load(args.ban, cache_dir), args.queries)
    geocode_ms, propose_ms, resolve_ms, found = _latencies(
        args.ban, args.sectors, cache_dir, queries
    )
    report["geocode_address"] = _summary(geocode_ms) | {
        "queries": len(queries),
        "right_street": round(found / len(queries), 4),
    }
    report["propose_addresses"] = _summary(propose_ms)
    report["resolve_address_text_only"] = _summary(resolve_ms)

    # Throughput: the same queries split over N processes (each loads the cached index).
    n = max(1, args.processes)
    chunks = [queries[i::n] for i in range(n)]
    started = time.perf_counter()
    with mp.get_context("spawn").Pool(n) as pool:
        done = pool.map(_worker, [(args.ban, args.sectors, cache_dir, c) for c in chunks])
    wall = time.perf_counter() - started
    report["parallel"] = {
        "processes": n,
        "queries": sum(d[0] for d in done),
        "wall_s_including_load": round(wall, 2),
        "per_process_s": [round(d[1], 2) for d in done],
        "queries_per_s_per_process": [round(d[0] / d[1], 1) for d in done],
    }
    report["machine"]["load_avg_after"] = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps(report, indent=2, ensure_ascii=False))
    tmp.cleanup()


if __name__ == "__main__":
    main()
