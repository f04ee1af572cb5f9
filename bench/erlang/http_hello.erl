%% The HTTP server of examples/http_hello.c on BEAM, for bench/net.ts: gen_tcp in passive
%% mode, a process per connection (acceptors hand each socket over with controlling_process),
%% "Hello, world!" for every request, keep-alive, "Connection: close" honoured.
%% Run: erlc http_hello.erl && erl -noshell -s http_hello main <port>
-module(http_hello).
-export([main/1]).

-define(RESPONSE, <<"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!">>).
-define(RESPONSE_CLOSE, <<"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world!">>).

main([PortAtom]) ->
    Port = list_to_integer(atom_to_list(PortAtom)),
    {ok, Listen} = gen_tcp:listen(Port, [binary, {ip, {127, 0, 0, 1}}, {active, false},
                                         {packet, raw}, {reuseaddr, true}, {nodelay, true},
                                         {backlog, 511}]),
    {ok, Bound} = inet:port(Listen),
    io:format("listening on 127.0.0.1:~p~n", [Bound]),
    %% Several acceptors, as a production BEAM server has.
    [spawn(fun() -> accept(Listen) end) || _ <- lists:seq(1, 4)],
    receive stop -> ok end.

accept(Listen) ->
    case gen_tcp:accept(Listen) of
        {ok, Socket} ->
            Pid = spawn(fun() -> receive {go, S} -> serve(S, <<>>) end end),
            ok = gen_tcp:controlling_process(Socket, Pid),
            Pid ! {go, Socket},
            accept(Listen);
        {error, _} ->
            accept(Listen)
    end.

serve(Socket, Buffer) ->
    case gen_tcp:recv(Socket, 0) of
        {ok, Data} -> answer(Socket, <<Buffer/binary, Data/binary>>);
        {error, _} -> gen_tcp:close(Socket)
    end.

%% Answers every complete request in the buffer, then reads more.
answer(Socket, Buffer) ->
    case binary:match(Buffer, <<"\r\n\r\n">>) of
        nomatch -> serve(Socket, Buffer);
        {At, 4} ->
            Request = binary:part(Buffer, 0, At + 4),
            Rest = binary:part(Buffer, At + 4, byte_size(Buffer) - At - 4),
            case binary:match(string:lowercase(Request), <<"connection: close">>) of
                nomatch ->
                    ok = gen_tcp:send(Socket, ?RESPONSE),
                    answer(Socket, Rest);
                _ ->
                    gen_tcp:send(Socket, ?RESPONSE_CLOSE),
                    gen_tcp:close(Socket)
            end
    end.
