"""A thread per connection (Stevens Fig. 6.1, one lane per thread): the main thread blocks in
accept, each client's thread blocks in recv. Usage: threads.py [PORT]."""
import socket
import sys
import threading


def serve(client):
    with client:
        try:
            while line := client.recv(1024):
                client.sendall(line.upper())
        except ConnectionError:
            pass  # the client reset the connection: it is gone either way


port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(16)
while True:
    client, _ = server.accept()
    threading.Thread(target=serve, args=(client,), daemon=True).start()
