"""Blocking I/O, one thread (Stevens Fig. 6.1): accept one client, serve it until it leaves,
then accept the next. Echoes each line upper-cased. Usage: blocking.py [PORT] (0: any)."""
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(16)
while True:
    client, _ = server.accept()
    try:
        while line := client.recv(1024):
            client.sendall(line.upper())
    except ConnectionError:
        pass  # the client reset the connection: it is gone either way
    client.close()
