%% SPDX-License-Identifier: MIT
%% Erlang peer of axon's benchmarks (bench/*.c). One workload per run:
%%   erl -noshell +S ... -pa BUILDDIR -run axbench main WORKLOAD [--quick]
%% prints RESULT <workload> erlang <value> <unit> <better> and INFO lines,
%% then halts 0 (1 with WRONG if a checked answer is wrong). Times are
%% erlang:monotonic_time() around the measured part only, as in axon.
-module(axbench).
-export([main/1]).
%% The restart workload's supervisor and child.
-behaviour(supervisor).
-export([init/1, restart_child/1]).

main([W | Rest]) ->
    Quick = lists:member("quick", Rest) orelse lists:member("--quick", Rest),
    case catch run(W, Quick) of
        ok -> halt(0);
        {'EXIT', R} -> io:format("ERROR ~p~n", [R]), halt(1);
        Other -> io:format("ERROR ~p~n", [Other]), halt(1)
    end.

now_ns() -> erlang:monotonic_time(nanosecond).

size(Full, _Q, false) -> Full;
size(_Full, Q, true) -> Q.

result(W, V, Unit, Better) ->
    Str = if V >= 100 -> io_lib:format("~.1f", [float(V)]);
             true -> io_lib:format("~.6f", [float(V)])
          end,
    io:format("RESULT ~s erlang ~s ~s ~s~n", [W, Str, Unit, Better]).

info(Fmt, Args) -> io:format("INFO " ++ Fmt ++ "~n", Args).

wrong(Fmt, Args) ->
    io:format("WRONG " ++ Fmt ++ "~n", Args),
    halt(1).

sched() -> erlang:system_info(schedulers_online).

%% ---------------------------------------------------------------- ctxswitch
%% Two processes call erlang:yield() in turn, Count/2 times each (axon: two
%% tasks calling ax_yield()); run with +S 1:1 so each yield hands the one
%% scheduler to the other process. The VM's context-switch counter is
%% printed to show it. For comparison (INFO only), the same hand-over done
%% by messages: two processes bouncing a message, time per message.
run("ctxswitch", Q) ->
    Count = size(10000000, 1000000, Q),
    Per = Count div 2,
    Self = self(),
    {CS0, _} = erlang:statistics(context_switches),
    T0 = now_ns(),
    [spawn(fun() -> yielder(Per), Self ! yielded end) || _ <- [1, 2]],
    receive yielded -> ok end,
    receive yielded -> ok end,
    T1 = now_ns(),
    {CS1, _} = erlang:statistics(context_switches),
    Yields = 2 * Per,
    %% messaging variant
    M = Per div 5,
    B = spawn(fun() -> bouncer() end),
    T2 = now_ns(),
    B ! {self(), M},
    receive {bounced, 0} -> ok end,
    T3 = now_ns(),
    info("ctxswitch: erlang:yield() ping-pong, 2 processes, ~b yields, ~.3f s, "
         "~b VM context switches (~.2f/yield), schedulers ~b",
         [Yields, (T1 - T0) / 1.0e9, CS1 - CS0, (CS1 - CS0) / Yields, sched()]),
    info("ctxswitch (messages, not the figure): ~b messages bounced between "
         "2 processes, ~.1f ns/message", [2 * M, (T3 - T2) / (2 * M)]),
    result("ctxswitch", (T1 - T0) / Yields, "ns/switch", "lower"),
    ok;

%% -------------------------------------------------------------- spawn_join
%% Serial: spawn a process that sends its argument back and ends, receive
%% it, check it, repeat (axon: spawn one task, ax_await it, repeat).
run("spawn_join", Q) ->
    N = size(1000000, 100000, Q),
    Self = self(),
    T0 = now_ns(),
    spawn_loop(Self, 1, N),
    T1 = now_ns(),
    info("spawn_join: ~b processes, serial spawn + receive of the result, "
         "~.3f s, schedulers ~b", [N, (T1 - T0) / 1.0e9, sched()]),
    result("spawn_join", (T1 - T0) / N, "ns/task", "lower"),
    ok;

%% ----------------------------------------------------------- parked_memory
%% N processes each wait in `receive after 3600000` (a timer, like axon's
%% ax_sleep(3600)); OS VmRSS growth per process once all are waiting.
run("parked_memory", Q) ->
    N = size(100000, 20000, Q),
    C = counters:new(1, [write_concurrency]),
    erlang:garbage_collect(),
    Rss0 = status_kib("VmRSS:"),
    Vsz0 = status_kib("VmSize:"),
    Mem0 = erlang:memory(total),
    Proc0 = erlang:memory(processes),
    T0 = now_ns(),
    spawn_parked(C, N),
    wait_counter(C, N),
    T1 = now_ns(),
    timer:sleep(50), % counters:add comes just before the receive
    Rss1 = status_kib("VmRSS:"),
    Vsz1 = status_kib("VmSize:"),
    Mem1 = erlang:memory(total),
    Proc1 = erlang:memory(processes),
    info("parked_memory: ~b processes waiting (receive after 1 h), started in ~.3f s; "
         "VmRSS ~b -> ~b KiB; VmSize ~b -> ~b KiB; erlang:memory(total) +~.1f B/proc, "
         "erlang:memory(processes) +~.1f B/proc",
         [N, (T1 - T0) / 1.0e9, Rss0, Rss1, Vsz0, Vsz1, (Mem1 - Mem0) / N,
          (Proc1 - Proc0) / N]),
    result("parked_memory", (Rss1 - Rss0) * 1024 / N, "bytes/task", "lower"),
    ok; % halt/1 ends them

%% -------------------------------------------------------------- pingpong
%% Two processes; the pinger sends {ping, self()} and waits for pong, N
%% times. run.sh gives +S 1:1 for pingpong_same, +S 2:2 for pingpong_cross
%% (the VM decides where the two processes run; an INFO line repeats the
%% cross run with the two bound to schedulers 1 and 2).
run(W, Q) when W =:= "pingpong_same"; W =:= "pingpong_cross" ->
    N = case W of
            "pingpong_same" -> size(2000000, 100000, Q);
            _ -> size(500000, 25000, Q)
        end,
    Ns = pingpong(N, []),
    info("~s: ~b round trips, ~.3f s, ~.1f ns/round trip, schedulers ~b",
         [W, N, Ns / 1.0e9, Ns / N, sched()]),
    case W =:= "pingpong_cross" andalso sched() >= 2 of
        true ->
            NB = min(N, 20000), % tens of microseconds each
            NsB = pingpong(NB, [1, 2]),
            info("~s, pinger bound to scheduler 1 and ponger to 2 (undocumented "
                 "spawn_opt {scheduler, N}; not the figure): ~b round trips, ~.1f ns/round trip, "
                 "~.1f round trips/s", [W, NB, NsB / NB, NB * 1.0e9 / NsB]);
        false -> ok
    end,
    result(W, N * 1.0e9 / Ns, "round-trips/s", "higher"),
    ok;

%% -------------------------------------------------------------------- ring
%% 503 processes in a ring pass a token decremented at each hop; timed from
%% the first send until the process that receives 0 reports.
run("ring", Q) ->
    Hops = size(10000000, 200000, Q),
    Self = self(),
    First = spawn(fun() -> ring_first(Self, 503) end),
    receive ring_ready -> ok end,
    T0 = now_ns(),
    First ! Hops,
    T1 = receive {ring_zero, T} -> T end,
    First ! stop,
    info("ring: 503 processes, ~b hops, ~.3f s, ~.1f ns/hop, schedulers ~b",
         [Hops, (T1 - T0) / 1.0e9, (T1 - T0) / Hops, sched()]),
    result("ring", Hops * 1.0e9 / (T1 - T0), "hops/s", "higher"),
    ok;

%% ------------------------------------------------------------------ skynet
%% Both forms, as axon's. The skynet row is the classic form
%% (github.com/atemerev/skynet): every inner process spawns its 10 children
%% at once. The skynet_dfs row is depth-first: an inner process spawns one
%% child, waits for its reply, spawns the next.
run(W, _Q) when W =:= "skynet"; W =:= "skynet_dfs" ->
    Want = 499999500000,
    Self = self(),
    T0 = now_ns(),
    spawn(fun() -> skynet(Self, 0, 1000000) end),
    SumC = receive {sky, S0} -> S0 end,
    T1 = now_ns(),
    SumC =:= Want orelse wrong("skynet (concurrent): sum ~b want ~b", [SumC, Want]),
    erlang:garbage_collect(),
    T2 = now_ns(),
    spawn(fun() -> skynet_dfs(Self, 0, 1000000) end),
    Sum = receive {sky, S1} -> S1 end,
    T3 = now_ns(),
    Sum =:= Want orelse wrong("skynet: sum ~b want ~b", [Sum, Want]),
    info("skynet: 1111111 processes, sum ~b; concurrent (classic, skynet) "
         "~.3f s; depth-first (skynet_dfs) ~.3f s; schedulers ~b",
         [Sum, (T1 - T0) / 1.0e9, (T3 - T2) / 1.0e9, sched()]),
    result("skynet", (T1 - T0) / 1.0e9, "s", "lower"),
    result("skynet_dfs", (T3 - T2) / 1.0e9, "s", "lower"),
    ok;

%% ----------------------------------------------------------- gather_fanout
%% 100,000 processes each wait 1 ms (receive after 1) and send their index
%% to the parent, which collects all and checks the sum.
run("gather_fanout", _Q) ->
    N = 100000,
    Self = self(),
    T0 = now_ns(),
    [spawn(fun() -> receive after 1 -> Self ! {g, I} end end) || I <- lists:seq(0, N - 1)],
    Sum = gather(N, 0),
    T1 = now_ns(),
    Want = N * (N - 1) div 2,
    Sum =:= Want orelse wrong("gather_fanout: sum ~b want ~b", [Sum, Want]),
    info("gather_fanout: ~b processes x 1 ms, sum ~b, ~.3f s, schedulers ~b",
         [N, Sum, (T1 - T0) / 1.0e9, sched()]),
    result("gather_fanout", (T1 - T0) / 1.0e9, "s", "lower"),
    ok;

%% ------------------------------------------------------------------- fanin
%% One sink process; max(2, schedulers) x 8 sender processes each send M
%% messages to it. Erlang mailboxes are unbounded: no backpressure (axon's
%% mailbox holds 1024). Timed from spawning the senders until the sink has
%% the last message.
run("fanin", Q) ->
    Total0 = size(4000000, 400000, Q),
    Senders = max(2, sched()) * 8,
    Per = Total0 div Senders,
    Total = Per * Senders,
    Self = self(),
    Sink = spawn_opt(fun() -> sink(Self, Total, 0, 0) end,
                     [{message_queue_data, off_heap}]),
    T0 = now_ns(),
    [spawn(fun() -> send_n(Sink, Per) end) || _ <- lists:seq(1, Senders)],
    {T1, Got, MaxQ} = receive {sunk, T, G, MQ} -> {T, G, MQ} end,
    Got =:= Total orelse wrong("fanin: got ~b want ~b", [Got, Total]),
    info("fanin: ~b senders x ~b msgs, ~.3f s, sink queue up to ~b seen, schedulers ~b",
         [Senders, Per, (T1 - T0) / 1.0e9, MaxQ, sched()]),
    result("fanin", Total * 1.0e9 / (T1 - T0), "msgs/s", "higher"),
    ok;

%% ----------------------------------------------------------------- restart
%% A one_for_one supervisor (OTP's supervisor module) with one permanent
%% child, all on one scheduler (+S 1:1, as axon's one loop). The child
%% sends up to the bench process as soon as it runs, then waits; the bench
%% process sends it crash, it exits abnormally, the supervisor restarts it
%% and the new child sends up. Timed: the whole loop of crash -> new child
%% running; the figures are the mean latency and the restarts per second,
%% as in bench/restart.c. The intensity (2^30 in 1 s, the shortest period
%% OTP takes) never trips; OTP keeps one timestamp per restart within the
%% period and walks them on each restart, which is part of what is timed.
%% The logger is off: axon's supervisor prints nothing per restart, while
%% OTP would format a crash report and a supervisor report for each.
run(W, Q) when W =:= "sup_restart_latency"; W =:= "sup_restarts_per_s" ->
    N = size(200000, 20000, Q),
    ok = logger:set_primary_config(level, none),
    Self = self(),
    {ok, Sup} = supervisor:start_link(axbench, {restart_sup, Self}),
    Kid0 = receive {up, K0} -> K0 end,
    T0 = now_ns(),
    Kid = restart_loop(Kid0, N),
    T1 = now_ns(),
    unlink(Sup),
    exit(Sup, shutdown),
    is_pid(Kid) orelse wrong("restart: no child", []),
    info("restart: ~b crashes of a permanent child under a one_for_one "
         "supervisor, ~.3f s, schedulers ~b",
         [N, (T1 - T0) / 1.0e9, sched()]),
    %% For comparison (INFO only): the same crash and restart by hand, a
    %% process trapping exits and spawn_link-ing the next child itself.
    process_flag(trap_exit, true),
    T2 = now_ns(),
    hand_restart(N),
    T3 = now_ns(),
    process_flag(trap_exit, false),
    info("restart (by hand, not the figure): spawn_link + trap_exit, "
         "~.3f us/restart", [(T3 - T2) / 1.0e3 / N]),
    result("sup_restart_latency", (T1 - T0) / 1.0e3 / N, "us", "lower"),
    result("sup_restarts_per_s", N * 1.0e9 / (T1 - T0), "restarts/s",
           "higher"),
    ok;

run(W, _) ->
    io:format("unknown workload ~s~n", [W]),
    halt(2).

%% ---------------------------------------------------------------- helpers
yielder(0) -> ok;
yielder(N) -> erlang:yield(), yielder(N - 1).

bouncer() ->
    receive {From, M} -> bounce(From, M) end.

bounce(From, M) ->
    Me = self(),
    Other = spawn(fun() -> bounce_peer(Me) end),
    Other ! M,
    bounce_loop(From, Other).

bounce_loop(From, Other) ->
    receive
        0 -> From ! {bounced, 0}, Other ! stop;
        K -> Other ! K - 1, bounce_loop(From, Other)
    end.

bounce_peer(Back) ->
    receive
        stop -> ok;
        K -> Back ! K, bounce_peer(Back)
    end.

spawn_loop(_, I, N) when I > N -> ok;
spawn_loop(Self, I, N) ->
    spawn(fun() -> Self ! {r, I} end),
    receive {r, I} -> ok end,
    spawn_loop(Self, I + 1, N).

%% Keeps no pids, so nothing but the processes grows.
spawn_parked(_, 0) -> ok;
spawn_parked(C, K) ->
    spawn(fun() -> counters:add(C, 1, 1), receive after 3600000 -> ok end end),
    spawn_parked(C, K - 1).

wait_counter(C, N) ->
    case counters:get(C, 1) of
        N -> ok;
        _ -> receive after 1 -> wait_counter(C, N) end
    end.

status_kib(Key) ->
    {ok, Bin} = file:read_file("/proc/self/status"),
    [Line] = [L || L <- string:split(binary_to_list(Bin), "\n", all),
                   lists:prefix(Key, L)],
    [V | _] = string:lexemes(string:prefix(Line, Key), " \t"),
    list_to_integer(V).

spawn_on([], F) -> spawn(F);
spawn_on(S, F) -> spawn_opt(F, [{scheduler, S}]).

pingpong(N, Bind) ->
    {SPing, SPong} = case Bind of [A, B] -> {A, B}; [] -> {[], []} end,
    Self = self(),
    Pong = spawn_on(SPong, fun ponger/0),
    spawn_on(SPing, fun() ->
        Pong ! {ping, self()},
        receive pong -> ok end,
        T0 = now_ns(),
        pinger(Pong, N),
        T1 = now_ns(),
        Pong ! stop,
        Self ! {pp, T1 - T0}
    end),
    receive {pp, Ns} -> Ns end.

ponger() ->
    receive
        {ping, From} -> From ! pong, ponger();
        stop -> ok
    end.

pinger(_, 0) -> ok;
pinger(Pong, N) ->
    Pong ! {ping, self()},
    receive pong -> ok end,
    pinger(Pong, N - 1).

%% The first process spawns the chain; the last one links back to it.
ring_first(Parent, Size) ->
    Me = self(),
    Next = spawn(fun() -> ring_spawn(Parent, Me, Size - 1) end),
    receive ring_built -> ok end,
    Parent ! ring_ready,
    ring_node(Parent, Next).

ring_spawn(Parent, First, 1) ->
    First ! ring_built,
    ring_node(Parent, First);
ring_spawn(Parent, First, K) ->
    Next = spawn(fun() -> ring_spawn(Parent, First, K - 1) end),
    ring_node(Parent, Next).

ring_node(Parent, Next) ->
    receive
        0 -> Parent ! {ring_zero, now_ns()}, ring_node(Parent, Next);
        stop -> Next ! stop;
        T -> Next ! T - 1, ring_node(Parent, Next)
    end.

skynet(Parent, Num, 1) -> Parent ! {sky, Num};
skynet(Parent, Num, Size) ->
    Me = self(),
    Step = Size div 10,
    [spawn(fun() -> skynet(Me, Num + I * Step, Step) end) || I <- lists:seq(0, 9)],
    Parent ! {sky, sky_sum(10, 0)}.

sky_sum(0, Acc) -> Acc;
sky_sum(K, Acc) -> receive {sky, V} -> sky_sum(K - 1, Acc + V) end.

skynet_dfs(Parent, Num, 1) -> Parent ! {sky, Num};
skynet_dfs(Parent, Num, Size) ->
    Parent ! {sky, skynet_dfs_children(Num, Size div 10, 0, 0)}.

skynet_dfs_children(_, _, 10, Acc) -> Acc;
skynet_dfs_children(Num, Step, I, Acc) ->
    Me = self(),
    spawn(fun() -> skynet_dfs(Me, Num + I * Step, Step) end),
    receive {sky, V} -> skynet_dfs_children(Num, Step, I + 1, Acc + V) end.

gather(0, Acc) -> Acc;
gather(K, Acc) -> receive {g, I} -> gather(K - 1, Acc + I) end.

send_n(_, 0) -> ok;
send_n(Sink, K) -> Sink ! m, send_n(Sink, K - 1).

sink(Parent, Total, Total, MaxQ) ->
    Parent ! {sunk, now_ns(), Total, MaxQ};
sink(Parent, Total, Got, MaxQ) ->
    receive m -> ok end,
    MaxQ1 = case Got band 16#3fff of
                0 -> {message_queue_len, L} = process_info(self(), message_queue_len),
                     max(MaxQ, L);
                _ -> MaxQ
            end,
    sink(Parent, Total, Got + 1, MaxQ1).

hand_restart(0) -> ok;
hand_restart(K) ->
    Me = self(),
    P = spawn_link(fun() -> Me ! {up, self()},
                            receive crash -> exit(crash) end end),
    receive {up, P} -> ok end,
    P ! crash,
    receive {'EXIT', P, crash} -> ok end,
    hand_restart(K - 1).

restart_loop(Kid, 0) -> Kid;
restart_loop(Kid, K) ->
    Kid ! crash,
    receive {up, New} -> restart_loop(New, K - 1) end.

init({restart_sup, Bench}) ->
    {ok, {#{strategy => one_for_one, intensity => 1 bsl 30, period => 1},
          [#{id => child, start => {axbench, restart_child, [Bench]},
             restart => permanent, shutdown => brutal_kill,
             type => worker}]}}.

restart_child(Bench) ->
    {ok, proc_lib:spawn_link(fun() ->
                                 Bench ! {up, self()},
                                 receive crash -> exit(crash) end
                             end)}.
