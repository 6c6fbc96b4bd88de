/* support_kubesim.c - see support_kubesim.h. */
#include "support_kubesim.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int find_binary(char *buf, size_t size)
{
    const char *env = getenv("KUBESIM");
    char exe[1024];
    ssize_t n;
    char *slash;

    if (env && env[0]) {
        snprintf(buf, size, "%s", env);
        return access(buf, X_OK) == 0 ? 0 : -1;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    snprintf(buf, size, "%s/../kubesim", exe);
    return access(buf, X_OK) == 0 ? 0 : -1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static int launch(struct ksim *s);

int ksim_start(struct ksim *s, const char *const *extra)
{
    memset(s, 0, sizeof(*s));
    s->extra = extra;
    snprintf(s->dir, sizeof(s->dir), "/tmp/azpool-ksim.XXXXXX");
    if (!mkdtemp(s->dir))
        return -1;
    s->port = free_port();
    if (s->port <= 0)
        return -1;
    return launch(s);
}

void ksim_kill(struct ksim *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

int ksim_restart(struct ksim *s)
{
    ksim_kill(s);
    return launch(s);
}

static int launch(struct ksim *s)
{
    const char *const *extra = s->extra;
    char bin[1100], port[16], log[400];
    const char *argv[32];
    int argc = 0;

    if (find_binary(bin, sizeof(bin)) < 0) {
        fprintf(stderr, "support_kubesim: kubesim binary not found (set KUBESIM)\n");
        return -1;
    }
    snprintf(port, sizeof(port), "%d", s->port);
    argv[argc++] = bin;
    argv[argc++] = "--port";
    argv[argc++] = port;
    argv[argc++] = "--dir";
    argv[argc++] = s->dir;
    s->tls = false;
    for (int i = 0; extra && extra[i] && argc < 30; i++) {
        if (strcmp(extra[i], "--tls") == 0)
            s->tls = true;
        argv[argc++] = extra[i];
    }
    argv[argc] = NULL;
    snprintf(log, sizeof(log), "%s/log", s->dir);
    snprintf(s->kubeconfig, sizeof(s->kubeconfig), "%s/kubeconfig", s->dir);
    snprintf(s->ca_file, sizeof(s->ca_file), "%s/ca.pem", s->dir);
    snprintf(s->base, sizeof(s->base), "%s://127.0.0.1:%d", s->tls ? "https" : "http", s->port);
    unlink(log); /* a restart must not see the previous "listening" line */
    fflush(NULL);
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        FILE *f = freopen(log, "w", stdout);

        if (!f)
            _exit(127);
        dup2(fileno(stdout), 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        char line[256] = "";
        FILE *f = fopen(log, "r");

        if (f) {
            char *got = fgets(line, sizeof(line), f);

            fclose(f);
            if (got && strstr(line, "kubesim listening on"))
                return 0;
        }
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            return -1;
        }
        sleep_ms(50);
    }
    return -1;
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        char p[600];

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (e->d_type == DT_DIR)
            rm_rf(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

void ksim_stop(struct ksim *s)
{
    ksim_kill(s);
    if (s->dir[0])
        rm_rf(s->dir);
    s->dir[0] = '\0';
}

struct sink {
    char *out;
    size_t size, len;
};

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
    struct sink *k = userp;
    size_t n = size * nmemb;

    if (k->out && k->size) {
        size_t room = k->size - 1 - k->len;
        size_t c = n < room ? n : room;

        memcpy(k->out + k->len, data, c);
        k->len += c;
        k->out[k->len] = '\0';
    }
    return n;
}

long ksim_http(const struct ksim *s, const char *method, const char *path, const char *content_type,
               const char *body, char *out, size_t size)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    struct sink k = {out, size, 0};
    char url[1024], ct[128];
    long status = 0;

    if (out && size)
        out[0] = '\0';
    if (!c)
        return 0;
    snprintf(url, sizeof(url), "%s%s", s->base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (s->tls)
        curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
    h = curl_slist_append(h, "Accept: application/json");
    if (body) {
        snprintf(ct, sizeof(ct), "Content-Type: %s",
                 content_type ? content_type : "application/json");
        h = curl_slist_append(h, ct);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

int ksim_apply_crds(const struct ksim *s)
{
    static const char *const files[] = {"workerpools.yaml", "imageversions.yaml",
                                        "expirypolicies.yaml"};
    const char *root = getenv("AZPOOL_ROOT");

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[1024], *buf;
        FILE *f;
        long n, st;

        snprintf(path, sizeof(path), "%s%scrds/%s", root ? root : "", root ? "/" : "", files[i]);
        f = fopen(path, "rb");
        if (!f)
            return -1;
        buf = malloc(1 << 20);
        if (!buf) {
            fclose(f);
            return -1;
        }
        n = (long)fread(buf, 1, (1 << 20) - 1, f);
        fclose(f);
        buf[n] = '\0';
        st = ksim_http(s, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                       "application/yaml", buf, NULL, 0);
        free(buf);
        if (st != 201)
            return -1;
    }
    return 0;
}

int ksim_namespace(const struct ksim *s, const char *ns)
{
    char body[300];
    long st;

    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{"
             "\"name\":\"%s\"}}",
             ns);
    st = ksim_http(s, "POST", "/api/v1/namespaces", NULL, body, NULL, 0);
    return st == 200 || st == 201 || st == 409 ? 0 : -1;
}
