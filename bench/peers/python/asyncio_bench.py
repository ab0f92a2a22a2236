#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""asyncio (and uvloop) versions of axon's benchmark workloads.

    asyncio_bench.py [--uvloop] [--quick] [--only w1,w2] [--size w=N ...]

Prints the usual human-readable line per workload and one machine-readable
line per figure (the contract of bench/run):

    RESULT <workload> <asyncio|uvloop> <value> <unit> <lower|higher>

Workloads (each does the work of the axon program of the same name and
checks the same answer; Python is slower, so some run fewer operations
than axon's and report a per-operation rate, which is comparable):

  ctxswitch      two tasks, each `await asyncio.sleep(0)` in turn: ns/switch
  spawn_join     create_task(trivial(i)) then await it, serially: ns/task
  parked_memory  tasks parked in asyncio.sleep(3600): RSS growth per task
  pingpong_same  two tasks, a Queue(maxsize=1) each way: round trips/s
  ring           503 tasks, a Queue each, a token passed round: hops/s
  skynet         fan-out 10 tree of tasks, classic form (each inner task
                 creates its 10 children, then gathers them); the time at
                 the size run, with the size in the unit unless it is
                 1,000,000 leaves
  skynet_dfs     the same tree depth-first (create_task, await, next)
  gather_fanout  asyncio.gather of 100,000 tasks each sleeping 1 ms: s
  queue_same     one producer, one consumer, a Queue(maxsize=128): items/s
  lock_uncontended  `await lock.acquire(); lock.release()` on a free
                 asyncio.Lock: ns/op
  lock_handoff   two tasks passing an asyncio.Lock back and forth (a
                 released lock goes to the waiter): ns/handoff

Timing is time.perf_counter() around the work (not the interpreter's or
the loop's start-up). Python's cyclic GC is left on, as in real programs.
"""
import argparse
import asyncio
import gc
import os
import sys
import time

SYSTEM = "asyncio"

# (default, --quick) sizes
SIZES = {
    "ctxswitch": (400_000, 20_000),       # yields (axon: 10,000,000)
    "spawn_join": (200_000, 10_000),      # tasks (axon: 1,000,000)
    "parked_memory": (100_000, 10_000),   # tasks (axon: 100,000)
    "pingpong_same": (200_000, 10_000),   # round trips (axon: 2,000,000)
    "ring": (500_000, 20_000),            # hops (axon: 10,000,000)
    "skynet": (100_000, 10_000),          # leaves (axon: 1,000,000)
    "skynet_dfs": (100_000, 10_000),      # leaves (axon: 1,000,000)
    "gather_fanout": (100_000, 10_000),   # children (axon: 100,000)
    "queue_same": (500_000, 20_000),      # items (axon: 2,000,000)
    "select": (200_000, 20_000),          # items (axon: 2,000,000)
    "lock_uncontended": (2_000_000, 100_000),  # pairs (axon: 10,000,000)
    "lock_handoff": (400_000, 20_000),    # handoffs (axon: 1,000,000)
    "to_thread": (50_000, 5_000),         # round trips (axon: 200,000)
}
ORDER = list(SIZES)


def result(workload, value, unit, better):
    print(f"RESULT {workload} {SYSTEM} {value:.6g} {unit} {better}",
          flush=True)


def size_suffix(n, standard):
    """'' for the standard size, else '@100k' and the like."""
    if n == standard:
        return ""
    if n % 1_000_000 == 0:
        return f"@{n // 1_000_000}M"
    if n % 1000 == 0:
        return f"@{n // 1000}k"
    return f"@{n}"


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return -1


# ---------------------------------------------------------------- ctxswitch
async def ctxswitch(n):
    per = max(n // 2, 1)

    async def yielder():
        for _ in range(per):
            await asyncio.sleep(0)

    t0 = time.perf_counter()
    a = asyncio.create_task(yielder())
    b = asyncio.create_task(yielder())
    await a
    await b
    dt = time.perf_counter() - t0
    ns = dt * 1e9 / (2 * per)
    print(f"ctxswitch      {2 * per:10d} yields {dt:7.3f} s {ns:8.1f} ns/yield")
    result("ctxswitch", ns, "ns/switch", "lower")


# --------------------------------------------------------------- spawn_join
async def trivial(x):
    return x


async def spawn_join(n):
    t0 = time.perf_counter()
    for i in range(n):
        r = await asyncio.create_task(trivial(i))
        if r != i:
            raise SystemExit("WRONG: spawn_join result")
    dt = time.perf_counter() - t0
    ns = dt * 1e9 / n
    print(f"spawn_join     {n:10d} tasks  {dt:7.3f} s {ns:8.1f} ns/task")
    result("spawn_join", ns, "ns/task", "lower")


# ------------------------------------------------------------ parked_memory
async def parked_memory(n):
    started = 0

    async def parked():
        nonlocal started
        started += 1
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass

    tasks = [None] * n  # allocated before the first reading
    gc.collect()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    for i in range(n):
        tasks[i] = asyncio.create_task(parked())
    while started < n:
        await asyncio.sleep(0)
    t1 = time.perf_counter()
    rss1 = rss_bytes()
    per = (rss1 - rss0) / n
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(f"parked_memory  {n:10d} tasks  {t1 - t0:7.3f} s to park; RSS "
          f"{rss0 // 1024} KiB -> {rss1 // 1024} KiB: {per:.0f} bytes/task")
    result("parked_memory", per, "bytes/task", "lower")


# ------------------------------------------------------------ pingpong_same
async def pingpong_same(n):
    ping = asyncio.Queue(maxsize=1)
    pong = asyncio.Queue(maxsize=1)

    async def ponger():
        while True:
            v = await ping.get()
            if v is None:
                return
            await pong.put(v)

    p = asyncio.create_task(ponger())
    await ping.put(-1)  # handshake: the ponger is up
    await pong.get()
    t0 = time.perf_counter()
    for i in range(n):
        await ping.put(i)
        if await pong.get() != i:
            raise SystemExit("WRONG: pingpong reply")
    dt = time.perf_counter() - t0
    await ping.put(None)
    await p
    print(f"pingpong_same  {n:10d} round trips {dt:7.3f} s "
          f"{n / dt:10.0f} round trips/s")
    result("pingpong_same", n / dt, "round-trips/s", "higher")


# --------------------------------------------------------------------- ring
RING = 503


async def ring(hops):
    queues = [asyncio.Queue() for _ in range(RING)]
    done = asyncio.get_running_loop().create_future()
    t_end = [0.0]

    async def member(i):
        q, nxt = queues[i], queues[(i + 1) % RING]
        while True:
            t = await q.get()
            if t is None:
                return
            if t == 0:
                t_end[0] = time.perf_counter()
                done.set_result(i)
                continue
            nxt.put_nowait(t - 1)

    tasks = [asyncio.create_task(member(i)) for i in range(RING)]
    await asyncio.sleep(0)  # every member is up and waiting
    t0 = time.perf_counter()
    queues[0].put_nowait(hops)
    last = await done
    dt = t_end[0] - t0
    if last != hops % RING:
        raise SystemExit("WRONG: ring token ended at the wrong member")
    for q in queues:
        q.put_nowait(None)
    await asyncio.gather(*tasks)
    print(f"ring           {hops:10d} hops  {dt:7.3f} s {hops / dt:10.0f} "
          f"hops/s {dt * 1e9 / hops:8.1f} ns/hop")
    result("ring", hops / dt, "hops/s", "higher")


# ------------------------------------------------------------------- skynet
async def sky(num, size):
    if size == 1:
        return num
    step = size // 10
    # the classic form: all 10 children at once, then collect them
    res = await asyncio.gather(*[asyncio.create_task(sky(num + i * step,
                                                         step))
                                 for i in range(10)])
    return sum(res)


async def sky_dfs(num, size):
    if size == 1:
        return num
    step = size // 10
    s = 0
    for i in range(10):  # depth-first: one child at a time
        s += await asyncio.create_task(sky_dfs(num + i * step, step))
    return s


async def skynet(leaves, name="skynet", fn=sky):
    t0 = time.perf_counter()
    s = await asyncio.create_task(fn(0, leaves))
    dt = time.perf_counter() - t0
    want = leaves * (leaves - 1) // 2
    print(f"{name:14s} {leaves:10d} leaves {dt:7.3f} s  sum {s}"
          f"{'' if s == want else '  WRONG'}")
    if s != want:
        print(f"WRONG: expected {want}")
        sys.exit(1)
    result(name, dt, "s" + size_suffix(leaves, 1_000_000), "lower")


async def skynet_dfs(leaves):
    await skynet(leaves, "skynet_dfs", sky_dfs)


# ------------------------------------------------------------ gather_fanout
async def child(i):
    await asyncio.sleep(0.001)
    return i


async def gather_fanout(n):
    t0 = time.perf_counter()
    res = await asyncio.gather(*[asyncio.create_task(child(i))
                                 for i in range(n)])
    dt = time.perf_counter() - t0
    s, want = sum(res), n * (n - 1) // 2
    print(f"gather_fanout  {n:10d} children {dt:7.3f} s  sum {s}"
          f"{'' if s == want else '  WRONG'}")
    if s != want:
        print(f"WRONG: expected {want}")
        sys.exit(1)
    result("gather_fanout", dt, "s" + size_suffix(n, 100_000), "lower")


async def queue_same(n):
    q = asyncio.Queue(maxsize=128)

    async def producer():
        for i in range(1, n + 1):
            await q.put(i)

    async def consumer():
        s = 0
        for _ in range(n):
            s += await q.get()
        return s

    t0 = time.perf_counter()
    c = asyncio.create_task(consumer())
    p = asyncio.create_task(producer())
    total = await c
    await p
    dt = time.perf_counter() - t0
    if total != n * (n + 1) // 2:
        raise SystemExit("WRONG: queue sum")
    print(f"queue_same     {n:10d} items {dt:7.3f} s {n / dt:10.0f} items/s")
    result("queue_same", n / dt, "items/s", "higher")


async def select_queues(n):
    """4 producers, each into its own Queue(maxsize=128); one consumer
    waits on a get of every queue with asyncio.wait(FIRST_COMPLETED), takes
    what completed and starts a new get on that queue (Go's select)."""
    k = 4
    per = n // k
    qs = [asyncio.Queue(maxsize=128) for _ in range(k)]

    async def producer(q):
        for i in range(1, per + 1):
            await q.put(i)

    t0 = time.perf_counter()
    prods = [asyncio.create_task(producer(q)) for q in qs]
    gets = {asyncio.create_task(q.get()): i for i, q in enumerate(qs)}
    total = got = 0
    while got < per * k:
        done, _ = await asyncio.wait(gets, return_when=asyncio.FIRST_COMPLETED)
        for g in done:
            i = gets.pop(g)
            total += g.result()
            got += 1
            if got < per * k:
                gets[asyncio.create_task(qs[i].get())] = i
    for g in gets:
        g.cancel()
    for p in prods:
        await p
    dt = time.perf_counter() - t0
    if total != k * (per * (per + 1) // 2):
        raise SystemExit("WRONG: select sum")
    print(f"select         {per * k:10d} items {dt:7.3f} s {per * k / dt:10.0f} items/s")
    result("select", per * k / dt, "items/s", "higher")


# --------------------------------------------------------------------- lock
async def lock_uncontended(n):
    lock = asyncio.Lock()
    t0 = time.perf_counter()
    for _ in range(n):
        await lock.acquire()
        lock.release()
    dt = time.perf_counter() - t0
    ns = dt * 1e9 / n
    print(f"lock_uncontended {n:8d} pairs {dt:7.3f} s {ns:8.1f} ns/op")
    result("lock_uncontended", ns, "ns/op", "lower")


async def lock_handoff(n):
    lock = asyncio.Lock()
    per = max(n // 2, 1)
    count = 0

    async def passer():
        nonlocal count
        for _ in range(per):
            await lock.acquire()
            count += 1
            lock.release()

    await lock.acquire()
    a = asyncio.create_task(passer())
    b = asyncio.create_task(passer())
    await asyncio.sleep(0)  # both queue on the lock
    t0 = time.perf_counter()
    lock.release()
    await a
    await b
    dt = time.perf_counter() - t0
    if count != 2 * per:
        print(f"WRONG: {count} acquisitions, expected {2 * per}")
        sys.exit(1)
    ns = dt * 1e9 / (2 * per)
    print(f"lock_handoff   {2 * per:10d} handoffs {dt:7.3f} s "
          f"{ns:8.1f} ns/handoff")
    result("lock_handoff", ns, "ns/handoff", "lower")


async def to_thread(n):
    # The peer of ax_to_thread(): one pread(2) of /dev/zero on the default
    # executor's threads, awaited, n times in a row.
    fd = os.open("/dev/zero", os.O_RDONLY)
    await asyncio.to_thread(os.pread, fd, 1, 0)  # start the executor
    t0 = time.perf_counter()
    for _ in range(n):
        await asyncio.to_thread(os.pread, fd, 1, 0)
    dt = time.perf_counter() - t0
    os.close(fd)
    print(f"to_thread {n:8d} round trips {dt:7.3f} s {n / dt:10.0f} /s")
    result("to_thread", n / dt, "round-trips/s", "higher")


FUNCS = {
    "ctxswitch": ctxswitch,
    "spawn_join": spawn_join,
    "parked_memory": parked_memory,
    "pingpong_same": pingpong_same,
    "ring": ring,
    "skynet": skynet,
    "skynet_dfs": skynet_dfs,
    "gather_fanout": gather_fanout,
    "queue_same": queue_same,
    "select": select_queues,
    "lock_uncontended": lock_uncontended,
    "lock_handoff": lock_handoff,
    "to_thread": to_thread,
}


def main():
    global SYSTEM
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uvloop", action="store_true",
                    help="run on uvloop instead of asyncio's own loop")
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    ap.add_argument("--only", default="", help="comma-separated workloads")
    ap.add_argument("--size", action="append", default=[],
                    metavar="WORKLOAD=N", help="override a size")
    ap.add_argument("--list", action="store_true",
                    help="print the workload names and exit")
    a = ap.parse_args()
    if a.list:
        print("\n".join(ORDER))
        return 0
    want = [w for w in a.only.split(",") if w] or ORDER
    for w in want:
        if w not in FUNCS:
            ap.error(f"unknown workload {w!r}")
    sizes = {w: SIZES[w][1 if a.quick else 0] for w in ORDER}
    for kv in a.size:
        k, _, v = kv.partition("=")
        if k not in sizes or not v.isdigit():
            ap.error(f"bad --size {kv!r}")
        sizes[k] = int(v)
    if a.uvloop:
        import uvloop  # ImportError: the runner notes it and goes on
        SYSTEM = "uvloop"
        uvloop.install()
    print(f"python {sys.version.split()[0]} ({sys.executable}), "
          f"loop {SYSTEM}"
          + (f" {__import__('uvloop').__version__}" if a.uvloop else ""),
          flush=True)
    for w in ORDER:
        if w in want:
            asyncio.run(FUNCS[w](sizes[w]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
