/* dist.h — data-parallel training over MPI (Open MPI), as Horovod and
 * PyTorch DDP do it: every rank holds the whole model, trains on its share of
 * each global batch, and the gradients are summed across ranks before every
 * optimizer step, so the replicas stay identical bit for bit.
 *
 * Without mpirun nothing of this runs: dist_open sees no launcher in the
 * environment (OMPI_COMM_WORLD_SIZE, PMIX_RANK) and gives rank 0 of 1 without
 * touching MPI.  libmpi is not linked into fastc: under mpirun it is loaded
 * with dlopen (libmpi.so.40, Open MPI 3 and 4), so a single-process run maps
 * no MPI library at all (no start-up cost, the same code path as before).
 *
 * The global batch.  [data] bs is the global batch whatever the number of
 * ranks, so one config means one schedule.  Every rank draws the same seeded
 * order; global batch b holds order[b·bs .. b·bs+bs), and rank r takes the
 * contiguous slice dist_share gives: n/N items, the first n mod N ranks one
 * more (64 over 3 ranks: 22, 21, 21).  So no item is seen twice in an epoch
 * and none is skipped, whatever N.  A training batch needs bs >= N.  A
 * validation batch shorter than N leaves some ranks an empty share.
 *
 * Gradients (DistGrads).  Each rank scales dL/dout by n_r / B (its share of
 * the global batch of B items), so the sum over ranks is the gradient of the
 * global batch's mean loss, as one process computes it (to float-reduction
 * accuracy: the partial sums are added in another order).  Dense gradients
 * travel in buckets of DIST_BUCKET_BYTES, formed in backward order (the head
 * first): the model calls its grads_ready hook as layers finish
 * (models/model.h), and each bucket whose params are all final is packed and
 * its MPI_Iallreduce started at once, to overlap with the rest of the
 * backward; dist_grads_end waits for all of them before the optimizer step.
 * Every rank starts the same buckets in the same order (MPI requires it):
 * the hook points are those of the model's code, the same on every rank.
 *
 * Embedding tables (Param.row_len > 0 with Model.batch_rows): only the rows a
 * batch touches have a gradient, and the lazy-row optimizer (learn/optim.h)
 * must step exactly the rows the global batch touched, on every rank alike.
 * dist_grads_begin allgathers each rank's rows (int32, in rank order, which is
 * the global batch's own order), and dist_grads_rows hands that list to
 * optim_prepare_rows: every rank then makes the decisions one process makes
 * on the global batch (which rows catch up, lazy or sweep).  The gradients
 * sent are those rows only: the sorted unique rows of the global batch, each
 * rank packing its own gradient there (zero where it had none), summed with one
 * MPI_Iallreduce.  At most 2·bs rows of n_factors floats for DotProductBias
 * instead of whole tables (MovieLens 100k, bs 64: at most 33 KB against
 * 530 KB a step).
 *
 * Control values of a step (items, the loss sum, stop requests) are
 * allgathered and summed in rank order, so every rank gets the same bits: the
 * smoothed loss, the NaN check and the decision to stop after a batch are
 * the same everywhere, and a stop requested on any rank (SIGTERM from mpirun
 * after Ctrl-C) ends every rank after the same batch.
 *
 * Small sums (validation loss and metric accumulators) use dist_sum: the
 * same allgather and rank-order sum, in double: exact for counts, the same
 * bits on every rank.
 *
 * Errors of MPI calls are returned as values (MPI_ERRORS_RETURN) naming the
 * call.  A rank that dies cannot be noticed by the others over shared memory:
 * mpirun notices it, names it and stops the job (SIGTERM, then SIGKILL); the
 * files the ranks write are atomic (io/atomic.h), so the last one written
 * stays whole.
 */
#ifndef FASTC_DIST_DIST_H
#define FASTC_DIST_DIST_H

#include "core/batch.h"
#include "core/err.h"
#include "models/model.h"

#include <stddef.h>
#include <stdint.h>

enum { DIST_BUCKET_BYTES = 4 << 20 };   /* gradient bucket (DDP's default is 25 MB; see README) */

typedef struct DistMpi DistMpi;

typedef struct Dist {
    int rank, size;        /* 0 and 1 in a single process */
    int local_rank, local_size;   /* ranks on this machine (OMPI_COMM_WORLD_LOCAL_*) */
    DistMpi *mpi;          /* NULL: not launched by mpirun, no MPI */
} Dist;

/* Whether the process was started by an MPI launcher (mpirun/srun). */
int dist_launched(void);
/* This process's rank and (*size) the job's size, from the launcher's
 * environment alone (no MPI): 0 of 1 without one.  Commands other than train
 * and lr_find run on rank 0 alone under mpirun (main.c): inference and the
 * data tools have no gradients to share, and ranks 1.. leave at once. */
int dist_env_rank(int *size);
/* The default thread count of a rank, from the environment alone (no MPI):
 * `cores`, the cores this process may run on, when it is alone on its
 * machine or mpirun bound it to its own cores (its affinity mask is smaller
 * than the machine); else, when the ranks on the machine share every core,
 * cores / ranks on this machine (at least 1). */
int dist_default_threads(int cores, int online_cores);

/* Rank 0 of 1 without a launcher; under one, load libmpi, MPI_Init_thread
 * (funneled: only the calling thread talks MPI) and read rank and size.
 * Fails (ERR_RUNTIME) when libmpi cannot be loaded or initialised. */
int dist_open(Dist *d, Err *err);
/* The end of the run on this rank; d becomes rank 0 of 1.  ok: every rank
 * ends here together (success, or a stop they agreed on): a barrier, then
 * MPI_Finalize.  Not ok (an error on this rank): no MPI call at all, since
 * the other ranks may be waiting in a collective that will never complete
 * (MPI_Finalize would wait for them); the process exits with its error and
 * mpirun stops the job. */
void dist_close(Dist *d, int ok);

/* Rank `rank`'s share of n items split over `size` ranks: *first, *count. */
void dist_share(int n, int rank, int size, int *first, int *count);

/* Collective (every rank calls, in the same order).  No-ops with one rank. */
int dist_barrier(const Dist *d, Err *err);
/* bytes from rank 0 to every rank. */
int dist_bcast(const Dist *d, void *buf, size_t bytes, Err *err);
/* Every param's values (weights, buffers, counters) from rank 0: the
 * replicas start identical whatever each rank loaded or drew. */
int dist_bcast_params(const Dist *d, Model *m, Err *err);
/* The buffers only (BatchNorm running statistics: rank 0's, as DDP's
 * broadcast_buffers). */
int dist_bcast_buffers(const Dist *d, Model *m, Err *err);
/* v[0..n) ← the sum over ranks, added in rank order in double. */
int dist_sum(const Dist *d, double *v, int n, Err *err);
/* Whether any rank passed a nonzero flag. */
int dist_any(const Dist *d, int flag, int *any, Err *err);
/* Compare a 64-bit digest of `n` bytes across ranks: an error naming the
 * first rank whose bytes differ from rank 0's and `what`. */
int dist_check_same(const Dist *d, const void *bytes, size_t n, const char *what, Err *err);
/* The same over every PARAM_WEIGHT of m (the replicas must not drift). */
int dist_check_params(const Dist *d, const Model *m, const char *when, Err *err);

/* ---- gradients ----------------------------------------------------------- */

typedef struct DistGrads DistGrads;

/* What a step's control exchange carries, summed over ranks. */
typedef struct DistStep {
    double n;          /* items in the rank's share of the batch */
    double loss_sum;   /* n · its mean loss (non-finite: NaN spreads to every rank) */
    double stop;       /* 1: this rank was asked to stop (a signal) */
} DistStep;

typedef struct DistStats {
    int64_t steps;
    double wait_s;        /* time dist_grads_end waited: the control exchange and the allreduces */
    double start_s;       /* time in MPI_Iallreduce's start calls (Open MPI sends what it can
                             at once: over shared memory, copies done by this rank's core) */
    double progress_s;    /* time in MPI inside the hooks (moving the started allreduces on) */
    double pack_s;        /* packing and unpacking the buckets */
    double bytes;         /* gradient bytes allreduced by this rank, all steps */
    int n_buckets;        /* dense buckets of the last step */
    double last_bytes;    /* of them, the one started last (the first layers'), whose sending
                             nothing can hide: it starts when the backward ends */
} DistStats;

/* Buckets over m's weights; hooks m->grads_ready to itself (undone by
 * dist_grads_free).  NULL with err set on failure. */
DistGrads *dist_grads_new(const Dist *d, Model *m, size_t bucket_bytes, Err *err);
void dist_grads_free(DistGrads *g);   /* NULL-safe */

/* Before the forward of this rank's share b of a global batch (b->n may be
 * 0): clears what the last step left in other ranks' embedding rows, sets
 * the buckets up for the params not frozen, and exchanges the embedding rows
 * the global batch touches. */
int dist_grads_begin(DistGrads *g, const Batch *b, Err *err);
/* For optim_prepare_rows (ctx = g): the global batch's rows of param i. */
int dist_grads_rows(void *g, int param, const int32_t **rows);
/* The model's hook: params first..n_params-1 have their final gradients;
 * start the buckets that are complete. */
void dist_grads_ready(void *g, int first);
/* After the backward (or, with an empty share, instead of it): start what is
 * left, sum the control values (st in: this rank's; out: the sums), wait for
 * every bucket and put the summed gradients back.  `nominal` is the number
 * of items the dout scaling assumed (the global batch's B); when st->n comes
 * out different (items left out as unreadable), the gradients are rescaled by
 * nominal / st->n, so they are still the mean's. */
int dist_grads_end(DistGrads *g, double nominal, DistStep *st, Err *err);
void dist_grads_stats(const DistGrads *g, DistStats *s);

#endif
