/* An echo server in C that waits in poll(2) (Stevens Fig. 6.3): the listener and every
 * client in one pollfd array, one thread. Echoes upper-cased. Usage: poll_echo [PORT]. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 64

int main(int argc, char **argv) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons(argc > 1 ? atoi(argv[1]) : 0),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 16) != 0)
        return 1;
    struct pollfd fds[MAX_FDS] = {{.fd = listener, .events = POLLIN}};
    int n = 1;
    char buf[1024];
    for (;;) {
        if (poll(fds, n, -1) < 0)
            return 1;
        for (int i = n - 1; i >= 0; i--) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (fds[i].fd == listener) {
                int client = accept(listener, NULL, NULL);
                if (client >= 0 && n < MAX_FDS)
                    fds[n++] = (struct pollfd){.fd = client, .events = POLLIN};
                else if (client >= 0)
                    close(client);
                continue;
            }
            ssize_t got = read(fds[i].fd, buf, sizeof buf);
            if (got <= 0) {
                close(fds[i].fd);
                fds[i] = fds[--n];
                continue;
            }
            for (ssize_t j = 0; j < got; j++)
                buf[j] = (char)toupper((unsigned char)buf[j]);
            write(fds[i].fd, buf, (size_t)got);
        }
    }
}
