"""Non-blocking sockets polled in a loop (Stevens Fig. 6.2): every accept and recv that finds
nothing fails with EAGAIN (BlockingIOError), and the loop tries again at once, burning a CPU.
Usage: busy_loop.py [PORT]."""
import socket
import sys

port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(16)
server.setblocking(False)
clients = []
while True:
    try:
        client, _ = server.accept()
        client.setblocking(False)
        clients.append(client)
    except BlockingIOError:
        pass
    for client in list(clients):
        try:
            line = client.recv(1024)
        except BlockingIOError:
            continue
        except ConnectionError:
            line = b""
        if line:
            client.sendall(line.upper())
        else:
            clients.remove(client)
            client.close()
