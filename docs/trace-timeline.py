# SPDX-License-Identifier: MIT
"""docs/trace-timeline.py: draw an AX_TRACE file as a PNG timeline.

    AX_TRACE=trace.json ./examples/tutorial/07_loops_gather
    python3 docs/trace-timeline.py trace.json docs/trace-07_loops_gather.png

A static picture of what Perfetto or chrome://tracing shows interactively
(neither runs offline here): one lane per loop, a box per run of a task
(Chrome "B"/"E" slices, coloured by task, labelled when there is room),
and under it a mark per instant event (spawn, hop = a message to another
loop, inbox = a loop taking its messages, send, ask). A task run lasts
microseconds and a sleep milliseconds, so idle stretches longer than
GAP_US are drawn GAP_US wide and labelled with their real length; the
axis is therefore not linear in time across those cuts. Needs gnuplot
(pngcairo).
"""
import json
import os
import subprocess
import sys
import tempfile

GAP_US = 60.0   # an idle stretch longer than this is cut to this width
MARKS = {"spawn": (9, "#2ca02c"), "hop": (13, "#9467bd"),
         "inbox": (7, "#8c564b"), "send": (5, "#ff7f0e"),
         "ask": (11, "#17becf")}
PALETTE = ["#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: trace-timeline.py TRACE.json OUT.png")
    ev = json.load(open(argv[1]))["traceEvents"]
    lanes = {e["tid"]: e["args"]["name"] for e in ev
             if e.get("ph") == "M" and e["name"] == "thread_name"}
    slices, instants, open_b = [], [], {}
    for e in sorted((e for e in ev if "ts" in e), key=lambda e: e["ts"]):
        if e["ph"] == "B":
            open_b[e["tid"]] = e
        elif e["ph"] == "E" and e["tid"] in open_b:
            b = open_b.pop(e["tid"])
            slices.append((e["tid"], b["ts"], e["ts"], b["name"],
                           e.get("args", {}).get("then", "")))
        elif e["ph"] == "i":
            instants.append((e["tid"], e["ts"], e["name"]))
    # The compressed time axis: x(t) over the sorted event times.
    times = sorted({t for s in slices for t in s[1:3]} |
                   {i[1] for i in instants})
    xs, cuts, x = {times[0]: 0.0}, [], 0.0
    for a, b in zip(times, times[1:]):
        if b - a > GAP_US:
            cuts.append((x + GAP_US / 2, b - a))
            x += GAP_US
        else:
            x += b - a
        xs[b] = x

    def X(t):
        return xs[t]

    colour, g = {}, []
    for tid in lanes:
        y = len(lanes) - 1 - tid
        g.append(f"set label '{lanes[tid]}' at graph 0, first {y + 0.5} "
                 "right offset -1,0 font ',10'")
    n = 0
    for tid, b, e, name, then in slices:
        y = len(lanes) - 1 - tid
        c = colour.setdefault(name, PALETTE[len(colour) % len(PALETTE)])
        w = max(X(e) - X(b), 0.8)
        n += 1
        g.append(f"set object {n} rect from {X(b)},{y + 0.35} to "
                 f"{X(b) + w},{y + 0.85} fc rgb '{c}' fs solid 0.85 "
                 "noborder")
        if w > 9:
            g.append(f"set label '{name}' at {X(b) + w / 2},{y + 0.6} "
                     "center front font ',7' tc rgb 'white'")
    for at, real in cuts:
        g.append(f"set arrow from {at},-0.05 to {at},{len(lanes) - 0.05} "
                 "nohead dt 3 lc rgb '#999999' back")
        if real >= 1000:
            g.append(f"set label '{real / 1000:.0f} ms' at {at},"
                     f"{len(lanes) - 0.02} center font ',7' tc rgb '#666666'")
    fd, dat = tempfile.mkstemp(suffix=".dat")
    with os.fdopen(fd, "w") as f:
        for kind in MARKS:
            for tid, t, name in instants:
                if name == kind:
                    f.write(f"{X(t)} {len(lanes) - 1 - tid + 0.2}\n")
            f.write("\n\n")
    plots = []
    for i, (kind, (pt, c)) in enumerate(MARKS.items()):
        if any(name == kind for _, _, name in instants):
            plots.append(f"'{dat}' index {i} using 1:2 with points pt {pt} "
                         f"ps 0.9 lc rgb '{c}' title '{kind}'")
    g = ["set terminal pngcairo size 1100,330 noenhanced font ',9'",
         f"set output '{argv[2]}'",
         f"set title '{argv[1].split('/')[-1]}: task runs per loop "
         f"(idle stretches over {GAP_US:.0f} us cut, real length above "
         "the dotted lines)'",
         "set xlabel 'time, us (busy stretches to scale)'",
         "unset ytics", "set border 1", "set xtics nomirror",
         f"set yrange [-0.1:{len(lanes) + 0.05}]",
         f"set xrange [-5:{x + 5}]",
         "set lmargin 9", "set key outside right top vertical"] + g
    g.append("plot " + ", ".join(plots) if plots else
             "plot NaN notitle")
    try:
        subprocess.run(["gnuplot"], input="\n".join(g) + "\n", text=True,
                       check=True)
    finally:
        os.unlink(dat)
    print(f"{argv[2]}: {len(slices)} task runs, {len(instants)} instants, "
          f"{len(lanes)} loops")


if __name__ == "__main__":
    main(sys.argv)
