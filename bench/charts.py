# SPDX-License-Identifier: MIT
"""bench/charts.py: the PNG charts of bench/run and bench/servers.sh.

A chart is a dict (a "spec"); render() draws a list of them with
matplotlib (when /usr/bin/python3 or this python has it) or gnuplot:

  {"kind": "bars", "png": PATH, "title": T, "unit": Y-AXIS LABEL,
   "log": BOOL, "rows": [{"system", "median", "min", "max"}...],
   "labels": [text above each bar], "note": TEXT or ""}
      one bar per system (axon's red, the others blue) with min-max
      error bars (bench/run: the median of the runs; a single figure
      has min == max == median);

  {"kind": "lines", "png": PATH, "title": T, "xlabel": X, "ylabel": Y,
   "log": BOOL, "xticks": [labels], "series": [{"name", "values"}...],
   "note": TEXT or ""}
      one line per series over the categories xticks (bench/servers.sh:
      latency at p50 .. p99.99 and max for each load generator); a value
      of None is a point the series does not have.

bench/run imports it (sys.path holds bench/); from a shell:

  python3 bench/charts.py SPECS.json     # a JSON list of specs

prints the PNGs made, one per line, and notes on stderr.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def chart_tool():
    """("matplotlib", python) or ("gnuplot", path), or None."""
    for py in dict.fromkeys(["/usr/bin/python3", sys.executable,
                             shutil.which("python3")]):
        if py and os.path.exists(py) and subprocess.run(
                [py, "-c", "import matplotlib"],
                capture_output=True).returncode == 0:
            return ("matplotlib", py)
    if shutil.which("gnuplot"):
        return ("gnuplot", shutil.which("gnuplot"))
    return None


MPL_SCRIPT = r'''
import sys, json
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
spec = json.load(open(sys.argv[1]))
for c in spec:
    fig, ax = plt.subplots(figsize=(8, 4.8))
    if c.get("kind", "bars") == "lines":
        xs = list(range(len(c["xticks"])))
        for s in c["series"]:
            pts = [(x, v) for x, v in zip(xs, s["values"]) if v is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts],
                        marker="o", label=s["name"],
                        color="#d62728" if s["name"].startswith("axload")
                        and "service" not in s["name"] else None)
        ax.set_xticks(xs)
        ax.set_xticklabels(c["xticks"])
        ax.set_xlabel(c["xlabel"])
        ax.set_ylabel(c["ylabel"])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    else:
        names = [r["system"] for r in c["rows"]]
        med = [r["median"] for r in c["rows"]]
        lo = [r["median"] - r["min"] for r in c["rows"]]
        hi = [r["max"] - r["median"] for r in c["rows"]]
        colors = ["#d62728" if n.startswith(("axon", "axload")) else "#1f77b4"
                  for n in names]
        ax.bar(names, med, yerr=[lo, hi], capsize=4, color=colors)
        ax.set_ylabel(c["unit"])
        for i, v in enumerate(med):
            ax.annotate(c["labels"][i], (i, v), ha="center", va="bottom",
                        fontsize=8, xytext=(0, 3), textcoords="offset points")
        plt.xticks(rotation=20)
    if c["log"]:
        ax.set_yscale("log")
    ax.set_title(c["title"])
    if c["note"]:
        fig.text(0.01, 0.01, c["note"], fontsize=7)
    fig.tight_layout()
    fig.savefig(c["png"], dpi=100)
    plt.close(fig)
'''


def _q(s):
    """A gnuplot single-quoted string."""
    return "'" + str(s).replace("'", "''") + "'"


def _gnuplot_bars(c, dat):
    with open(dat, "w") as f:
        for r, lab in zip(c["rows"], c["labels"]):
            col = ("0xd62728" if r["system"].startswith(("axon", "axload"))
                   else "0x1f77b4")
            f.write(f"\"{r['system']}\" {r['median']!r} {r['min']!r} "
                    f"{r['max']!r} \"{lab}\" {col}\n")
    vals = [r["min"] for r in c["rows"] if r["min"] > 0] or [1]
    g = [
        "set style fill solid 0.6 border -1",
        "set boxwidth 0.6",
        "set xtics rotate by -20",
        "set key off",
        "set grid ytics",
        "set offsets 0.5, 0.5, 0, 0",
        f"set ylabel {_q(c['unit'])}",
    ]
    if c["log"]:
        g += ["set logscale y", f"set yrange [{min(vals) / 3!r}:*]"]
    else:
        g += ["set yrange [0:*]"]
    g += [f"plot '{dat}' using 0:2:6:xtic(1) with boxes lc rgb "
          "variable, '' using 0:2:3:4 with yerrorbars lc rgb "
          "'black' pt 0, '' using 0:2:5 with labels offset 0,1 "
          "font ',8'"]
    return g


def _gnuplot_lines(c, dat):
    with open(dat, "w") as f:
        f.write("x " + " ".join(json.dumps(s["name"]) for s in c["series"])
                + "\n")
        for i, x in enumerate(c["xticks"]):
            f.write(json.dumps(x) + " " + " ".join(
                "NaN" if s["values"][i] is None else repr(s["values"][i])
                for s in c["series"]) + "\n")
    g = [
        "set key top left",
        "set grid",
        "set offsets 0.2, 0.2, 0, 0",
        f"set xlabel {_q(c['xlabel'])}",
        f"set ylabel {_q(c['ylabel'])}",
        "set datafile missing 'NaN'",
    ]
    if c["log"]:
        g += ["set logscale y"]
    n = len(c["series"])
    g += [f"plot for [i=2:{n + 1}] '{dat}' using 0:i:xtic(1) "
          "with linespoints lw 2 pt 7 title columnheader(i)"]
    return g


def render(specs, tmpdir=None, note=lambda m: print(m, file=sys.stderr),
           tool=None):
    """Draw @specs; returns the PNGs made. @note receives what failed."""
    specs = [c for c in specs if c]
    if not specs:
        return []
    tool = tool or chart_tool()
    if tool is None:
        note("charts: none (install gnuplot or python3-matplotlib)")
        return []
    tmp = tmpdir or tempfile.mkdtemp(prefix="ax-charts.")
    for c in specs:
        os.makedirs(os.path.dirname(os.path.abspath(c["png"])), exist_ok=True)
    kind, exe = tool
    if kind == "matplotlib":
        sp = os.path.join(tmp, "charts.json")
        script = os.path.join(tmp, "charts.py")
        with open(sp, "w") as f:
            json.dump(specs, f)
        with open(script, "w") as f:
            f.write(MPL_SCRIPT)
        r = subprocess.run([exe, script, sp], capture_output=True, text=True)
        if r.returncode != 0:
            note("charts (matplotlib) failed: " + r.stderr.strip()[-300:])
            return []
    else:
        for c in specs:
            dat = os.path.join(tmp, os.path.basename(c["png"]) + ".dat")
            g = ["set terminal pngcairo size 800,480 noenhanced",
                 f"set output {_q(c['png'])}",
                 f"set title {_q(c['title'])}"]
            if c["note"]:
                g += [f"set label 1 {_q(c['note'])} at screen 0.01,0.02 "
                      "font ',8'"]
            g += (_gnuplot_lines(c, dat) if c.get("kind") == "lines"
                  else _gnuplot_bars(c, dat))
            r = subprocess.run([exe], input="\n".join(g) + "\n",
                               capture_output=True, text=True)
            if r.returncode != 0:
                note(f"chart {c['png']} (gnuplot) failed: "
                     + r.stderr.strip()[-300:])
    return [c["png"] for c in specs if os.path.exists(c["png"])]


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) == 2 else 2
    with open(argv[1]) as f:
        specs = json.load(f)
    made = render(specs, os.path.dirname(os.path.abspath(argv[1])))
    for p in made:
        print(p)
    return 0 if len(made) == len(specs) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
