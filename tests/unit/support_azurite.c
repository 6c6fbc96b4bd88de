/* support_azurite.c - see support_azurite.h. */
#include "support_azurite.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static int can_connect(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    if (fd < 0)
        return 0;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

int azurite_start(struct azurite *a)
{
    char port[16], log[300];
    int status;

    memset(a, 0, sizeof(*a));
    snprintf(a->dir, sizeof(a->dir), "/tmp/azpool-azurite.XXXXXX");
    if (!mkdtemp(a->dir)) {
        fprintf(stderr, "azurite: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    a->port = free_port();
    if (a->port <= 0)
        return -1;
    snprintf(port, sizeof(port), "%d", a->port);
    snprintf(log, sizeof(log), "%s/azurite.log", a->dir);
    a->pid = fork();
    if (a->pid < 0)
        return -1;
    if (a->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        setpgid(0, 0);
        execlp("azurite-queue", "azurite-queue", "--queueHost", "127.0.0.1", "--queuePort", port,
               "--location", a->dir, "--skipApiVersionCheck", "--disableTelemetry", "--silent",
               (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};

        if (can_connect(a->port)) {
            snprintf(a->url, sizeof(a->url), "http://127.0.0.1:%d/devstoreaccount1", a->port);
            snprintf(a->conn, sizeof(a->conn),
                     "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                     "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
                     "K1SZFPTOtr/KBHBeksoGMGw==;QueueEndpoint=%s;",
                     a->url);
            return 0;
        }
        if (waitpid(a->pid, &status, WNOHANG) == a->pid) {
            fprintf(stderr,
                    "azurite: azurite-queue exited (status %d; is it installed? "
                    "hack/install-deps.sh); log in %s\n",
                    status, log);
            a->pid = 0;
            return -1;
        }
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "azurite: not listening after 30 s\n");
    azurite_stop(a);
    return -1;
}

void azurite_stop(struct azurite *a)
{
    char cmd[300];

    if (a->pid > 0) {
        int status;

        kill(a->pid, SIGTERM);
        for (int i = 0; i < 50 && waitpid(a->pid, &status, WNOHANG) == 0; i++) {
            struct timespec ts = {0, 100 * 1000 * 1000};

            nanosleep(&ts, NULL);
        }
        if (waitpid(a->pid, &status, WNOHANG) == 0) {
            kill(a->pid, SIGKILL);
            waitpid(a->pid, &status, 0);
        }
        a->pid = 0;
    }
    if (a->dir[0] && strncmp(a->dir, "/tmp/azpool-azurite.", 20) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", a->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "azurite: could not remove %s\n", a->dir);
        a->dir[0] = '\0';
    }
}
