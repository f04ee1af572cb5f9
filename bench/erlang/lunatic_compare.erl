%% The workloads of bench/compare.ts, on BEAM. Each prints one JSON object per line.
%% Run: erlc lunatic_compare.erl && erl -noshell -s lunatic_compare main <workload> <args...> -s init stop
-module(lunatic_compare).
-export([main/1]).

main([Workload | Args]) ->
    Numbers = [list_to_integer(atom_to_list(A)) || A <- Args],
    Result = run(Workload, Numbers),
    io:format("~s~n", [json(Result)]).

%% Spawns N processes that each send one message to the parent and exit.
run(spawn, [N]) ->
    Parent = self(),
    {Micros, ok} = timer:tc(fun() ->
        spawn_n(N, fun() -> Parent ! done end),
        collect(N)
    end),
    [{workload, spawn}, {processes, N}, {ns_per_process, Micros * 1000 / N}];

%% Spawns N processes blocked in receive; reports spawn time and RSS growth per process.
run(idle, [N]) ->
    erlang:garbage_collect(),
    Before = rss_bytes(),
    {Micros, Pids} = timer:tc(fun() -> [spawn(fun idle/0) || _ <- lists:seq(1, N)] end),
    After = rss_bytes(),
    [exit(Pid, kill) || Pid <- Pids],
    [{workload, idle}, {processes, N}, {ns_per_spawn, Micros * 1000 / N},
     {rss_bytes_per_process, (After - Before) / N}];

%% A ring of N processes passing a token for M hops in total.
run(ring, [N, M]) ->
    Parent = self(),
    First = lists:foldl(fun(_, Next) -> spawn(fun() -> ring_node(Next) end) end, Parent,
                        lists:seq(1, N - 1)),
    {Micros, ok} = timer:tc(fun() ->
        First ! {token, M - 1},
        ring_leader(First)
    end),
    [{workload, ring}, {processes, N}, {messages, M}, {ns_per_message, Micros * 1000 / M}];

%% K request/reply round trips between two processes.
run(roundtrip, [K]) ->
    Server = spawn(fun echo/0),
    {Micros, ok} = timer:tc(fun() -> ping(Server, K) end),
    exit(Server, kill),
    [{workload, roundtrip}, {round_trips, K}, {ns_per_round_trip, Micros * 1000 / K}].

spawn_n(0, _) -> ok;
spawn_n(N, F) -> spawn(F), spawn_n(N - 1, F).

collect(0) -> ok;
collect(N) -> receive done -> collect(N - 1) end.

idle() -> receive stop -> ok end.

ring_node(Next) ->
    receive
        {token, 0} -> Next ! {token, 0};
        {token, Left} -> Next ! {token, Left - 1}, ring_node(Next)
    end.

%% The parent closes the ring: it forwards the token until the count runs out.
ring_leader(First) ->
    receive
        {token, 0} -> ok;
        {token, Left} -> First ! {token, Left - 1}, ring_leader(First)
    end.

echo() -> receive {From, Value} -> From ! {self(), Value}, echo() end.

ping(_, 0) -> ok;
ping(Server, K) ->
    Server ! {self(), K},
    receive {Server, K} -> ping(Server, K - 1) end.

rss_bytes() ->
    {ok, Status} = file:read_file("/proc/self/status"),
    [Line] = [L || L <- binary:split(Status, <<"\n">>, [global]), binary:match(L, <<"VmRSS:">>) =/= nomatch],
    [_, Kb | _] = string:lexemes(binary_to_list(Line), " \t"),
    list_to_integer(Kb) * 1024.

json(Pairs) ->
    "{" ++ string:join([io_lib:format("\"~s\":~s", [K, value(V)]) || {K, V} <- Pairs], ",") ++ "}".

value(V) when is_atom(V) -> io_lib:format("\"~s\"", [V]);
value(V) when is_float(V) -> io_lib:format("~.3f", [V]);
value(V) -> io_lib:format("~p", [V]).
