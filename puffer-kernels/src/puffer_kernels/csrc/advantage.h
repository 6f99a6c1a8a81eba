/* Advantage estimators for [rows, horizon] float32 buffers (row-major, C-contiguous).
 *
 * Indexing convention: rewards[t+1] and dones[t+1] belong to the transition out of step t.
 * Every function returns PUFF_OK or a PUFF_ERR_* code; nothing is written when an argument is rejected.
 * The Python package keeps a copy of these declarations in puffer_kernels/_loader.py (cffi cdef);
 * tests/test_header.py checks that the two agree.
 */
#ifndef PUFFER_ADVANTAGE_H
#define PUFFER_ADVANTAGE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define PUFF_API __declspec(dllexport)
#else
#define PUFF_API __attribute__((visibility("default")))
#endif

enum {
    PUFF_OK = 0,
    PUFF_ERR_NULL = 1,  /* a required pointer is NULL */
    PUFF_ERR_SHAPE = 2, /* rows or horizon negative */
    PUFF_ERR_SCALAR = 3 /* a scalar is not finite, or a clip is not > 0 */
};

/* ---- CPU library (libpuffer_advantage) ---- */

/* num_threads: 0 picks a count from the input size and the online CPUs, 1 runs on the calling thread. */
PUFF_API int puff_advantage_cpu(const float *values, const float *rewards, const float *dones,
                                const float *importance, float *advantages, int64_t rows, int64_t horizon,
                                float gamma, float gae_lambda, float rho_clip, float c_clip, int num_threads);

PUFF_API int puff_gae_cpu(const float *values, const float *rewards, const float *dones, float *advantages,
                          int64_t rows, int64_t horizon, float gamma, float gae_lambda, int num_threads);

PUFF_API int puff_vtrace_cpu(const float *values, const float *rewards, const float *dones,
                             const float *importance, float *vs, float *pg_advantages, int64_t rows,
                             int64_t horizon, float gamma, float gae_lambda, float rho_clip, float c_clip,
                             int num_threads);

/* The textbook one-row-at-a-time loop, kept as the benchmark's baseline. */
PUFF_API int puff_advantage_serial_cpu(const float *values, const float *rewards, const float *dones,
                                       const float *importance, float *advantages, int64_t rows,
                                       int64_t horizon, float gamma, float gae_lambda, float rho_clip,
                                       float c_clip);

/* ---- CUDA library (libpuffer_advantage_cuda) ----
 * Pointers are device pointers on `device`; work is queued on `stream` (a cudaStream_t, NULL = legacy
 * default stream) and is not synchronized. Return values >= 1000 are cudaError_t codes + 1000.
 * variant: 0 = automatic choice, 1 = one warp per row with a scan over time, 2 = shared-memory tiles
 * with one thread per row, 3 = the naive one-thread-per-row kernel (benchmark baseline).
 */
PUFF_API int puff_cuda_device_count(void);
PUFF_API const char *puff_cuda_error_string(int code);

PUFF_API int puff_advantage_cuda(const float *values, const float *rewards, const float *dones,
                                 const float *importance, float *advantages, int64_t rows, int64_t horizon,
                                 float gamma, float gae_lambda, float rho_clip, float c_clip, int device,
                                 void *stream, int variant);

PUFF_API int puff_advantage_naive_cuda(const float *values, const float *rewards, const float *dones,
                                       const float *importance, float *advantages, int64_t rows,
                                       int64_t horizon, float gamma, float gae_lambda, float rho_clip,
                                       float c_clip, int device, void *stream);

PUFF_API int puff_gae_cuda(const float *values, const float *rewards, const float *dones, float *advantages,
                           int64_t rows, int64_t horizon, float gamma, float gae_lambda, int device,
                           void *stream);

PUFF_API int puff_vtrace_cuda(const float *values, const float *rewards, const float *dones,
                              const float *importance, float *vs, float *pg_advantages, int64_t rows,
                              int64_t horizon, float gamma, float gae_lambda, float rho_clip, float c_clip,
                              int device, void *stream);

#ifdef __cplusplus
}
#endif

#endif /* PUFFER_ADVANTAGE_H */
