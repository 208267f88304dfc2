"""A line client in the style a Python course writes one: Kettle's own, for its tests.

It opens one TCP connection to 127.0.0.1:PORT, then for every line it reads on standard input
sends that line (without its newline, surrounding blanks trimmed), makes a single
`recv(1024)` for the answer and prints what came back. Blank lines are not sent: an empty
`send` would leave the client waiting in `recv` for an answer that never comes. At the end of
its input it closes the connection and exits.

One `recv` per line is the point: it trusts that a short line comes back in one piece, as it
does on loopback from every echo server of Kettle. A model that answered in two pieces, or
not at all, would show here as a missing or cut-off line.

usage: python3 line_client.py PORT < lines.txt
"""

import socket
import sys

# The most one recv() takes, as in the course's clients.
RECV_BYTES = 1024


def main() -> int:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print("usage: line_client.py PORT", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        for typed in sys.stdin:
            line = typed.strip()
            if not line:
                continue
            conn.sendall(line.encode("utf-8"))
            answer = conn.recv(RECV_BYTES)
            if not answer:
                print("the server closed the connection", file=sys.stderr)
                return 1
            print(answer.decode("utf-8"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
