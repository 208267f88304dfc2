"""One select loop over two listeners (a program may serve several ports): Kettle lists both,
and an echo client can pick either. Usage: two_ports.py (the kernel chooses both ports)."""
import select
import socket

def recv_or_gone(sock):
    try:
        return sock.recv(1024)
    except ConnectionError:
        return b""  # reset by the client: gone, as if it had closed


listeners = []
for _ in range(2):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listeners.append(listener)
watched = list(listeners)
while True:
    readable, _, _ = select.select(watched, [], [])
    for sock in readable:
        if sock in listeners:
            client, _ = sock.accept()
            watched.append(client)
        elif line := recv_or_gone(sock):
            sock.sendall(line.upper())
        else:
            watched.remove(sock)
            sock.close()
