/*
 * test_crash.c — crash safety of `loom train`: the run is killed with
 * SIGKILL at 20 seeded moments (7 of them aimed at a checkpoint being
 * written, with LOOM_TEST_SAVE_PAUSE_MS making each save pause half-way and
 * before its rename: see core/model_file_write.c), restarted with --resume
 * each time (twice after its newest checkpoint was damaged on purpose), and
 * must end with a model byte-identical to an uninterrupted run's, and the
 * same metrics.jsonl lines (but for times and the training metrics of the
 * epochs a resume cut). And a checkpoint save that meets a full disk
 * (RLIMIT_FSIZE) fails clearly and leaves the previous checkpoint intact.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"

#define KILLS    20
#define PAUSE_MS 15
#define EPOCHS   "50"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 32) % n;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1e3),
                          (long)(1e6 * (ms - 1e3 * (double)(time_t)(ms / 1e3)))};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* `loom train tiny.yaml ... --run-dir rd [--resume]` started in dir, its
 * output in dir/log (truncated). pause_ms > 0: slow saves; fsize > 0: a
 * file size limit (SIGXFSZ ignored, so that a write fails with EFBIG). */
static pid_t spawn(const char *rd, bool resume, long pause_ms, rlim_t fsize)
{
    const char *bin = getenv("LOOM_BIN");
    if (!bin) fail_msg("LOOM_BIN is not set (meson test sets it to build/cli/loom)");
    char *argv[] = {"loom", "train",     "tiny.yaml", "--threads",
                    "1",    "--epochs",  EPOCHS,      "--checkpoint-every",
                    "3",    "--run-dir", (char *)rd,  resume ? "--resume" : NULL,
                    NULL};
    char log[600];
    snprintf(log, sizeof log, "%s/log", dir);
    unlink(log); /* no earlier run's lines for wait_log */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = chdir(dir) == 0 ? open("log", O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(127);
        char v[24];
        snprintf(v, sizeof v, "%ld", pause_ms);
        if (pause_ms > 0)
            setenv("LOOM_TEST_SAVE_PAUSE_MS", v, 1);
        else
            unsetenv("LOOM_TEST_SAVE_PAUSE_MS");
        if (fsize) {
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl = {fsize, fsize};
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(127);
        }
        execv(bin, argv);
        _exit(127);
    }
    return pid;
}

/* The exit code of pid (waited for), or -signal. */
static int reap(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) fail_msg("waitpid: %s", strerror(errno));
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? -WTERMSIG(st) : -1000;
}

/* Fail when pid has ended on its own (with its log). */
static void still_running(pid_t pid, const char *when)
{
    int st;
    if (waitpid(pid, &st, WNOHANG) != pid) return;
    char *log = slurp("log", NULL);
    fail_msg("loom train ended (status 0x%x) %s, before its kill:\n%s", st, when,
             log ? log : "(no log)");
}

/* Temporary files of checkpoint saves in dir/rd (".last.loom.tmp-XXXXXX"). */
static int temps(const char *rd)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, rd);
    DIR *d = opendir(path);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] == '.' && strstr(e->d_name, ".loom.tmp-") != NULL;
    closedir(d);
    return n;
}

static bool exists(const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Wait (up to 60 s) until the log holds s. */
static void wait_log(pid_t pid, const char *s)
{
    for (double t0 = now_ms(); now_ms() - t0 < 60e3; sleep_ms(0.5)) {
        char *log = slurp("log", NULL);
        bool found = log && strstr(log, s);
        free(log);
        if (found) return;
        still_running(pid, s);
    }
    fail_msg("no '%s' in the log after 60 s", s);
}

/* Wait until the k-th checkpoint save of this process has begun (its
 * temporary file appeared k times). */
static void wait_save(pid_t pid, const char *rd, int k)
{
    bool was = temps(rd) > 0;
    for (double t0 = now_ms(); now_ms() - t0 < 60e3; sleep_ms(0.2)) {
        bool is = temps(rd) > 0;
        if (is && !was && --k == 0) return;
        was = is;
        still_running(pid, "waiting for a checkpoint save");
    }
    fail_msg("no checkpoint save seen in 60 s");
}

/* Damage dir/name: one byte flipped half-way, or cut to half its size. */
static void damage(const char *name, bool truncate_it)
{
    size_t n;
    char *b = slurp(name, &n);
    assert_non_null(b);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    b[n / 2] ^= 0x10;
    assert_int_equal(fwrite(b, 1, truncate_it ? n / 2 : n, f), truncate_it ? n / 2 : n);
    fclose(f);
    free(b);
}

/* metrics.jsonl's line without its times and training metrics: "epoch":E,
 * "step":S and everything from "best" on (the validation metrics). */
static void strip_line(const char *line, char *out, size_t n)
{
    const char *sec = strstr(line, ",\"seconds\"");
    const char *best = strstr(line, ",\"best\":");
    assert_non_null(sec);
    assert_non_null(best);
    snprintf(out, n, "%.*s%s", (int)(sec - line), line, best);
}

static void same_metrics(const char *a_name, const char *b_name)
{
    char *a = slurp(a_name, NULL), *b = slurp(b_name, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(count_lines(a), atoi(EPOCHS));
    assert_int_equal(count_lines(b), atoi(EPOCHS));
    char *sa, *sb, *la = strtok_r(a, "\n", &sa), *lb = strtok_r(b, "\n", &sb);
    for (; la && lb; la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb)) {
        char xa[8192], xb[8192];
        strip_line(la, xa, sizeof xa);
        strip_line(lb, xb, sizeof xb);
        assert_string_equal(xa, xb);
    }
    free(a), free(b);
}

LOOM_TEST(crash_killed_training_resumes_to_the_same_weights)
{
    make_tiny_set();
    /* the uninterrupted run (no pauses) */
    assert_int_equal(reap(spawn("ref", false, 0, 0)), 0);
    int during_write = 0, at_saves = 0, passed_over = 0;
    bool damaged = false;
    char steps[512] = "";
    for (int k = 0; k < KILLS; k++) {
        bool resume =
            exists("run/last.loom") || exists("run/previous.loom") || exists("run/best.loom");
        pid_t pid = spawn("run", resume, PAUSE_MS, 0);
        if (damaged) {
            /* the damaged last.loom is passed over, an older one taken */
            wait_log(pid, "resuming from");
            char *log = slurp("log", NULL);
            assert_non_null(strstr(log, "passing over"));
            assert_non_null(strstr(log, "last.loom"));
            assert_null(strstr(log, "resuming from run/last.loom"));
            free(log);
            passed_over++;
            damaged = false;
        }
        bool at_save = k % 3 == 0;
        if (at_save) {
            wait_save(pid, "run", 1 + (int)rnd(3));
            sleep_ms(rnd(16 * PAUSE_MS) / 10.0); /* in the first or second pause */
        } else if (k % 3 == 1 && k < 6) {
            sleep_ms(rnd(150)); /* from the start: while it reads the data */
        } else {
            if (resume) wait_log(pid, "resuming from");
            sleep_ms(rnd(250)); /* while it trains */
        }
        still_running(pid, "at its kill");
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(reap(pid), -SIGKILL);
        at_saves += at_save;
        /* a temporary file left over: killed while it was being written */
        int left = temps("run");
        during_write += at_save && left > 0;
        char *log = slurp("log", NULL), *at = log ? strstr(log, "(step ") : NULL;
        size_t len = strlen(steps);
        snprintf(steps + len, sizeof steps - len, " %d", at ? atoi(at + 6) : 0);
        if (at_save && left) strcat(steps, "w");
        free(log);
        if ((k == 9 || k == 15) && exists("run/last.loom") &&
            (exists("run/previous.loom") || exists("run/best.loom"))) {
            damage("run/last.loom", k == 15);
            damaged = true;
        }
    }
    /* to the end, without pauses: the same model, the same metrics */
    pid_t pid = spawn("run", true, 0, 0);
    int rc = reap(pid);
    char *log = slurp("log", NULL);
    if (rc != 0) fail_msg("the final resume failed (%d):\n%s", rc, log);
    assert_int_equal(temps("run"), 0); /* stale temporary files removed */
    free(log);
    printf("    %d kills (the runs killed had resumed from steps:%s; w: killed during a "
           "checkpoint's write), %d aimed at a save, %d of them during its write, %d damaged "
           "checkpoints passed over\n",
           KILLS, steps, at_saves, during_write, passed_over);
    assert_true(during_write >= 5);
    assert_int_equal(passed_over, 2);
    size_t na, nb;
    char *a = slurp("ref/model.loom", &na), *b = slurp("run/model.loom", &nb);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a), free(b);
    same_metrics("ref/metrics.jsonl", "run/metrics.jsonl");
}

LOOM_TEST(crash_full_disk_keeps_the_previous_checkpoint)
{
    make_tiny_set();
    char out[65536];
    assert_int_equal(run("train tiny.yaml --quiet --threads 1 --epochs " EPOCHS
                         " --run-dir full --stop-after 6 --checkpoint-every 3",
                         out, sizeof out),
                     0);
    size_t n;
    char *before = slurp("full/last.loom", &n);
    assert_non_null(before);
    /* the next checkpoint (step 9) meets a limit of half its size */
    int rc = reap(spawn("full", true, 0, n / 2));
    char *log = slurp("log", NULL);
    if (rc != 1) fail_msg("exit %d, expected 1:\n%s", rc, log);
    assert_non_null(strstr(log, "last.loom"));
    assert_non_null(strstr(log, strerror(EFBIG)));
    free(log);
    size_t m;
    char *after = slurp("full/last.loom", &m);
    assert_non_null(after);
    assert_int_equal(m, n);
    assert_memory_equal(before, after, n); /* intact */
    assert_int_equal(temps("full"), 0);    /* and no temporary file left */
    free(before), free(after);
    /* with room again, the run goes on from it */
    rc = reap(spawn("full", true, 0, 0));
    log = slurp("log", NULL);
    if (rc != 0) fail_msg("exit %d after the disk had room again:\n%s", rc, log);
    assert_non_null(strstr(log, "resuming from full/last.loom (step 6)"));
    free(log);
}
