/* SPDX-License-Identifier: MIT */
// CAF (C++ Actor Framework 0.17) peer of axon's benchmarks (bench/*.c).
// One workload per run: `axbench-caf <workload> [--quick]`; prints
//   RESULT <workload> caf <value> <unit> <better>
// and INFO lines; exits 0, or 1 with WRONG if a checked answer is wrong.
// Every actor is an event-based actor on CAF's work-stealing scheduler;
// the main thread talks to them through a scoped_actor. Times are
// steady_clock around the measured part only, as in axon's programs.
// ctxswitch is not done: an event-based actor has no stack to switch and
// no "yield"; handing control over is sending a message (pingpong_same).
#include <caf/all.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace caf;

using ping_atom = atom_constant<atom("ping")>;
using pong_atom = atom_constant<atom("pong")>;
using tick_atom = atom_constant<atom("tick")>;
using done_atom = atom_constant<atom("done")>;
using msg_atom = atom_constant<atom("msg")>;
using next_atom = atom_constant<atom("next")>;

static bool quick = false;

static int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

static void report_result(const char* w, double v, const char* unit,
                   const char* better) {
  std::printf("RESULT %s caf %.*f %s %s\n", w, v >= 100 ? 1 : 6, v, unit,
              better);
  std::fflush(stdout);
}

#define INFO(...)                                                              \
  do {                                                                         \
    std::printf("INFO " __VA_ARGS__);                                          \
    std::printf("\n");                                                         \
    std::fflush(stdout);                                                       \
  } while (0)

[[noreturn]] static void wrong(const char* what, uint64_t got, uint64_t want) {
  std::printf("WRONG %s: got %llu want %llu\n", what,
              (unsigned long long) got, (unsigned long long) want);
  std::fflush(stdout);
  std::_Exit(1);
}

static uint64_t size(uint64_t full, uint64_t q) {
  return quick ? q : full;
}

static long status_kib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  size_t k = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, k, key) == 0)
      return std::strtol(line.c_str() + k, nullptr, 10);
  return -1;
}

// ------------------------------------------------------------ spawn_join
// Serial: a driver actor spawns a child that sends its argument back and
// ends (empty behavior), receives it, checks it, spawns the next.
static behavior sj_child(event_based_actor* self, actor parent, uint64_t v) {
  self->send(parent, v);
  return {};
}

struct sj_state {
  uint64_t i = 1;
  int64_t t0 = 0;
};

static behavior sj_driver(stateful_actor<sj_state>* self, uint64_t n,
                          actor main) {
  auto me = actor_cast<actor>(self);
  self->state.t0 = now_ns();
  self->spawn(sj_child, me, uint64_t{1});
  return {[=](uint64_t v) {
    auto& s = self->state;
    if (v != s.i)
      wrong("spawn_join", v, s.i);
    if (s.i == n) {
      self->send(main, done_atom::value, now_ns() - s.t0);
      self->quit();
      return;
    }
    ++s.i;
    self->spawn(sj_child, me, s.i);
  }};
}

static void spawn_join(actor_system& sys) {
  uint64_t n = size(1000000, 100000);
  scoped_actor main{sys};
  sys.spawn(sj_driver, n, actor_cast<actor>(main));
  int64_t ns = 0;
  main->receive([&](done_atom, int64_t d) { ns = d; });
  INFO("spawn_join: %llu actors, serial spawn + reply, %.3f s",
       (unsigned long long) n, ns / 1e9);
  report_result("spawn_join", (double) ns / n, "ns/task", "lower");
}

// --------------------------------------------------------- parked_memory
// 100,000 actors each waiting for a delayed message 1 h away (CAF's form
// of a sleep, like axon's ax_sleep(3600)); VmRSS growth per actor.
static std::atomic<uint64_t> parked_started{0};

static behavior parked_fn(event_based_actor* self) {
  self->delayed_send(self, std::chrono::hours(1), tick_atom::value);
  parked_started.fetch_add(1, std::memory_order_relaxed);
  return {[=](tick_atom) { self->quit(); }};
}

static void parked_memory(actor_system& sys) {
  uint64_t n = size(100000, 20000);
  std::vector<actor> hs(n); // touched now, not counted
  long rss0 = status_kib("VmRSS:"), vsz0 = status_kib("VmSize:");
  int64_t t0 = now_ns();
  for (uint64_t i = 0; i < n; i++)
    hs[i] = sys.spawn(parked_fn);
  while (parked_started.load() < n)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  int64_t t1 = now_ns();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  long rss1 = status_kib("VmRSS:"), vsz1 = status_kib("VmSize:");
  INFO("parked_memory: %llu actors waiting (delayed_send 1 h), started in "
       "%.3f s; VmRSS %ld -> %ld KiB; VmSize %ld -> %ld KiB",
       (unsigned long long) n, (t1 - t0) / 1e9, rss0, rss1, vsz0, vsz1);
  report_result("parked_memory", (rss1 - rss0) * 1024.0 / n, "bytes/task", "lower");
  for (auto& h : hs)
    anon_send_exit(h, exit_reason::user_shutdown);
}

// ------------------------------------------------------------- pingpong
static behavior ponger(event_based_actor* self) {
  return {[=](ping_atom) {
    self->send(actor_cast<actor>(self->current_sender()), pong_atom::value);
  }};
}

struct pp_state {
  uint64_t i = 0;
  int64_t t0 = 0;
};

// The first PONG answers an untimed handshake; then n timed round trips.
static behavior pinger(stateful_actor<pp_state>* self, actor pong,
                       uint64_t n, actor main) {
  self->send(pong, ping_atom::value);
  return {[=](pong_atom) {
    auto& s = self->state;
    if (s.i == 0)
      s.t0 = now_ns();
    else if (s.i == n) {
      self->send(main, done_atom::value, now_ns() - s.t0);
      self->send_exit(pong, exit_reason::user_shutdown);
      self->quit();
      return;
    }
    ++s.i;
    self->send(pong, ping_atom::value);
  }};
}

static void pingpong(actor_system& sys, const char* w, uint64_t n) {
  scoped_actor main{sys};
  auto pong = sys.spawn(ponger);
  sys.spawn(pinger, pong, n, actor_cast<actor>(main));
  int64_t ns = 0;
  main->receive([&](done_atom, int64_t d) { ns = d; });
  INFO("%s: %llu round trips, %.3f s, %.1f ns/round trip, %zu worker "
       "thread(s)",
       w, (unsigned long long) n, ns / 1e9, (double) ns / n,
       sys.scheduler().num_workers());
  report_result(w, n * 1e9 / ns, "round-trips/s", "higher");
}

// ------------------------------------------------------------------ ring
struct ring_state {
  actor next;
};

static behavior ring_node(stateful_actor<ring_state>* self, actor main) {
  return {
    [=](next_atom, actor next) { self->state.next = std::move(next); },
    [=](uint64_t t) {
      if (t == 0)
        self->send(main, done_atom::value, now_ns());
      else
        self->send(self->state.next, t - 1);
    },
  };
}

static void ring(actor_system& sys) {
  const int N = 503;
  uint64_t hops = size(10000000, 200000);
  scoped_actor main{sys};
  std::vector<actor> nodes;
  for (int i = 0; i < N; i++)
    nodes.push_back(sys.spawn(ring_node, actor_cast<actor>(main)));
  for (int i = 0; i < N; i++)
    anon_send(nodes[i], next_atom::value, nodes[(i + 1) % N]);
  int64_t t0 = now_ns(), t1 = 0;
  anon_send(nodes[0], hops);
  main->receive([&](done_atom, int64_t t) { t1 = t; });
  INFO("ring: %d actors, %llu hops, %.3f s, %.1f ns/hop", N,
       (unsigned long long) hops, (t1 - t0) / 1e9, (double) (t1 - t0) / hops);
  report_result("ring", hops * 1e9 / (t1 - t0), "hops/s", "higher");
  for (auto& a : nodes)
    anon_send_exit(a, exit_reason::user_shutdown);
}

// ---------------------------------------------------------------- skynet
// Two forms: classic (github.com/atemerev/skynet), each inner actor spawns
// its 10 children at once and sums their replies (the skynet row);
// depth-first (the skynet_dfs row): spawn one child, wait for its reply,
// spawn the next.
struct sky_state {
  uint64_t sum = 0;
  int got = 0;
};

static behavior skynet(stateful_actor<sky_state>* self, actor parent,
                       uint64_t num, uint64_t sz) {
  if (sz == 1) {
    self->send(parent, num);
    return {};
  }
  uint64_t step = sz / 10;
  auto me = actor_cast<actor>(self);
  for (uint64_t i = 0; i < 10; i++)
    self->spawn(skynet, me, num + i * step, step);
  return {[=](uint64_t v) {
    auto& s = self->state;
    s.sum += v;
    if (++s.got == 10) {
      self->send(parent, s.sum);
      self->quit();
    }
  }};
}

static behavior skynet_dfs(stateful_actor<sky_state>* self, actor parent,
                           uint64_t num, uint64_t sz) {
  if (sz == 1) {
    self->send(parent, num);
    return {};
  }
  uint64_t step = sz / 10;
  auto me = actor_cast<actor>(self);
  self->spawn(skynet_dfs, me, num, step);
  return {[=](uint64_t v) {
    auto& s = self->state;
    s.sum += v;
    if (++s.got == 10) {
      self->send(parent, s.sum);
      self->quit();
      return;
    }
    self->spawn(skynet_dfs, me, num + s.got * step, step);
  }};
}

// Both forms, as axon's: classic is the skynet row, depth-first skynet_dfs.
static void skynet_run(actor_system& sys) {
  const uint64_t want = 499999500000ULL;
  scoped_actor main{sys};
  uint64_t sum = 0;
  int64_t t0 = now_ns();
  sys.spawn(skynet, actor_cast<actor>(main), uint64_t{0}, uint64_t{1000000});
  main->receive([&](uint64_t v) { sum = v; });
  int64_t conc = now_ns() - t0;
  if (sum != want)
    wrong("skynet (concurrent)", sum, want);
  t0 = now_ns();
  sys.spawn(skynet_dfs, actor_cast<actor>(main), uint64_t{0},
            uint64_t{1000000});
  main->receive([&](uint64_t v) { sum = v; });
  int64_t ns = now_ns() - t0;
  if (sum != want)
    wrong("skynet", sum, want);
  INFO("skynet: 1111111 actors, sum %llu; concurrent (classic, skynet) "
       "%.3f s; depth-first (skynet_dfs) %.3f s",
       (unsigned long long) sum, conc / 1e9, ns / 1e9);
  report_result("skynet", conc / 1e9, "s", "lower");
  report_result("skynet_dfs", ns / 1e9, "s", "lower");
}

// --------------------------------------------------------- gather_fanout
// A gatherer actor spawns 100,000 children; each waits 1 ms (delayed_send
// to itself) and sends its index back; the gatherer sums them.
static behavior gf_child(event_based_actor* self, actor parent, uint64_t i) {
  self->delayed_send(self, std::chrono::milliseconds(1), tick_atom::value);
  return {[=](tick_atom) {
    self->send(parent, i);
    self->quit();
  }};
}

struct gf_state {
  uint64_t sum = 0, got = 0;
};

static behavior gf_gatherer(stateful_actor<gf_state>* self, uint64_t n,
                            actor main) {
  auto me = actor_cast<actor>(self);
  for (uint64_t i = 0; i < n; i++)
    self->spawn(gf_child, me, i);
  return {[=](uint64_t v) {
    auto& s = self->state;
    s.sum += v;
    if (++s.got == n) {
      self->send(main, done_atom::value, s.sum);
      self->quit();
    }
  }};
}

static void gather_fanout(actor_system& sys) {
  uint64_t n = 100000;
  scoped_actor main{sys};
  uint64_t sum = 0;
  int64_t t0 = now_ns();
  sys.spawn(gf_gatherer, n, actor_cast<actor>(main));
  main->receive([&](done_atom, uint64_t s) { sum = s; });
  int64_t ns = now_ns() - t0;
  if (sum != n * (n - 1) / 2)
    wrong("gather_fanout", sum, n * (n - 1) / 2);
  INFO("gather_fanout: %llu actors x 1 ms, sum %llu, %.3f s",
       (unsigned long long) n, (unsigned long long) sum, ns / 1e9);
  report_result("gather_fanout", ns / 1e9, "s", "lower");
}

// ----------------------------------------------------------------- fanin
// One sink actor; max(2, workers) x 8 sender actors each send M messages
// to it from their start-up, then end. CAF mailboxes are unbounded: no
// backpressure (axon's mailbox holds 1024).
struct sink_state {
  uint64_t got = 0;
};

static behavior sink(stateful_actor<sink_state>* self, uint64_t total,
                     actor main) {
  return {[=](msg_atom) {
    if (++self->state.got == total) {
      self->send(main, done_atom::value, now_ns());
      self->quit();
    }
  }};
}

static behavior sender(event_based_actor* self, actor to, uint64_t m) {
  for (uint64_t i = 0; i < m; i++)
    self->send(to, msg_atom::value);
  return {};
}

static void fanin(actor_system& sys) {
  uint64_t total = size(4000000, 400000);
  size_t w = sys.scheduler().num_workers();
  uint64_t senders = (w < 2 ? 2 : w) * 8;
  uint64_t per = total / senders;
  total = per * senders;
  scoped_actor main{sys};
  auto s = sys.spawn(sink, total, actor_cast<actor>(main));
  int64_t t0 = now_ns(), t1 = 0;
  for (uint64_t i = 0; i < senders; i++)
    sys.spawn(sender, s, per);
  main->receive([&](done_atom, int64_t t) { t1 = t; });
  INFO("fanin: %llu senders x %llu msgs, %.3f s, %zu worker thread(s)",
       (unsigned long long) senders, (unsigned long long) per,
       (t1 - t0) / 1e9, w);
  report_result("fanin", total * 1e9 / (t1 - t0), "msgs/s", "higher");
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: axbench-caf <workload> [--quick]\n");
    return 2;
  }
  for (int i = 2; i < argc; i++) {
    if (std::strcmp(argv[i], "--quick") == 0)
      quick = true;
    else {
      std::fprintf(stderr, "axbench-caf: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  std::string w = argv[1];
  static const char* known[] = {"spawn_join",    "parked_memory",
                                "pingpong_same", "pingpong_cross",
                                "ring",          "skynet",
                                "skynet_dfs",    "gather_fanout",
                                "fanin"};
  bool ok = false;
  for (auto k : known)
    ok = ok || w == k;
  if (w == "ctxswitch") {
    std::printf("unknown workload ctxswitch: not done for CAF (event-based "
                "actors have no stack to switch and no yield; see "
                "pingpong_same)\n");
    return 2;
  }
  if (!ok) {
    std::printf("unknown workload %s\n", w.c_str());
    return 2;
  }
  actor_system_config cfg;
  if (w == "pingpong_same")
    cfg.set("scheduler.max-threads", size_t{1});
  else if (w == "pingpong_cross")
    cfg.set("scheduler.max-threads", size_t{2});
  else // one per CPU, as axon's AX_LOOPS_PER_CPU (CAF's default is max(4, CPUs))
    cfg.set("scheduler.max-threads",
            size_t{std::max(1u, std::thread::hardware_concurrency())});
  actor_system sys{cfg};
  std::printf("INFO CAF %d.%d.%d, %zu worker thread(s)\n", CAF_VERSION / 10000,
              CAF_VERSION / 100 % 100, CAF_VERSION % 100,
              sys.scheduler().num_workers());
  if (w == "spawn_join")
    spawn_join(sys);
  else if (w == "parked_memory")
    parked_memory(sys);
  else if (w == "pingpong_same")
    pingpong(sys, "pingpong_same", size(2000000, 100000));
  else if (w == "pingpong_cross")
    pingpong(sys, "pingpong_cross", size(500000, 25000));
  else if (w == "ring")
    ring(sys);
  else if (w == "skynet" || w == "skynet_dfs")
    skynet_run(sys);
  else if (w == "gather_fanout")
    gather_fanout(sys);
  else if (w == "fanin")
    fanin(sys);
  return 0;
}
