"""Signal-driven I/O (Stevens Fig. 6.4): every socket asks the kernel for SIGIO when it has
something to read (F_SETOWN, O_ASYNC). The handler only raises a flag; the main loop is free
to do other work (here it naps 10 ms at a time) and, once the flag is up, reads what is ready
without waiting (the sockets are non-blocking, so a socket with nothing gives EAGAIN).
Usage: sigio_server.py [PORT]."""
import fcntl
import os
import signal
import socket
import sys
import time

signalled = []


def on_sigio(signo, frame):
    signalled.append(signo)


def signal_me_when_readable(sock):
    fcntl.fcntl(sock, fcntl.F_SETOWN, os.getpid())
    flags = fcntl.fcntl(sock, fcntl.F_GETFL)
    fcntl.fcntl(sock, fcntl.F_SETFL, flags | os.O_ASYNC | os.O_NONBLOCK)


def drain(server, clients):
    while True:
        try:
            client, _ = server.accept()
        except BlockingIOError:
            break
        signal_me_when_readable(client)
        clients.append(client)
    for client in list(clients):
        try:
            while line := client.recv(1024):
                client.sendall(line.upper())
        except BlockingIOError:
            continue
        except ConnectionError:
            pass  # reset by the client: gone, as if it had closed
        clients.remove(client)
        client.close()


signal.signal(signal.SIGIO, on_sigio)
port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port))
server.listen(16)
signal_me_when_readable(server)
clients = []
while True:
    if signalled:
        signalled.clear()
        drain(server, clients)
    else:
        time.sleep(0.01)
