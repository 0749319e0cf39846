#!/usr/bin/env python3
"""Reads the hop traces of one run (wire/hop_trace.hpp) and prints what each hop cost.

Usage: python3 bench/hop_trace.py [--skip FRACTION] [--min-share FRACTION] [FILES...]
  FILES        trace files (default: every /dev/shm/troupe-hops.*), one per process; the process
               that started first is called A, the next B, and so on.
  --skip       fraction of the merged trace to leave out at the start (warm-up); default 0.2
  --min-share  hide transitions rarer than this share of all; default 0.005

For each pair of consecutive points in the merged trace (ordered by TSC: one clock on one host) it
prints how often the pair occurred and the median, 25th and 75th percentile of the time between
them. A steady round trip shows up as a chain (A:SendEnter -> A:SendQueued -> ... -> B:Recv -> ...).
Only the standard library: it runs on a machine with nothing but python3.
"""
import glob
import struct
import sys
from collections import defaultdict
from statistics import median, quantiles

NAMES = {
    0: "Recv", 1: "Verified", 2: "Delivered", 4: "SendEnter", 5: "SendQueued", 7: "PostStart",
    8: "Posted", 3: "RunStart", 6: "RunEnd", 11: "Routed", 26: "GatewaySend", 12: "ProxyReply",
    13: "ProxyDecoded", 20: "ProxyCall", 21: "ProxyEncoded", 29: "ProxyCallSent", 15: "IngressCall",
    16: "IngressDecoded", 17: "IngressAnswer", 30: "IngressReplied", 40: "BenchPing", 41: "BenchCalled",
    45: "BenchHandler",
}
RECORD = struct.Struct("<QQ")


def load(path):
    """(ns per TSC tick, [(tsc, point)], start tsc) of one file."""
    with open(path, "rb") as f:
        data = f.read()
    tsc0, ns0, tsc1, ns1 = struct.unpack_from("<QQQQ", data, 0)
    records = []
    for tsc, point in RECORD.iter_unpack(memoryview(data)[3 * RECORD.size:]):
        if tsc == 0:
            continue
        records.append((tsc, point))
    if not records:
        return None
    # The rate from the file's two clock pairs; a short trace (one pair) falls back to 1 ns per tick.
    rate = (ns1 - ns0) / (tsc1 - tsc0) if tsc1 > tsc0 + 1000000 else 1.0
    return rate, records, tsc0


def main(argv):
    skip, min_share, files = 0.2, 0.005, []
    it = iter(argv)
    for a in it:
        if a == "--skip":
            skip = float(next(it))
        elif a == "--min-share":
            min_share = float(next(it))
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            files.append(a)
    files = files or glob.glob("/dev/shm/troupe-hops.*")
    traces = []
    for f in files:
        try:
            t = load(f)
        except OSError as e:
            print(f"hop_trace: cannot read {f}: {e.strerror}", file=sys.stderr)
            return 2
        except struct.error:
            print(f"hop_trace: {f} is not a hop trace (shorter than its header)", file=sys.stderr)
            return 2
        if t is not None:
            traces.append(t)
    if not traces:
        print("no trace records found (built with -DTROUPE_HOP_TRACE=ON and run with TROUPE_HOP_TRACE=1?)",
              file=sys.stderr)
        return 1
    traces.sort(key=lambda t: t[2])
    rate = traces[0][0]
    merged = []
    for k, (_, records, _) in enumerate(traces):
        label = chr(ord("A") + k)
        merged.extend((tsc, label, point) for tsc, point in records)
    merged.sort()
    start = int(len(merged) * skip)
    hops = defaultdict(list)
    for (t0, l0, p0), (t1, l1, p1) in zip(merged[start:], merged[start + 1:]):
        hops[(f"{l0}:{NAMES.get(p0, p0)}", f"{l1}:{NAMES.get(p1, p1)}")].append((t1 - t0) * rate)
    total = sum(len(v) for v in hops.values())
    print(f"{len(traces)} processes, {len(merged)} records, {rate:.3f} ns per TSC tick")
    print(f"{'from':>20} -> {'to':<20} {'count':>8} {'p50 ns':>8} {'p25':>7} {'p75':>7}")
    rows = sorted(((k, v) for k, v in hops.items() if len(v) >= total * min_share), key=lambda kv: -len(kv[1]))
    # The steady cycle first, in order: from the most frequent row, follow each point's most frequent
    # successor until the chain comes back; its medians add up to the cycle's (a round trip's) time.
    successor = {}
    for (a, b), v in rows:
        successor.setdefault(a, ((a, b), v))
    chain, seen = [], set()
    at = rows[0][0][0] if rows else None
    while at in successor and at not in seen:
        seen.add(at)
        chain.append(successor[at])
        at = successor[at][0][1]
    shown = set()

    def show(key, v):
        shown.add(key)
        q = quantiles(v, n=4) if len(v) > 1 else [v[0]] * 3
        print(f"{key[0]:>20} -> {key[1]:<20} {len(v):8d} {median(v):8.0f} {q[0]:7.0f} {q[2]:7.0f}")

    for key, v in chain:
        show(key, v)
    if chain and chain[-1][0][1] == chain[0][0][0]:
        print(f"{'cycle (sum of p50s)':>44} {sum(median(v) for _, v in chain):17.0f}")
    for key, v in rows:
        if key not in shown:
            show(key, v)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
