"""One select loop over two listeners (a program may serve several ports): Kettle lists both,
and an echo client can pick either. Usage: two_ports.py (the kernel chooses both ports)."""
import select
import socket

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
        elif line := sock.recv(1024):
            sock.sendall(line.upper())
        else:
            watched.remove(sock)
            sock.close()
