%% The two-node benchmark of bench/distributed.ts on Erlang distribution: node b runs an echo
%% process; node a measures round trips (a message there, its answer back, one at a time) and
%% one-way throughput (messages sent as fast as `!` returns, counted by the echo).
%% Run: erl -sname b -setcookie C -noshell -s dist_echo serve
%%      erl -sname a -setcookie C -noshell -s dist_echo measure b@HOST ROUNDS MESSAGES
-module(dist_echo).
-export([serve/0, measure/1]).

serve() ->
    register(echo, spawn(fun() -> echo(0) end)),
    io:format("serving~n"),
    receive stop -> ok end.

echo(Counted) ->
    receive
        {ping, From} -> From ! pong, echo(Counted);
        one_way -> echo(Counted + 1);
        {count, From} -> From ! {counted, Counted}, echo(Counted)
    end.

measure([NodeAtom, RoundsAtom, MessagesAtom]) ->
    Rounds = list_to_integer(atom_to_list(RoundsAtom)),
    Messages = list_to_integer(atom_to_list(MessagesAtom)),
    pong = net_adm:ping(NodeAtom),
    Echo = {echo, NodeAtom},
    ping_pong(Echo, Rounds div 5),
    T0 = erlang:monotonic_time(nanosecond),
    ping_pong(Echo, Rounds),
    T1 = erlang:monotonic_time(nanosecond),
    io:format("round_trip_ns ~p~n", [(T1 - T0) div Rounds]),
    T2 = erlang:monotonic_time(nanosecond),
    [Echo ! one_way || _ <- lists:seq(1, Messages)],
    Echo ! {count, self()},
    receive {counted, Counted} -> ok end,
    T3 = erlang:monotonic_time(nanosecond),
    io:format("throughput_per_s ~p (~p counted)~n", [Messages * 1000000000 div (T3 - T2), Counted]),
    io:format("done~n"),
    init:stop().

ping_pong(_, 0) -> ok;
ping_pong(Echo, N) ->
    Echo ! {ping, self()},
    receive pong -> ok end,
    ping_pong(Echo, N - 1).
