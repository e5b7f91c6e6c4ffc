/* test_dist_train.c — `mpirun -np N fastc train` end to end on one machine:
 * DotProductBias trained by 2 ranks (and by 3, an uneven split of the global
 * batch) ends where one process ends with the same global batch, to the
 * accuracy of float sums taken in another order, and so does lr_find on 2
 * ranks; a resume with another number of processes is refused; commands
 * other than train and lr_find run once, on rank 0;
 * a resnet trained by 2 ranks learns; a 2-rank run stopped by SIGINT to
 * mpirun in the middle of an epoch (every rank after the same batch, rank 0
 * writing the state), resumed, then stopped again by killing one rank (the
 * job stops, the last state stays whole) and resumed again ends bit-identical
 * to the uninterrupted 2-rank run. */
#include "check_main.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "testimg.h"
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char root[4096];

static const char MPIRUN[] = "mpirun --oversubscribe --allow-run-as-root";

/* The command's output in out; its exit status. */
static int run(const char *fmt, const char *args, char *out, size_t cap)
{
    char cmd[16384], line[8192];
    snprintf(line, sizeof line, fmt, args);
    snprintf(cmd, sizeof cmd, "cd '%s' && %s", root, line);
    return tu_run(cmd, out, cap);
}

/* fastc on `np` ranks (0: no mpirun), one thread each. */
static int fastc(int np, const char *args, char *out, size_t cap)
{
    char line[8192];
    if (np > 0)
        snprintf(line, sizeof line, "%s -np %d '%s' %s --threads 1", MPIRUN, np, tu_fastc(), args);
    else
        snprintf(line, sizeof line, "'%s' %s --threads 1", tu_fastc(), args);
    return run("%s", line, out, cap);
}

/* Every tensor of two model files: the largest |a - b| / (|a| + |b| + floor)
 * over all elements (-1: the files differ in their tensors). */
static double model_diff(const char *a, const char *b, double floor)
{
    char pa[8400], pb[8400];
    snprintf(pa, sizeof pa, "%s/%s/model.safetensors", root, a);
    snprintf(pb, sizeof pb, "%s/%s/model.safetensors", root, b);
    StFile *fa, *fb;
    Err err = {0};
    ck_assert_msg(st_open(pa, &fa, &err) == 0, "%s", err.msg);
    ck_assert_msg(st_open(pb, &fb, &err) == 0, "%s", err.msg);
    double worst = fa->n_tensors == fb->n_tensors ? 0 : -1;
    for (size_t i = 0; worst >= 0 && i < fa->n_tensors; i++) {
        const StTensor *ta = &fa->tensors[i], *tb = st_find(fb, ta->name);
        if (!tb || tb->numel != ta->numel) {
            worst = -1;
            break;
        }
        float *x = malloc(sizeof(float) * (ta->numel + 1)), *y = malloc(sizeof(float) * (ta->numel + 1));
        ck_assert(st_read_f32(fa, ta, x, ta->numel, &err) == 0 && st_read_f32(fb, tb, y, tb->numel, &err) == 0);
        for (size_t e = 0; e < ta->numel; e++) {
            double d = fabs((double)x[e] - y[e]) / (fabs(x[e]) + fabs(y[e]) + floor);
            if (d > worst) worst = d;
        }
        free(x), free(y);
    }
    st_close(fa), st_close(fb);
    return worst;
}

static char *slurp(const char *dir, const char *name, size_t *n)
{
    char p[8400];
    snprintf(p, sizeof p, "%s/%s/%s", root, dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fclose(f);
    return (char *)ti_read_all(p, n);
}

static int same_file(const char *d1, const char *d2, const char *name)
{
    char a[8400], b[8400];
    snprintf(a, sizeof a, "%s/%s/%s", root, d1, name);
    snprintf(b, sizeof b, "%s/%s/%s", root, d2, name);
    return tu_same_file(a, b);
}

/* Whether root/dir/name exists (checkpoints are not read whole to know it). */
static int exists(const char *dir, const char *name)
{
    char p[8400];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s/%s", root, dir, name);
    return stat(p, &st) == 0;
}

/* metrics.csv rows as numbers: rows[r][c] (the time column left out); returns the row count. */
static int metrics(const char *dir, double rows[][8], int *n_cols)
{
    size_t n;
    char *t = slurp(dir, "metrics.csv", &n), *save;
    ck_assert_msg(t != NULL, "no %s/metrics.csv", dir);
    int r = -1;
    for (char *line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save), r++) {
        if (r < 0) continue;   /* the header */
        int c = 0;
        for (char *p = line; p && c < 8; c++) {
            rows[r][c] = atof(p);
            p = strchr(p, ',');
            if (p) p++;
        }
        *n_cols = c - 1;   /* without time */
    }
    free(t);
    return r;
}

/* ---- collaborative filtering -------------------------------------------- */

static void make_ratings(void)
{
    char p[8400];
    Rng r = rng_make(3, 9);
    const int nu = 400, ni = 500, n = 5000;   /* bs 64 names far fewer rows than a quarter: lazy rows */
    char *csv = malloc((size_t)n * 32 + 64);
    size_t len = (size_t)sprintf(csv, "user,item,rating\n");
    for (int k = 0; k < n; k++) {
        int u = (int)rng_below(&r, nu), i = (int)rng_below(&r, ni);
        double x = 3 + sin(u * 0.31) + cos(i * 0.17) + 0.3 * rng_normal(&r);
        len += (size_t)sprintf(csv + len, "%d,%d,%.2f\n", u, i, x < 0.5 ? 0.5 : x > 5 ? 5 : x);
    }
    tu_write(root, "ratings.csv", csv, len, p, sizeof p);
    free(csv);
    const char *ini = "[data]\ncsv = ratings.csv\nblocks = CollabBlock(user='user', item='item', rating='rating')\n"
                      "splitter = RandomSplitter(valid_pct=0.2, seed=42)\nbs = 64\n"
                      "[model]\narch = DotProductBias(n_factors=16, y_range=(0, 5.5))\n"
                      "[train]\nschedule = fit_one_cycle(2, 5e-3, wd=0.1)\n";
    tu_write(root, "dpb.ini", ini, strlen(ini), p, sizeof p);
}

START_TEST(dot_product_bias_on_two_and_three_ranks_equals_one_process)
{
    char out[1 << 15];
    make_ratings();
    int rc = fastc(0, "train dpb.ini --quiet --set output.dir=runs/dpb1", out, sizeof out);
    ck_assert_msg(rc == 0, "one process: exit %d: %s", rc, out);
    double one[8][8], many[8][8];
    int nc1, nc;
    int n1 = metrics("runs/dpb1", one, &nc1);
    ck_assert_int_eq(n1, 2);
    for (int np = 2; np <= 3; np++) {
        char args[256], dir[64];
        snprintf(dir, sizeof dir, "runs/dpb%d", np);
        snprintf(args, sizeof args, "train dpb.ini --quiet --set output.dir=%s", dir);
        rc = fastc(np, args, out, sizeof out);
        ck_assert_msg(rc == 0, "%d ranks: exit %d: %s", np, rc, out);
        /* float sums in another order, through 125 Adam steps: measured 3e-7 (2 ranks), 3e-6 (3) */
        double d = model_diff("runs/dpb1", dir, 1e-2);
        fprintf(stderr, "DotProductBias, %d ranks against 1 process: largest relative weight difference %.2e\n", np, d);
        ck_assert_msg(d >= 0 && d < 1e-4, "%d ranks: weights differ by %g", np, d);
        ck_assert_int_eq(metrics(dir, many, &nc), n1);
        ck_assert_int_eq(nc, nc1);
        for (int r = 0; r < n1; r++)
            for (int c = 1; c < nc; c++)   /* train and valid loss */
                ck_assert_msg(fabs(one[r][c] - many[r][c]) <= 1e-4 * fabs(one[r][c]) + 1e-6,
                              "%d ranks, epoch %d column %d: %.7f against %.7f", np, r, c, many[r][c], one[r][c]);
        /* a 2-rank run is its own reference bit for bit: the same numbers again */
        if (np == 2) {
            rc = fastc(2, "train dpb.ini --quiet --set output.dir=runs/dpb2b", out, sizeof out);
            ck_assert_msg(rc == 0 && same_file("runs/dpb2", "runs/dpb2b", "model.safetensors"),
                          "two 2-rank runs differ (exit %d): %s", rc, out);
        }
    }
    /* rank 0 alone writes: one metrics.csv with a header and two rows, no stray files */
    size_t n;
    char *csv = slurp("runs/dpb2", "metrics.csv", &n);
    ck_assert(csv && strncmp(csv, "epoch,train_loss,valid_loss", 27) == 0);
    free(csv);
}
END_TEST

/* ---- images ---------------------------------------------------------------- */

/* 3 classes of 16x16 stripes (as test_train), train/ and valid/ */
static void make_images(int san)
{
    char path[8400];
    int n_train = 24;   /* 72 items, bs 12: 6 batches an epoch, 6 items a rank (BatchNorm per rank) */
    ti_write_stripes(root, n_train, 8);
    const char *ini = "[data]\npath = data\nblocks = ImageBlock(cls=PILImageBW), CategoryBlock\n"
                      "get_items = get_image_files\nget_y = parent_label\nsplitter = GrandparentSplitter()\n"
                      "batch_tfms = Normalize.from_stats(mnist_stats)\nbs = %d\n"
                      "[model]\narch = resnet18\nn_in = 1\n"
                      "[learner]\nmetrics = error_rate\ncbs = SaveModelCallback(monitor='error_rate')\n"
                      "[train]\nschedule = fit_one_cycle(1, 1e-2), fit_one_cycle(2, lr_max=slice(1e-3, 1e-2))\n";
    char text[2048];
    snprintf(text, sizeof text, ini, 12);
    (void)san;
    tu_write(root, "tiny.ini", text, strlen(text), path, sizeof path);
}

static int san_build(void) { return getenv("FASTC_SANITIZED") != NULL; }

static void ensure_images(void)
{
    struct stat st;
    char p[8400];
    snprintf(p, sizeof p, "%s/tiny.ini", root);
    if (stat(p, &st) != 0) make_images(san_build());
}

/* The uninterrupted 2-rank reference run. */
static void ensure_two_rank_run(void)
{
    char out[1 << 15];
    if (exists("runs/r2", "model.safetensors")) return;
    ensure_images();
    int rc = fastc(2, "train tiny.ini --set output.dir=runs/r2", out, sizeof out);
    ck_assert_msg(rc == 0, "2 ranks: exit %d: %s", rc, out);
}

START_TEST(resnet_on_two_ranks_learns)
{
    double rows[8][8];
    int nc;
    ensure_two_rank_run();
    int nr = metrics("runs/r2", rows, &nc);
    ck_assert_int_eq(nr, 3);
    ck_assert_int_eq(nc, 4);   /* epoch, train_loss, valid_loss, error_rate */
    /* the tiny set is learnable: the error falls far below chance (2/3), as in test_train */
    double best = 1;
    for (int r = 0; r < nr; r++) best = rows[r][3] < best ? rows[r][3] : best;
    ck_assert_msg(best <= 0.25, "error rates %g %g %g", rows[0][3], rows[1][3], rows[2][3]);
    ck_assert_msg(rows[2][1] < rows[0][1], "train loss %g -> %g", rows[0][1], rows[2][1]);
    const char *files[] = {"config.ini", "best.safetensors", "state.safetensors", "losses.png"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        ck_assert_msg(exists("runs/r2", files[i]), "runs/r2/%s missing", files[i]);
}
END_TEST

/* mpirun of a 2-rank training paused after training batch k of the run (the
 * hidden flag --pause-after: learner.h), its stderr on a pipe; mpirun waits
 * kill_wait seconds between its SIGCONT, SIGTERM and SIGKILL when it stops the job. */
static pid_t spawn_paused(const char *dir, int resume, long k, int kill_wait, int *fd_out)
{
    char cfg[8400], o[8400], hook[32], wait_s[16];
    snprintf(cfg, sizeof cfg, "%s/tiny.ini", root);
    snprintf(o, sizeof o, "output.dir=%s/%s", root, dir);
    snprintf(hook, sizeof hook, "%ld", k);
    snprintf(wait_s, sizeof wait_s, "%d", kill_wait);
    char *argv[] = {"mpirun", "--oversubscribe", "--allow-run-as-root", "--mca", "odls_base_sigkill_timeout", wait_s,
                    "-np", "2", (char *)tu_fastc(), "train", cfg, "--quiet", "--threads", "1", "--set", o,
                    "--pause-after", hook, resume ? "--resume" : NULL, NULL};
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    pid_t pid;
    ck_assert_int_eq(posix_spawnp(&pid, "mpirun", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    *fd_out = fds[0];
    return pid;
}

/* Read fd into buf until `what` has appeared `times` times (1) or EOF/120 s (0). */
static int read_until(int fd, char *buf, size_t cap, size_t *len, const char *what, int times)
{
    for (int waited = 0; waited < 1200;) {
        int seen = 0;
        for (const char *q = buf; (q = strstr(q, what)); q++) seen++;
        if (seen >= times) return 1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) {
            waited++;
            continue;
        }
        ssize_t n = read(fd, buf + *len, cap - 1 - *len);
        if (n <= 0) return 0;
        *len += (size_t)n;
        buf[*len] = 0;
    }
    return 0;
}

/* The fastc process of rank `rank` under mpirun `launcher` (0: none found). */
static pid_t rank_pid(pid_t launcher, int rank)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;
    char want[64];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    while (d && !found && (e = readdir(d))) {
        char p[300], buf[1 << 16];
        snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        int pid = 0, ppid = 0;
        int ok = fscanf(f, "%d %*s %*c %d", &pid, &ppid) == 2;
        fclose(f);
        if (!ok || ppid != launcher) continue;
        snprintf(p, sizeof p, "/proc/%s/environ", e->d_name);
        int fd = open(p, O_RDONLY);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
            if (strcmp(buf + i, want) == 0) found = pid;
    }
    if (d) closedir(d);
    return found;
}

/* Run a paused 2-rank training to its pause (both ranks), then `act` on it;
 * its stderr in err; the exit status of mpirun. */
static int paused_then(const char *dir, int resume, long k, int act, char *err, size_t cap)
{
    size_t len = 0;
    int fd;
    err[0] = 0;
    /* A stop (SIGINT) has time to write the state however loaded the machine: the ranks
     * leave before mpirun's SIGKILL.  mpirun (Open MPI 4.1) sleeps both waits even when
     * the ranks have left, so each stop costs twice this: 20 s (40 s before SIGKILL; a
     * stop and its state write take a few seconds under ASan).  A killed rank leaves rank
     * 0 waiting in a collective that never completes, which no wait lets it leave: there
     * 1 s (Open MPI's default) is as good as any, and 38 s cheaper. */
    pid_t mp = spawn_paused(dir, resume, k, act == SIGINT ? 20 : 1, &fd);
    int paused = read_until(fd, err, cap, &len, "paused after batch", 2);
    pid_t victim = paused && act == SIGKILL ? rank_pid(mp, 1) : 0;
    if (paused && act == SIGINT) kill(mp, SIGINT);
    if (victim > 0) kill(victim, SIGKILL);
    read_until(fd, err, cap, &len, "\x01never", 1);   /* the rest, until mpirun ends */
    close(fd);
    int status;
    waitpid(mp, &status, 0);
    ck_assert_msg(paused && (act != SIGKILL || victim > 0), "never paused, or no rank 1 found: %s", err);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

START_TEST(stopped_by_sigint_and_by_a_killed_rank_then_resumed_ends_bit_identical)
{
    char out[1 << 15], err[1 << 15];
    ensure_two_rank_run();
    struct stat st;
    char p[8400];
    /* 6 batches an epoch.  SIGINT to mpirun after batch 4 of the run (epoch 0): every rank
     * stops after the same batch, rank 0 writes the state as of there */
    int rc = paused_then("runs/k", 0, 4, SIGINT, err, sizeof err);
    ck_assert_msg(rc != 0 && strstr(err, "holds the run up to there: continue with --resume"), "exit %d: %s", rc,
                  err);
    ck_assert_msg(!strstr(strstr(err, "holds the run up to there") + 1, "holds the run up to there"),
                  "more than rank 0 reported the stop: %s", err);
    snprintf(p, sizeof p, "%s/runs/k/state.safetensors", root);
    ck_assert_msg(stat(p, &st) == 0, "no state.safetensors after the stop");
    /* resumed, and paused after batch 8 (epoch 1): rank 1 killed.  mpirun names it and ends
     * the job; the state of epoch 0's end stays whole.  Release build only: no fastc code
     * runs here that the stop above and the resume below do not (rank 0 takes mpirun's
     * SIGCONT as above, then waits in a collective until SIGKILL); the sanitizer build
     * resumes from the SIGINT stop's state. */
    if (!san_build()) {
        rc = paused_then("runs/k", 1, 8, SIGKILL, err, sizeof err);
        ck_assert_msg(rc != 0, "the job went on after a rank died: %s", err);
        ck_assert_msg(strstr(err, "rank 1") && strstr(err, "signal 9"), "mpirun did not name the rank: %s", err);
        snprintf(p, sizeof p, "%s/runs/k/model.safetensors", root);
        ck_assert_msg(stat(p, &st) != 0, "a model.safetensors was written by the stopped job");
    }
    /* resumed to the end: the uninterrupted run's files */
    rc = fastc(2, "train tiny.ini --quiet --resume --set output.dir=runs/k", out, sizeof out);
    ck_assert_msg(rc == 0, "resume: exit %d: %s", rc, out);
    ck_assert_msg(same_file("runs/r2", "runs/k", "model.safetensors"), "the resumed model differs");
    ck_assert_msg(same_file("runs/r2", "runs/k", "best.safetensors"), "the resumed best model differs");
    double a[8][8], b[8][8];
    int nca, ncb, na = metrics("runs/r2", a, &nca), nb = metrics("runs/k", b, &ncb);
    ck_assert_int_eq(na, nb);
    for (int r = 0; r < na; r++)
        for (int c = 0; c < nca; c++) ck_assert_msg(a[r][c] == b[r][c], "metrics.csv row %d column %d", r, c);
}
END_TEST

/* A state written by N processes resumes with N only: the per-rank BatchNorm
 * statistics and the order of the sums depend on N, so another N is refused
 * with a message saying what to run (exit 2), and nothing in the folder changes. */
START_TEST(resume_with_another_number_of_processes_is_refused)
{
    char out[1 << 15];
    size_t n1, n2;
    make_ratings();
    int rc = fastc(2, "train dpb.ini --quiet --set output.dir=runs/dpbn --set 'train.schedule=fit(1, 1e-3)'", out,
                   sizeof out);
    ck_assert_msg(rc == 0, "2 ranks: exit %d: %s", rc, out);
    char *before = slurp("runs/dpbn", "state.safetensors", &n1);
    ck_assert(before != NULL);
    rc = fastc(0, "train dpb.ini --quiet --resume --set output.dir=runs/dpbn --set 'train.schedule=fit(1, 1e-3)'", out,
               sizeof out);
    ck_assert_msg(rc == 2 && strstr(out, "trained by 2 processes and this one has 1: resume it with mpirun -np 2"),
                  "one process: exit %d: %s", rc, out);
    rc = fastc(3, "train dpb.ini --quiet --resume --set output.dir=runs/dpbn --set 'train.schedule=fit(1, 1e-3)'", out,
               sizeof out);
    ck_assert_msg(rc != 0 && strstr(out, "trained by 2 processes and this one has 3: resume it with mpirun -np 2"),
                  "3 ranks: exit %d: %s", rc, out);
    char *after = slurp("runs/dpbn", "state.safetensors", &n2);
    ck_assert_msg(after && n1 == n2 && !memcmp(before, after, n1), "the refused runs changed the state");
    free(before), free(after);
    /* and a single process's state is refused under mpirun */
    rc = fastc(0, "train dpb.ini --quiet --set output.dir=runs/dpbn1 --set 'train.schedule=fit(1, 1e-3)'", out,
               sizeof out);
    ck_assert_msg(rc == 0, "one process: exit %d: %s", rc, out);
    rc = fastc(2, "train dpb.ini --quiet --resume --set output.dir=runs/dpbn1 --set 'train.schedule=fit(1, 1e-3)'",
               out, sizeof out);
    ck_assert_msg(rc != 0 && strstr(out, "trained by 1 process and this one has 2: resume it with one process, "
                                         "without mpirun"),
                  "2 ranks: exit %d: %s", rc, out);
}
END_TEST

/* predict, validate (and every command but train and lr_find) under mpirun:
 * rank 0 does it once, with a note, the other ranks leave at once. */
static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *q = s; (q = strstr(q, what)); q++) n++;
    return n;
}

START_TEST(other_commands_run_on_rank_0_alone)
{
    char out[1 << 15];
    make_ratings();
    int rc = fastc(0, "train dpb.ini --quiet --set output.dir=runs/dpbp --set 'train.schedule=fit(1, 1e-3)'", out,
                   sizeof out);
    ck_assert_msg(rc == 0, "one process: exit %d: %s", rc, out);
    rc = fastc(2, "predict --model runs/dpbp/model.safetensors 3,7 5,9", out, sizeof out);
    ck_assert_msg(rc == 0 && count(out, "note: predict runs in one process: rank 0 of the 2") == 1, "exit %d: %s", rc,
                  out);
    /* mpirun forwards the ranks' stderr and stdout on channels of their own, so
     * the note, written before any prediction, can still land between two of
     * their lines (seen once with two suites running at a time): take it out */
    char *note = strstr(out, "note: predict runs in one process"), *eol = note ? strchr(note, '\n') : NULL;
    if (eol) memmove(note, eol + 1, strlen(eol + 1) + 1);
    char one[1 << 15];
    rc = fastc(0, "predict --model runs/dpbp/model.safetensors 3,7 5,9", one, sizeof one);
    ck_assert_msg(rc == 0 && strstr(out, one), "the predictions differ from one process's: %s\nagainst %s", out, one);
    rc = fastc(2, "validate dpb.ini", out, sizeof out);
    ck_assert_msg(rc == 0 && count(out, "[data]") == 1, "exit %d: %s", rc, out);
}
END_TEST

START_TEST(lr_find_runs_on_two_ranks)
{
    char out[1 << 15];
    size_t n;
    char *t = slurp(".", "dpb.ini", &n);
    if (!t) make_ratings();
    free(t);
    int rc = fastc(2, "lr_find dpb.ini --set output.dir=runs/lr --set lr_find.num_it=30", out, sizeof out);
    const char *sug = strstr(out, "SuggestedLRs(");
    ck_assert_msg(rc == 0 && sug, "exit %d: %s", rc, out);
    ck_assert_msg(!strstr(sug + 1, "SuggestedLRs("), "printed by more than rank 0: %s", out);
    t = slurp("runs/lr", "lr_find.csv", &n);
    ck_assert_msg(t != NULL, "no lr_find.csv");
    /* the same global batches as one process: the same losses to float-reduction accuracy */
    rc = fastc(0, "lr_find dpb.ini --quiet --set output.dir=runs/lr1 --set lr_find.num_it=30", out, sizeof out);
    ck_assert_msg(rc == 0, "one process: exit %d: %s", rc, out);
    size_t n1;
    char *u = slurp("runs/lr1", "lr_find.csv", &n1), *sa, *sb;
    ck_assert(u != NULL);
    int rows = 0;
    for (char *a = strtok_r(t, "\n", &sa), *b = strtok_r(u, "\n", &sb); a || b;
         a = strtok_r(NULL, "\n", &sa), b = strtok_r(NULL, "\n", &sb), rows++) {
        ck_assert_msg(a && b, "lr_find.csv: %d rows on one side only", rows);
        if (rows == 0) continue;   /* lr,loss */
        double la = atof(strchr(a, ',') + 1), lb = atof(strchr(b, ',') + 1);
        ck_assert_msg(atof(a) == atof(b) && fabs(la - lb) <= 1e-4 * fabs(lb) + 1e-6,
                      "lr_find.csv row %d: %s against one process's %s", rows, a, b);
    }
    ck_assert_int_ge(rows, 10);
    free(t), free(u);
}
END_TEST

static Suite *suite(void)
{
    tu_tmpdir(root, sizeof root);
    /* the sanitizer build's ranks: Open MPI's allocations kept until exit are not ours
     * (tests/lsan_mpi.supp; the slow unwinder gives LeakSanitizer stacks through Open MPI's
     * frames, which have no frame pointers).  build/<tree>/tests/test_dist_train → the source tree */
    char self[4096], opts[8400];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = 0;
    for (int up = 0; up < 4; up++) {
        char *slash = strrchr(self, '/');
        if (slash) *slash = 0;
    }
    snprintf(opts, sizeof opts, "suppressions=%s/tests/lsan_mpi.supp:print_suppressions=0:fast_unwind_on_malloc=0",
             self);
    setenv("LSAN_OPTIONS", opts, 1);
    Suite *s = suite_create("dist_train");
    TCase *tc = tcase_create("mpirun");
    tcase_add_test(tc, dot_product_bias_on_two_and_three_ranks_equals_one_process);
    tcase_add_test(tc, resnet_on_two_ranks_learns);
    tcase_add_test(tc, lr_find_runs_on_two_ranks);
    tcase_add_test(tc, resume_with_another_number_of_processes_is_refused);
    tcase_add_test(tc, other_commands_run_on_rank_0_alone);
    tcase_add_test(tc, stopped_by_sigint_and_by_a_killed_rank_then_resumed_ends_bit_identical);
    suite_add_tcase(s, tc);
    return s;
}

FASTC_CHECK_MAIN(suite)
