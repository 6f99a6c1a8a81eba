/* CPU advantage kernels: puff advantage (GAE with V-trace clipping), GAE and V-trace.
 *
 * Why the layout below: one row's recurrence A_t = delta_t + kappa_t * A_{t+1} is a serial dependency
 * chain, so a row-at-a-time loop is bound by floating-point latency, not memory. We therefore
 *   1. compute delta and kappa for a short time chunk of each row (no dependency: vectorizes along time,
 *      contiguous loads), into small stack tiles, then
 *   2. run the recurrence for BLOCK_ROWS rows at once, so the chains of different rows interleave and
 *      hide each other's latency, writing the result over the delta tile, and
 *   3. copy each row's finished tile out contiguously (storing straight into 8 rows from the recurrence
 *      ran 2-3x slower: scattered stores that alias the tile loads).
 * Large inputs are split by rows across a few threads. No heap allocation anywhere.
 */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif

#include "advantage.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#if !defined(_WIN32)
#include <pthread.h>
#include <unistd.h>
#define PUFF_HAVE_PTHREADS 1
#else
#define PUFF_HAVE_PTHREADS 0
#endif

enum {
    BLOCK_ROWS = 8,   /* rows whose chains interleave; 8 covers FMA latency x throughput */
    CHUNK = 256,      /* time steps per tile: long enough for the prefetchers to follow each row,
                         2 tiles x 8 rows x 256 x 4 B = 16 KiB stays in L1 */
    MAX_THREADS = 16, /* thread handles live on the stack */
    MIN_ELEMENTS_PER_THREAD = 1 << 20 /* threads pay only on big inputs; a busy core can stall a join for ms */
};

typedef enum { MODE_PUFF, MODE_GAE, MODE_VTRACE } adv_mode;

typedef struct {
    const float *values, *rewards, *dones, *importance;
    float *out;    /* advantages, or vs for V-trace */
    float *pg_out; /* V-trace policy-gradient advantages, else NULL */
    int64_t horizon;
    float gamma, gamma_lambda, rho_clip, c_clip;
    adv_mode mode;
} adv_args;

/* min that lets NaN in x through (so bad data stays visible) and compiles to a vector min. */
static inline float min_keep_nan(float x, float clip) { return clip < x ? clip : x; }

/* delta/kappa for steps t0 .. t0+len-1 of one row; all t+1 reads stay inside the row (t0+len <= H-1). */
static inline void row_terms(const adv_args *a, int64_t offset, int len, float *restrict delta,
                             float *restrict kappa) {
    const float *restrict v = a->values + offset;
    const float *restrict rw = a->rewards + offset;
    const float *restrict d = a->dones + offset;
    const float g = a->gamma, gl = a->gamma_lambda;
    if (a->mode == MODE_GAE) {
        for (int k = 0; k < len; k++) {
            const float nt = 1.0f - d[k + 1];
            delta[k] = rw[k + 1] + g * v[k + 1] * nt - v[k];
            kappa[k] = gl * nt;
        }
    } else {
        const float *restrict imp = a->importance + offset;
        const float rc = a->rho_clip, cc = a->c_clip;
        for (int k = 0; k < len; k++) {
            const float nt = 1.0f - d[k + 1];
            const float rho = min_keep_nan(imp[k], rc);
            const float c = min_keep_nan(imp[k], cc);
            delta[k] = rho * (rw[k + 1] + g * v[k + 1] * nt - v[k]);
            kappa[k] = gl * c * nt;
        }
    }
}

/* V-trace: turn A (stored in vs) into vs = V + A and the policy-gradient advantage, one row. */
static void vtrace_finish_row(const adv_args *a, int64_t row) {
    const int64_t H = a->horizon, base = row * H;
    const float *restrict v = a->values + base;
    const float *restrict rw = a->rewards + base;
    const float *restrict d = a->dones + base;
    const float *restrict imp = a->importance + base;
    float *restrict vs = a->out + base;
    float *restrict pg = a->pg_out + base;
    for (int64_t t = 0; t < H; t++) vs[t] += v[t];
    for (int64_t t = 0; t + 1 < H; t++) {
        const float nt = 1.0f - d[t + 1];
        pg[t] = min_keep_nan(imp[t], a->rho_clip) * (rw[t + 1] + a->gamma * vs[t + 1] * nt - v[t]);
    }
    pg[H - 1] = 0.0f;
}

/* Rows [r0, r0+n), n <= BLOCK_ROWS. Called with the constant BLOCK_ROWS on the hot path so the
 * inner row loop unrolls into independent chains. */
static inline void advantage_block(const adv_args *a, int64_t r0, const int n) {
    const int64_t H = a->horizon;
    float delta[BLOCK_ROWS][CHUNK];
    float kappa[BLOCK_ROWS][CHUNK];
    float last[BLOCK_ROWS];
    float *out[BLOCK_ROWS];
    for (int r = 0; r < n; r++) {
        last[r] = 0.0f;
        out[r] = a->out + (r0 + r) * H;
        out[r][H - 1] = 0.0f;
    }
    for (int64_t t1 = H - 1; t1 > 0; t1 -= CHUNK) { /* tile covers steps [t0, t1) */
        const int64_t t0 = t1 > CHUNK ? t1 - CHUNK : 0;
        const int len = (int)(t1 - t0);
        for (int r = 0; r < n; r++) row_terms(a, (r0 + r) * H + t0, len, delta[r], kappa[r]);
        for (int k = len - 1; k >= 0; k--) {
            for (int r = 0; r < n; r++) {
                last[r] = delta[r][k] + kappa[r][k] * last[r];
                delta[r][k] = last[r];
            }
        }
        for (int r = 0; r < n; r++) memcpy(out[r] + t0, delta[r], (size_t)len * sizeof(float));
    }
    if (a->mode == MODE_VTRACE) {
        for (int r = 0; r < n; r++) vtrace_finish_row(a, r0 + r);
    }
}

static void advantage_rows(const adv_args *a, int64_t begin, int64_t end) {
    int64_t r = begin;
    for (; r + BLOCK_ROWS <= end; r += BLOCK_ROWS) advantage_block(a, r, BLOCK_ROWS);
    if (r < end) advantage_block(a, r, (int)(end - r));
}

typedef struct {
    const adv_args *args;
    int64_t begin, end;
} adv_job;

#if PUFF_HAVE_PTHREADS
static void *advantage_job(void *p) {
    const adv_job *job = (const adv_job *)p;
    advantage_rows(job->args, job->begin, job->end);
    return NULL;
}
#endif

static int pick_threads(int64_t rows, int64_t horizon, int requested) {
    if (requested < 0) requested = 0;
    int64_t n = requested;
    if (n == 0) {
        n = 1;
#if PUFF_HAVE_PTHREADS && defined(_SC_NPROCESSORS_ONLN)
        const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        const int64_t by_size = rows * horizon / MIN_ELEMENTS_PER_THREAD;
        n = cpus > 0 ? cpus : 1;
        if (by_size < n) n = by_size;
#endif
    }
    const int64_t by_rows = (rows + BLOCK_ROWS - 1) / BLOCK_ROWS;
    if (n > by_rows) n = by_rows;
    if (n > MAX_THREADS) n = MAX_THREADS;
    return n < 1 ? 1 : (int)n;
}

static void run(const adv_args *a, int64_t rows, int num_threads) {
    const int n = pick_threads(rows, a->horizon, num_threads);
    /* Split on block boundaries so every thread except the last runs only full blocks. */
    const int64_t blocks = (rows + BLOCK_ROWS - 1) / BLOCK_ROWS;
    adv_job jobs[MAX_THREADS];
    for (int i = 0; i < n; i++) {
        const int64_t b0 = blocks * i / n, b1 = blocks * (i + 1) / n;
        jobs[i].args = a;
        jobs[i].begin = b0 * BLOCK_ROWS;
        jobs[i].end = b1 * BLOCK_ROWS < rows ? b1 * BLOCK_ROWS : rows;
    }
#if PUFF_HAVE_PTHREADS
    pthread_t threads[MAX_THREADS];
    bool started[MAX_THREADS] = {false};
    for (int i = 1; i < n; i++) started[i] = pthread_create(&threads[i], NULL, advantage_job, &jobs[i]) == 0;
    advantage_rows(a, jobs[0].begin, jobs[0].end);
    for (int i = 1; i < n; i++) {
        if (started[i])
            pthread_join(threads[i], NULL);
        else /* could not start a thread: do its share here rather than fail */
            advantage_rows(a, jobs[i].begin, jobs[i].end);
    }
#else
    for (int i = 0; i < n; i++) advantage_rows(a, jobs[i].begin, jobs[i].end);
#endif
}

static bool finite(float x) { return isfinite(x); }

static int check_common(int64_t rows, int64_t horizon, float gamma, float gae_lambda) {
    if (rows < 0 || horizon < 0) return PUFF_ERR_SHAPE;
    if (!finite(gamma) || !finite(gae_lambda)) return PUFF_ERR_SCALAR;
    return PUFF_OK;
}

static int check_clips(float rho_clip, float c_clip) {
    if (!finite(rho_clip) || !finite(c_clip) || !(rho_clip > 0.0f) || !(c_clip > 0.0f)) return PUFF_ERR_SCALAR;
    return PUFF_OK;
}

int puff_advantage_cpu(const float *values, const float *rewards, const float *dones, const float *importance,
                       float *advantages, int64_t rows, int64_t horizon, float gamma, float gae_lambda,
                       float rho_clip, float c_clip, int num_threads) {
    int err = check_common(rows, horizon, gamma, gae_lambda);
    if (!err) err = check_clips(rho_clip, c_clip);
    if (err) return err;
    if (rows == 0 || horizon == 0) return PUFF_OK;
    if (!values || !rewards || !dones || !importance || !advantages) return PUFF_ERR_NULL;
    const adv_args a = {values, rewards, dones, importance, advantages, NULL, horizon,
                        gamma,  gamma * gae_lambda, rho_clip, c_clip, MODE_PUFF};
    run(&a, rows, num_threads);
    return PUFF_OK;
}

int puff_gae_cpu(const float *values, const float *rewards, const float *dones, float *advantages, int64_t rows,
                 int64_t horizon, float gamma, float gae_lambda, int num_threads) {
    const int err = check_common(rows, horizon, gamma, gae_lambda);
    if (err) return err;
    if (rows == 0 || horizon == 0) return PUFF_OK;
    if (!values || !rewards || !dones || !advantages) return PUFF_ERR_NULL;
    const adv_args a = {values, rewards, dones, NULL, advantages, NULL, horizon,
                        gamma,  gamma * gae_lambda, 1.0f, 1.0f, MODE_GAE};
    run(&a, rows, num_threads);
    return PUFF_OK;
}

int puff_vtrace_cpu(const float *values, const float *rewards, const float *dones, const float *importance,
                    float *vs, float *pg_advantages, int64_t rows, int64_t horizon, float gamma,
                    float gae_lambda, float rho_clip, float c_clip, int num_threads) {
    int err = check_common(rows, horizon, gamma, gae_lambda);
    if (!err) err = check_clips(rho_clip, c_clip);
    if (err) return err;
    if (rows == 0 || horizon == 0) return PUFF_OK;
    if (!values || !rewards || !dones || !importance || !vs || !pg_advantages) return PUFF_ERR_NULL;
    const adv_args a = {values, rewards, dones, importance, vs, pg_advantages, horizon,
                        gamma,  gamma * gae_lambda, rho_clip, c_clip, MODE_VTRACE};
    run(&a, rows, num_threads);
    return PUFF_OK;
}

int puff_advantage_serial_cpu(const float *values, const float *rewards, const float *dones,
                              const float *importance, float *advantages, int64_t rows, int64_t horizon,
                              float gamma, float gae_lambda, float rho_clip, float c_clip) {
    int err = check_common(rows, horizon, gamma, gae_lambda);
    if (!err) err = check_clips(rho_clip, c_clip);
    if (err) return err;
    if (rows == 0 || horizon == 0) return PUFF_OK;
    if (!values || !rewards || !dones || !importance || !advantages) return PUFF_ERR_NULL;
    for (int64_t row = 0; row < rows; row++) {
        const int64_t b = row * horizon;
        float last = 0.0f;
        for (int64_t t = horizon - 2; t >= 0; t--) {
            const float nt = 1.0f - dones[b + t + 1];
            const float rho = min_keep_nan(importance[b + t], rho_clip);
            const float c = min_keep_nan(importance[b + t], c_clip);
            const float delta = rho * (rewards[b + t + 1] + gamma * values[b + t + 1] * nt - values[b + t]);
            last = delta + gamma * gae_lambda * c * last * nt;
            advantages[b + t] = last;
        }
        advantages[b + horizon - 1] = 0.0f;
    }
    return PUFF_OK;
}
