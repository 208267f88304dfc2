"""I/O multiplexing with select (Stevens Fig. 6.3): one thread sleeps in select over the
listener and every client, then accepts or reads only what is ready. Usage: select_server.py
[PORT]."""
import select
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(16)
watched = [server]
while True:
    readable, _, _ = select.select(watched, [], [])
    for sock in readable:
        if sock is server:
            client, _ = server.accept()
            watched.append(client)
            continue
        try:
            line = sock.recv(1024)
        except ConnectionError:
            line = b""  # reset by the client: gone, as if it had closed
        if line:
            sock.sendall(line.upper())
        else:
            watched.remove(sock)
            sock.close()
