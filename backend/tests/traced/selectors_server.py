"""The selectors module's reactor: register a callback per socket, and one loop calls the
callback of each ready one. On Linux DefaultSelector is epoll, so this draws as Fig. 6.3 with
an interest list. Usage: selectors_server.py [PORT]."""
import selectors
import socket
import sys

selector = selectors.DefaultSelector()


def accept(server):
    client, _ = server.accept()
    client.setblocking(False)
    selector.register(client, selectors.EVENT_READ, echo)


def echo(client):
    try:
        line = client.recv(1024)
    except ConnectionError:
        line = b""  # reset by the client: gone, as if it had closed
    if line:
        client.sendall(line.upper())
    else:
        selector.unregister(client)
        client.close()


port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(16)
server.setblocking(False)
selector.register(server, selectors.EVENT_READ, accept)
while True:
    for key, _ in selector.select():
        key.data(key.fileobj)
