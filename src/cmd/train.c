/* train.c — `fastc train CONFIG [--set ...] [--resume]`: the pipeline, then
 * the [train] schedule through the learner; writes config.ini, metrics.csv,
 * best.safetensors (SaveModelCallback), state.safetensors (every epoch),
 * losses.png and, at the end, model.safetensors in the output dir.
 *
 * SIGINT/SIGTERM: the current batch finishes, the resume state as of that
 * batch is written, exit 130/143; `--resume` continues with the next batch
 * (learner.h).  A second signal before that is done ends the process at
 * once, killed by that signal: the state being written is a temporary file
 * (io/atomic.h), so the last state written whole stays; the next run removes
 * the temporary.
 *
 * Under mpirun (data-parallel, dist/dist.h) rank 0 alone writes and prints.
 * Ctrl-C goes to mpirun, which does not pass it on: Open MPI stops a job by
 * sending each rank SIGCONT, then SIGTERM after odls_base_sigkill_timeout
 * (1 s by default), then SIGKILL after as long again.  A rank therefore takes
 * SIGCONT as the request to stop, without counting it as a first signal, so
 * the SIGTERM that follows is not a second: the ranks agree on a batch to
 * stop after, rank 0 writes the resume state, and all exit together.  With a
 * batch or a state that takes longer than twice the timeout, give mpirun a
 * longer one (`--mca odls_base_sigkill_timeout 30`).  The price: Open MPI
 * turns a Ctrl-Z into SIGSTOP for the ranks and fg into SIGCONT, which looks
 * the same, so fg after Ctrl-Z also stops the run after a batch (with its
 * resume state: --resume goes on). */
#include "cmd/cmd.h"

#include "cmd/pipeline.h"
#include "config/config.h"
#include "data/warnings.h"
#include "io/atomic.h"
#include "learn/learner.h"
#include "nn/gemm_bf16.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The global state a signal handler needs: which signal arrived, whether
 * to say what happens (not with --quiet), and whether stderr is a terminal
 * (a progress bar may be on the line). */
static volatile sig_atomic_t stop_signal, stop_say, stop_tty;
/* Signals so far: counted atomically, since two can arrive at once in two
 * threads (a lock-free atomic is async-signal-safe). */
static atomic_int n_signals;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal handler needs a lock-free atomic_int");

/* msg starts with a newline, written only on a terminal */
static void say_now(const char *msg, size_t n)
{
    if (!stop_say) return;
    ssize_t w = write(STDERR_FILENO, msg + !stop_tty, n - !stop_tty);   /* async-signal-safe, unlike stdio */
    (void)w;
}

static void on_signal(int sig)
{
    if (atomic_fetch_add(&n_signals, 1) > 0) {
        /* the second: die of it now (the default action, so a calling shell
         * sees the signal), only async-signal-safe calls */
        static const char m[] = "\nfastc: stopped at once (second signal); the resume state on disk stays as it was\n";
        say_now(m, sizeof m - 1);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        signal(sig, SIG_DFL);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
        _exit(128 + sig);
    }
    stop_signal = sig;
    static const char m[] = "\nfastc: stopping after the current batch to write the resume state (Ctrl-C again: quit at "
                            "once)\n";
    say_now(m, sizeof m - 1);
}

/* Under mpirun: the SIGCONT that starts Open MPI's stopping of a job (see the top). */
static void on_mpirun_cont(int sig)
{
    if (stop_signal) return;
    stop_signal = SIGTERM;
    static const char m[] = "\nfastc: SIGCONT from mpirun (it is stopping the job): stopping after the current batch to "
                            "write the resume state\n";
    say_now(m, sizeof m - 1);
}

static void note(const Pipeline *p, const char *fmt, const char *s)
{
    if (p->ctx.quiet) return;
    fprintf(stderr, fmt, s);
}

/* Data-parallel --resume: every rank read the same state (the output folder
 * must be one that every rank sees: one machine, or a shared file system). */
static int resume_agree(const Pipeline *p, const Learner *l, int resumed, Err *err)
{
    int64_t pos[5] = {resumed, l->stage, l->epoch, l->batch, l->iter};
    if (dist_check_same(&p->dist, pos, sizeof pos, "resume position", err) ||
        dist_check_params(&p->dist, l->model, "after --resume", err))
        return err_prefix(err, "--resume: every process reads %s/state.safetensors, so the output folder must be one "
                               "they all see (a shared file system): ", p->out_dir);
    return 0;
}

/* --resume: the learner continues from the folder's state; without it, an
 * old state is removed so that a later --resume cannot pick it up. */
static int resume_or_start(const Pipeline *p, Learner *l, const Schedule *s, int resume, Err *err)
{
    const int writer = p->dist.rank == 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/state.safetensors", p->out_dir);
    if (!resume) {
        if (writer && unlink(path) != 0 && errno != ENOENT)
            return err_set(err, ERR_RUNTIME, "%s: cannot remove the old resume state: %s", path, strerror(errno));
        return 0;
    }
    /* Only a missing state starts over; anything else wrong with it is an
     * error, and then nothing in the folder has changed (learn/resume.h). */
    int rc = learner_resume(l, s, err);
    if (rc != RESUME_NO_STATE && rc) return rc;
    if (p->dist.size > 1) {
        int rc2 = resume_agree(p, l, rc == 0, err);
        if (rc2) return rc2;
    }
    if (rc == RESUME_NO_STATE) {
        /* said even with --quiet: the run does not do what was asked */
        if (writer)
            fprintf(stderr, "note: --resume: %s has no state.safetensors: training from the beginning\n", p->out_dir);
    } else if (!p->ctx.quiet && l->batch > 0) {
        fprintf(stderr, "resuming %s in epoch %d after batch %d of %d (schedule step %d)\n", p->out_dir, l->epoch,
                l->batch, l->n_batches, l->stage + 1);
    } else if (!p->ctx.quiet) {
        fprintf(stderr, "resuming %s after epoch %d (schedule step %d)\n", p->out_dir, l->epoch, l->stage + 1);
    }
    return 0;
}

int cmd_train(const CmdArgs *a, Err *err)
{
    Pipeline p;
    Schedule s = {0};
    Learner *l = NULL;
    char *run_config = NULL;
    struct sigaction sa = {0}, old_int, old_term, old_cont;
    int rc = pipeline_open_out(&p, a, err);
    if (rc) goto done;
    LearnerOpts o;
    if ((rc = pipeline_learner_opts(&p, &o, err)) || (rc = pipeline_schedule(&p, &s, err)) ||
        (rc = pipeline_mkdir_out(&p, err)))
        goto done;
    if (!(o.run_config = run_config = pipeline_run_config(&p))) {
        rc = err_set(err, ERR_RUNTIME, "train: out of memory");
        goto done;
    }
    const int writer = p.dist.rank == 0;   /* data-parallel: rank 0 alone writes (pipeline.h) */
    if (p.note[0]) note(&p, "note: [model] pretrained: %s\n", p.note);
    if (writer && p.setup.model.bf16 && !gemm_bf16_native())
        note(&p, "note: %s\n", "precision = bf16 runs emulated: this CPU has no AVX512-BF16 (same numbers, slower)");
    if (writer) data_warn_build_skips(stderr, &p.ds);   /* data warnings: --quiet or not */

    /* temporaries of a run stopped at once (a second signal) or killed while writing */
    if (writer) atomic_remove_stale(p.out_dir);
    stop_signal = 0;
    atomic_store(&n_signals, 0);
    stop_say = !p.ctx.quiet, stop_tty = isatty(STDERR_FILENO);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;   /* loader threads reading files must not see EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    if (p.dist.size > 1) {   /* mpirun's way of stopping a job (see the top) */
        sa.sa_handler = on_mpirun_cont;
        sigaction(SIGCONT, &sa, &old_cont);
    }
    o.stop = &stop_signal;

    if (!(l = learner_new(p.model, p.dls, &o, err))) {
        rc = err->code;
        goto restore;
    }
    if (p.pretrained) learner_freeze_to(l, -1);   /* vision_learner: pretrained → freeze() */
    if ((rc = resume_or_start(&p, l, &s, a->resume, err))) goto restore;
    char path[4200];
    snprintf(path, sizeof path, "%s/config.ini", p.out_dir);
    if (writer && (rc = config_write(p.setup.cfg, path, err))) goto restore;
    rc = learner_fit_schedule(l, &s, err);
    /* what the image loader met while training: unreadable files, time the steps waited for data */
    data_warn_load_skips(stderr, &p.ds, p.dls);
    if (p.dls && !p.ctx.quiet && !p.ctx.json) fprintf(stderr, "time waiting for data: %.2f s\n", p.dls->wait_s);
    if (rc || !writer) goto restore;
    snprintf(path, sizeof path, "%s/model.safetensors", p.out_dir);
    if ((rc = pipeline_save_model(&p, p.model, path, p.setup.threshold, err)) || (rc = learner_plot_losses(l, err)))
        goto restore;
    if (!p.ctx.quiet && !p.ctx.json) fprintf(stderr, "saved %s\n", path);
restore:
    /* data-parallel: the ranks end together when they agreed (done, or a stop:
     * rank 0's state is written before any rank leaves); else this rank's error
     * ends the job through mpirun (dist.h) */
    dist_close(&p.dist, rc == 0 || rc > 128);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (p.dist.size > 1) sigaction(SIGCONT, &old_cont, NULL);
done:
    learner_free(l);
    schedule_free(&s);
    pipeline_close(&p);
    free(run_config);
    return rc;
}
