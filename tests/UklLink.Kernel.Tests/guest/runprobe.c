/* runprobe: what `ukl-link run` hands the application, made observable (RunTests).
 *   runprobe exit N            exit with status N
 *   runprobe signal NAME       raise SIGSEGV / SIGKILL / SIGTERM on itself
 *   runprobe show VAR... -- FILE...   print argv, the variables' values, the files' contents, cwd, uid lookups
 *   runprobe touch MB          mmap MB MiB, write one byte a page, print the milliseconds (fault cost)
 *   runprobe exec PATH ARG...  execv PATH (e.g. a native copy of runprobe, to compare in the same boot)
 *   runprobe serve PORT        TCP server: answers each line with "runprobe: " + line; on SIGINT/SIGTERM prints
 *                              "runprobe: got SIGNAME" and exits with status 3
 * Ordinary C on musl (built with ukl-cc).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

static int serve(int port)
{
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 8) != 0) {
        perror("runprobe: bind/listen");
        return 1;
    }
    printf("runprobe: listening on %d\n", port);
    fflush(stdout);
    while (!stop_signal) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            perror("runprobe: accept");
            return 1;
        }
        FILE *in = fdopen(c, "r+");
        char line[512];
        while (fgets(line, sizeof line, in)) {
            fprintf(in, "runprobe: %s", line);
            fflush(in);
        }
        fclose(in);
    }
    printf("runprobe: got %s\n", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(stdout);
    return 3;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "exit") == 0)
        return atoi(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "signal") == 0) {
        fflush(stdout);
        if (strcmp(argv[2], "SEGV") == 0)
            *(volatile int *)0 = 1;
        raise(strcmp(argv[2], "KILL") == 0 ? SIGKILL : SIGTERM);
        return 99;
    }
    if (argc >= 3 && strcmp(argv[1], "touch") == 0) {
        size_t size = (size_t)atoi(argv[2]) << 20;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        volatile char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 1;
        for (size_t i = 0; i < size; i += 4096)
            p[i] = 1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("runprobe: touched %s MiB in %ld ms\n", argv[2], (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "exec") == 0) {
        execv(argv[2], argv + 2);
        perror("runprobe: exec");
        return 127;
    }
    if (argc >= 3 && strcmp(argv[1], "serve") == 0)
        return serve(atoi(argv[2]));
    if (argc >= 2 && strcmp(argv[1], "show") == 0) {
        int i = 2;
        for (int k = 0; k < argc; k++)
            printf("runprobe: argv[%d]=[%s]\n", k, argv[k]);
        for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
            const char *v = getenv(argv[i]);
            printf("runprobe: env %s=[%s]\n", argv[i], v ? v : "(unset)");
        }
        for (i++; i < argc; i++) {
            FILE *f = fopen(argv[i], "r");
            char buf[256] = "";
            size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
            buf[n] = 0;
            if (n && buf[n - 1] == '\n')
                buf[n - 1] = 0;
            printf("runprobe: file %s=[%s]\n", argv[i], f ? buf : strerror(errno));
            if (f)
                fclose(f);
        }
        char cwd[256];
        struct passwd *nobody = getpwnam("nobody");
        struct group *www = getgrnam("www-data");
        printf("runprobe: cwd=[%s] nobody=%d www-data=%d\n", getcwd(cwd, sizeof cwd) ? cwd : "?",
               nobody ? (int)nobody->pw_uid : -1, www ? (int)www->gr_gid : -1);
        return 0;
    }
    fprintf(stderr, "usage: runprobe exit N | signal SEGV|KILL|TERM | show VAR... -- FILE... | serve PORT\n");
    return 2;
}
