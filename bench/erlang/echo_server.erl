%% The line echo server of examples/echo_server.c on BEAM, for bench/net.ts: gen_tcp in passive
%% mode, a process per connection; each complete line goes back as soon as it has arrived.
%% Run: erlc echo_server.erl && erl -noshell -s echo_server main <port>
-module(echo_server).
-export([main/1]).

main([PortAtom]) ->
    Port = list_to_integer(atom_to_list(PortAtom)),
    {ok, Listen} = gen_tcp:listen(Port, [binary, {ip, {127, 0, 0, 1}}, {active, false},
                                         {packet, raw}, {reuseaddr, true}, {nodelay, true},
                                         {backlog, 511}]),
    {ok, Bound} = inet:port(Listen),
    io:format("listening on 127.0.0.1:~p~n", [Bound]),
    [spawn(fun() -> accept(Listen) end) || _ <- lists:seq(1, 4)],
    receive stop -> ok end.

accept(Listen) ->
    case gen_tcp:accept(Listen) of
        {ok, Socket} ->
            Pid = spawn(fun() -> receive {go, S} -> echo(S, <<>>) end end),
            ok = gen_tcp:controlling_process(Socket, Pid),
            Pid ! {go, Socket},
            accept(Listen);
        {error, _} ->
            accept(Listen)
    end.

%% Sends back everything up to the last newline received; keeps the rest for its line's end.
echo(Socket, Pending) ->
    case gen_tcp:recv(Socket, 0) of
        {ok, Data} ->
            Buffer = <<Pending/binary, Data/binary>>,
            case binary:matches(Buffer, <<"\n">>) of
                [] -> echo(Socket, Buffer);
                Matches ->
                    {Last, 1} = lists:last(Matches),
                    Complete = Last + 1,
                    ok = gen_tcp:send(Socket, binary:part(Buffer, 0, Complete)),
                    echo(Socket, binary:part(Buffer, Complete, byte_size(Buffer) - Complete))
            end;
        {error, _} ->
            gen_tcp:close(Socket)
    end.
