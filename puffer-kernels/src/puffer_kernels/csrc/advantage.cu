// CUDA advantage kernels on row-major [rows, horizon] float32 buffers.
//
// Default kernel (warp_scan): one warp per row. Each lane owns K consecutive time steps, so a warp's
// loads and stores cover 32*K contiguous floats (coalesced, 8/16-byte vectors where alignment allows).
// The recurrence A_t = delta_t + kappa_t * A_{t+1} is affine in A, so each lane composes its K steps into
// one map (D, P), a suffix scan over the 32 lanes with shuffles gives every lane the A entering its
// range, and the lane then replays its K steps. Rows longer than 32*K are walked in chunks from the end,
// carrying A and the next step's inputs. No shared memory, no block barriers, and one warp per row gives
// 32x the threads of one thread per row, which fills the GPU even when rows are few.
//
// tiled: the shared-memory design from the issue (32 rows x 64 steps staged through shared memory with
// coalesced loads, one thread per row runs the recurrence). naive: one thread per row straight from
// global memory (uncoalesced), kept as the benchmark's baseline.
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "advantage.h"

namespace {

constexpr unsigned FULL = 0xffffffffu;
constexpr int MODE_PUFF = 0, MODE_GAE = 1, MODE_VTRACE = 2;
constexpr int WARPS_PER_BLOCK = 8;

struct Params {
    const float *__restrict__ values;
    const float *__restrict__ rewards;
    const float *__restrict__ dones;
    const float *__restrict__ importance;  // NULL for GAE
    float *__restrict__ out;               // advantages, or vs for V-trace
    float *__restrict__ pg_out;            // V-trace only
    int64_t rows, horizon;
    float gamma, gamma_lambda, rho_clip, c_clip;
};

// min that lets NaN importance through, matching the CPU library.
__device__ __forceinline__ float min_keep_nan(float x, float clip) { return clip < x ? clip : x; }

// K consecutive floats starting at p[t] (t may be past the end: masked to 0).
template <int K, bool VEC>
__device__ __forceinline__ void load_k(const float *__restrict__ p, int64_t t, int64_t H, float (&x)[K]) {
    if constexpr (VEC && K == 2) {
        if (t < H) {
            const float2 a = __ldg(reinterpret_cast<const float2 *>(p + t));
            x[0] = a.x, x[1] = a.y;
        } else {
            x[0] = x[1] = 0.0f;
        }
    } else if constexpr (VEC && K % 4 == 0) {
#pragma unroll
        for (int j = 0; j < K; j += 4) {
            if (t + j < H) {  // H % 4 == 0 on this path: each vector is wholly inside or outside
                const float4 a = __ldg(reinterpret_cast<const float4 *>(p + t + j));
                x[j] = a.x, x[j + 1] = a.y, x[j + 2] = a.z, x[j + 3] = a.w;
            } else {
                x[j] = x[j + 1] = x[j + 2] = x[j + 3] = 0.0f;
            }
        }
    } else {
#pragma unroll
        for (int k = 0; k < K; k++) x[k] = t + k < H ? __ldg(p + t + k) : 0.0f;
    }
}

template <int K, bool VEC>
__device__ __forceinline__ void store_k(float *__restrict__ p, int64_t t, int64_t H, const float (&x)[K]) {
    if constexpr (VEC && K == 2) {
        if (t < H) *reinterpret_cast<float2 *>(p + t) = make_float2(x[0], x[1]);
    } else if constexpr (VEC && K % 4 == 0) {
#pragma unroll
        for (int j = 0; j < K; j += 4)
            if (t + j < H)
                *reinterpret_cast<float4 *>(p + t + j) = make_float4(x[j], x[j + 1], x[j + 2], x[j + 3]);
    } else {
#pragma unroll
        for (int k = 0; k < K; k++)
            if (t + k < H) p[t + k] = x[k];
    }
}

template <int K, bool VEC, int MODE>
__global__ void __launch_bounds__(WARPS_PER_BLOCK * 32) warp_scan_kernel(const Params p) {
    const int lane = threadIdx.x & 31;
    const int64_t row = (int64_t)blockIdx.x * WARPS_PER_BLOCK + (threadIdx.x >> 5);
    if (row >= p.rows) return;  // uniform per warp, so the full-mask shuffles below stay valid
    const int64_t H = p.horizon;
    const int64_t base = row * H;
    constexpr int64_t CH = 32 * K;
    // Inputs of the step just after this chunk, and A there (0 past the end of the row).
    float carry_a = 0.0f, carry_v = 0.0f, carry_r = 0.0f, carry_d = 0.0f;
    for (int64_t c0 = (H - 1) / CH * CH; c0 >= 0; c0 -= CH) {
        const int64_t t0 = c0 + (int64_t)lane * K;
        float v[K], r[K], d[K], im[K];
        load_k<K, VEC>(p.values + base, t0, H, v);
        load_k<K, VEC>(p.rewards + base, t0, H, r);
        load_k<K, VEC>(p.dones + base, t0, H, d);
        if constexpr (MODE != MODE_GAE) load_k<K, VEC>(p.importance + base, t0, H, im);
        float nv = __shfl_down_sync(FULL, v[0], 1);
        float nr = __shfl_down_sync(FULL, r[0], 1);
        float nd = __shfl_down_sync(FULL, d[0], 1);
        if (lane == 31) nv = carry_v, nr = carry_r, nd = carry_d;

        float delta[K], kappa[K];
#pragma unroll
        for (int k = 0; k < K; k++) {
            const float v1 = k + 1 < K ? v[k + 1] : nv;
            const float r1 = k + 1 < K ? r[k + 1] : nr;
            const float d1 = k + 1 < K ? d[k + 1] : nd;
            const float nt = 1.0f - d1;
            const float rho = MODE == MODE_GAE ? 1.0f : min_keep_nan(im[k], p.rho_clip);
            const float cc = MODE == MODE_GAE ? 1.0f : min_keep_nan(im[k], p.c_clip);
            // The last step of the row (and padding past it) has A = 0: delta = kappa = 0 gives that.
            const bool live = t0 + k < H - 1;
            delta[k] = live ? rho * (r1 + p.gamma * v1 * nt - v[k]) : 0.0f;
            kappa[k] = live ? p.gamma_lambda * cc * nt : 0.0f;
        }
        // This lane's steps as one affine map: A(first step) = D + P * A(step after the lane's range).
        float D = delta[K - 1], P = kappa[K - 1];
#pragma unroll
        for (int k = K - 2; k >= 0; k--) D = delta[k] + kappa[k] * D, P = kappa[k] * P;
        // Suffix scan: afterwards lane l holds the composition of lanes l..31.
#pragma unroll
        for (int off = 1; off < 32; off *= 2) {
            const float D2 = __shfl_down_sync(FULL, D, off);
            const float P2 = __shfl_down_sync(FULL, P, off);
            if (lane + off < 32) D = D + P * D2, P = P * P2;
        }
        const float a_first = D + P * carry_a;
        float a = __shfl_down_sync(FULL, a_first, 1);
        if (lane == 31) a = carry_a;
        float A[K];
#pragma unroll
        for (int k = K - 1; k >= 0; k--) A[k] = a = delta[k] + kappa[k] * a;

        if constexpr (MODE == MODE_VTRACE) {
            float vs[K], pg[K];
#pragma unroll
            for (int k = 0; k < K; k++) vs[k] = v[k] + A[k];
            float nvs = __shfl_down_sync(FULL, vs[0], 1);
            if (lane == 31) nvs = carry_v + carry_a;
#pragma unroll
            for (int k = 0; k < K; k++) {
                const float vs1 = k + 1 < K ? vs[k + 1] : nvs;
                const float r1 = k + 1 < K ? r[k + 1] : nr;
                const float d1 = k + 1 < K ? d[k + 1] : nd;
                const bool live = t0 + k < H - 1;
                pg[k] = live ? min_keep_nan(im[k], p.rho_clip) * (r1 + p.gamma * vs1 * (1.0f - d1) - v[k])
                             : 0.0f;
            }
            store_k<K, VEC>(p.out + base, t0, H, vs);
            store_k<K, VEC>(p.pg_out + base, t0, H, pg);
        } else {
            store_k<K, VEC>(p.out + base, t0, H, A);
        }
        carry_a = __shfl_sync(FULL, A[0], 0);
        carry_v = __shfl_sync(FULL, v[0], 0);
        carry_r = __shfl_sync(FULL, r[0], 0);
        carry_d = __shfl_sync(FULL, d[0], 0);
    }
}

constexpr int TILE_ROWS = 32, TILE_STEPS = 64, TILE_THREADS = 256;

template <int MODE>
__global__ void __launch_bounds__(TILE_THREADS) tiled_kernel(const Params p) {
    // +1 column so that the recurrence's per-row reads (stride = row length) hit different banks.
    __shared__ float sv[TILE_ROWS][TILE_STEPS + 1], sr[TILE_ROWS][TILE_STEPS + 1];
    __shared__ float sd[TILE_ROWS][TILE_STEPS + 1], si[TILE_ROWS][TILE_STEPS + 1];
    __shared__ float so[TILE_ROWS][TILE_STEPS + 1];
    const int tid = threadIdx.x;
    const int64_t H = p.horizon;
    const int64_t row0 = (int64_t)blockIdx.x * TILE_ROWS;
    const int nrows = (int)(p.rows - row0 < TILE_ROWS ? p.rows - row0 : TILE_ROWS);
    float last = 0.0f, nv = 0.0f, nr = 0.0f, nd = 0.0f;
    for (int64_t t0 = (H - 1) / TILE_STEPS * TILE_STEPS; t0 >= 0; t0 -= TILE_STEPS) {
        __syncthreads();  // the previous chunk's results have been stored
        for (int e = tid; e < TILE_ROWS * TILE_STEPS; e += TILE_THREADS) {
            const int rr = e / TILE_STEPS, k = e % TILE_STEPS;
            const int64_t t = t0 + k;
            const bool ok = rr < nrows && t < H;
            const int64_t i = (row0 + rr) * H + t;
            sv[rr][k] = ok ? p.values[i] : 0.0f;
            sr[rr][k] = ok ? p.rewards[i] : 0.0f;
            sd[rr][k] = ok ? p.dones[i] : 0.0f;
            if constexpr (MODE != MODE_GAE) si[rr][k] = ok ? p.importance[i] : 1.0f;
        }
        __syncthreads();
        if (tid < nrows) {
            const int len = (int)(H - t0 < TILE_STEPS ? H - t0 : TILE_STEPS);
            for (int k = len - 1; k >= 0; k--) {
                if (t0 + k == H - 1) {
                    last = 0.0f;
                } else {
                    const float v1 = k + 1 < TILE_STEPS ? sv[tid][k + 1] : nv;
                    const float r1 = k + 1 < TILE_STEPS ? sr[tid][k + 1] : nr;
                    const float d1 = k + 1 < TILE_STEPS ? sd[tid][k + 1] : nd;
                    const float nt = 1.0f - d1;
                    const float imp = MODE == MODE_GAE ? 1.0f : si[tid][k];
                    const float rho = MODE == MODE_GAE ? 1.0f : min_keep_nan(imp, p.rho_clip);
                    const float cc = MODE == MODE_GAE ? 1.0f : min_keep_nan(imp, p.c_clip);
                    last = rho * (r1 + p.gamma * v1 * nt - sv[tid][k]) + p.gamma_lambda * cc * nt * last;
                }
                so[tid][k] = last;
            }
            nv = sv[tid][0], nr = sr[tid][0], nd = sd[tid][0];
        }
        __syncthreads();
        for (int e = tid; e < TILE_ROWS * TILE_STEPS; e += TILE_THREADS) {
            const int rr = e / TILE_STEPS, k = e % TILE_STEPS;
            const int64_t t = t0 + k;
            if (rr < nrows && t < H) p.out[(row0 + rr) * H + t] = so[rr][k];
        }
    }
}

__global__ void naive_kernel(const Params p) {
    const int64_t row = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= p.rows) return;
    const int64_t H = p.horizon, b = row * H;
    float last = 0.0f;
    for (int64_t t = H - 2; t >= 0; t--) {
        const float nt = 1.0f - p.dones[b + t + 1];
        const float rho = min_keep_nan(p.importance[b + t], p.rho_clip);
        const float c = min_keep_nan(p.importance[b + t], p.c_clip);
        const float delta = rho * (p.rewards[b + t + 1] + p.gamma * p.values[b + t + 1] * nt - p.values[b + t]);
        last = delta + p.gamma_lambda * c * nt * last;
        p.out[b + t] = last;
    }
    p.out[b + H - 1] = 0.0f;
}

bool aligned(const void *ptr, int bytes) { return ptr == nullptr || (uintptr_t)ptr % bytes == 0; }

bool all_aligned(const Params &p, int bytes) {
    return p.horizon * 4 % bytes == 0 && aligned(p.values, bytes) && aligned(p.rewards, bytes) &&
           aligned(p.dones, bytes) && aligned(p.importance, bytes) && aligned(p.out, bytes) &&
           aligned(p.pg_out, bytes);
}

template <int K, int MODE>
void launch_warp_scan_k(const Params &p, cudaStream_t s) {
    const unsigned blocks = (unsigned)((p.rows + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK);
    if (all_aligned(p, K == 1 ? 4 : (K == 2 ? 8 : 16)))
        warp_scan_kernel<K, true, MODE><<<blocks, WARPS_PER_BLOCK * 32, 0, s>>>(p);
    else
        warp_scan_kernel<K, false, MODE><<<blocks, WARPS_PER_BLOCK * 32, 0, s>>>(p);
}

// k = elements per lane (1, 2, 4 or 8); 0 picks the smallest that keeps most lanes busy.
template <int MODE>
void launch_warp_scan(const Params &p, int k, cudaStream_t s) {
    if (k == 0) k = p.horizon <= 32 ? 1 : p.horizon <= 64 ? 2 : 4;
    switch (k) {
        case 1: launch_warp_scan_k<1, MODE>(p, s); break;
        case 2: launch_warp_scan_k<2, MODE>(p, s); break;
        case 8: launch_warp_scan_k<8, MODE>(p, s); break;
        default: launch_warp_scan_k<4, MODE>(p, s); break;
    }
}

int check_args(int64_t rows, int64_t horizon, float gamma, float gae_lambda, float rho_clip, float c_clip) {
    if (rows < 0 || horizon < 0) return PUFF_ERR_SHAPE;
    if (!isfinite(gamma) || !isfinite(gae_lambda) || !isfinite(rho_clip) || !isfinite(c_clip) ||
        !(rho_clip > 0.0f) || !(c_clip > 0.0f))
        return PUFF_ERR_SCALAR;
    // one block row index must fit the grid: 2^31-1 blocks of 8 rows is far beyond any real buffer
    if ((rows + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK > 0x7fffffffLL) return PUFF_ERR_SHAPE;
    return PUFF_OK;
}

int finish_launch() {
    const cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? PUFF_OK : 1000 + (int)e;
}

int set_device(int device) {
    const cudaError_t e = cudaSetDevice(device);
    return e == cudaSuccess ? PUFF_OK : 1000 + (int)e;
}

}  // namespace

extern "C" {

int puff_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky-free error so later calls start clean
        return 0;
    }
    return n;
}

const char *puff_cuda_error_string(int code) {
    switch (code) {
        case PUFF_OK: return "no error";
        case PUFF_ERR_NULL: return "a required pointer is NULL";
        case PUFF_ERR_SHAPE: return "rows or horizon out of range";
        case PUFF_ERR_SCALAR: return "a scalar is not finite, or a clip is not > 0";
        default: break;
    }
    if (code >= 1000) return cudaGetErrorString((cudaError_t)(code - 1000));
    return "unknown error code";
}

int puff_advantage_cuda(const float *values, const float *rewards, const float *dones, const float *importance,
                        float *advantages, int64_t rows, int64_t horizon, float gamma, float gae_lambda,
                        float rho_clip, float c_clip, int device, void *stream, int variant) {
    int err = check_args(rows, horizon, gamma, gae_lambda, rho_clip, c_clip);
    if (err) return err;
    if (rows == 0 || horizon == 0) return PUFF_OK;
    if (!values || !rewards || !dones || !importance || !advantages) return PUFF_ERR_NULL;
    if ((err = set_device(device))) return err;
    const Params p = {values, rewards, dones, importance, advantages, nullptr, rows, horizon,
                      gamma,  gamma * gae_lambda, rho_clip, c_clip};
    cudaStream_t s = (cudaStream_t)stream;
    if (variant == 2) {
        const unsigned blocks = (unsigned)((rows + TILE_ROWS - 1) / TILE_ROWS);
        tiled_kernel<MODE_PUFF><<<blocks, TILE_THREADS, 0, s>>>(p);
    } else if (variant == 3) {
        naive_kernel<<<(unsigned)((rows + 127) / 128), 128, 0, s>>>(p);
    } else if (variant > 10) {
        launch_warp_scan<MODE_PUFF>(p, variant - 10, s);
    } else {
        launch_warp_scan<MODE_PUFF>(p, 0, s);
    }
    return finish_launch();
}

int puff_advantage_naive_cuda(const float *values, const float *rewards, const float *dones,
                              const float *importance, float *advantages, int64_t rows, int64_t horizon,
                              float gamma, float gae_lambda, float rho_clip, float c_clip, int device,
                              void *stream) {
    return puff_advantage_cuda(values, rewards, dones, importance, advantages, rows, horizon, gamma, gae_lambda,
                               rho_clip, c_clip, device, stream, 3);
}

int puff_gae_cuda(const float *values, const float *rewards, const float *dones, float *advantages, int64_t rows,
                  int64_t horizon, float gamma, float gae_lambda, int device, void *stream) {
    int err = check_args(rows, horizon, gamma, gae_lambda, 1.0f, 1.0f);
    if (err) return err;
    if (rows == 0 || horizon == 0) return PUFF_OK;
    if (!values || !rewards || !dones || !advantages) return PUFF_ERR_NULL;
    if ((err = set_device(device))) return err;
    const Params p = {values, rewards, dones, nullptr, advantages, nullptr, rows, horizon,
                      gamma,  gamma * gae_lambda, 1.0f, 1.0f};
    launch_warp_scan<MODE_GAE>(p, 0, (cudaStream_t)stream);
    return finish_launch();
}

int puff_vtrace_cuda(const float *values, const float *rewards, const float *dones, const float *importance,
                     float *vs, float *pg_advantages, int64_t rows, int64_t horizon, float gamma, float gae_lambda,
                     float rho_clip, float c_clip, int device, void *stream) {
    int err = check_args(rows, horizon, gamma, gae_lambda, rho_clip, c_clip);
    if (err) return err;
    if (rows == 0 || horizon == 0) return PUFF_OK;
    if (!values || !rewards || !dones || !importance || !vs || !pg_advantages) return PUFF_ERR_NULL;
    if ((err = set_device(device))) return err;
    const Params p = {values, rewards, dones, importance, vs, pg_advantages, rows, horizon,
                      gamma,  gamma * gae_lambda, rho_clip, c_clip};
    launch_warp_scan<MODE_VTRACE>(p, 0, (cudaStream_t)stream);
    return finish_launch();
}

}  // extern "C"
