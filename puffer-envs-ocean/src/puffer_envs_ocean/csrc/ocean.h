/* ocean.h: the contract between the Ocean dispatcher (ocean.c) and each env (csrc/<name>.c).
 *
 * Each env file defines exactly one `const OceanEnvDef ocean_env_<name>`, where <name> is the file's
 * basename. CMake finds every .c file in csrc/ except ocean.c, compiles them into libocean and generates the
 * dispatch table from the file names, so adding an env is adding one C file (see CONTRACT.md).
 *
 * Rules (binding): C11, no mutable globals, no allocation anywhere (the dispatcher allocates all instance
 * states in one block at create time), no global rand(): use the per-instance OceanRng in the header.
 */
#ifndef OCEAN_H
#define OCEAN_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define OCEAN_API __declspec(dllexport)
#else
#define OCEAN_API __attribute__((visibility("default")))
#endif

#define OCEAN_ABI_VERSION 1
#define OCEAN_MAX_ACT_DIMS 8
#define OCEAN_MAX_LOG 16
#define OCEAN_MAX_PARAMS 16
#define OCEAN_MAX_OBS_DIMS 3

/* Observation element types (numpy dtype in brackets). */
enum { OCEAN_OBS_U8 = 0 /* uint8 */, OCEAN_OBS_F32 = 1 /* float32 */ };

/* ------------------------------------------------------------------------------------------------------
 * Random numbers: splitmix64, one 8-byte state per instance, seeded by the dispatcher from (seed, index).
 * ---------------------------------------------------------------------------------------------------- */
typedef struct OceanRng {
    uint64_t s;
} OceanRng;

static inline uint64_t ocean_splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t ocean_rand_u64(OceanRng *r) { return ocean_splitmix64(&r->s); }

/* Uniform integer in [0, n) for n >= 1 (Lemire's multiply-shift; bias < 2^-32, fine for games). */
static inline uint32_t ocean_rand_below(OceanRng *r, uint32_t n) {
    return (uint32_t)(((ocean_rand_u64(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform float in [0, 1). */
static inline float ocean_rand_float(OceanRng *r) { return (float)(ocean_rand_u64(r) >> 40) * 0x1.0p-24f; }

/* Uniform double in [0, 1). */
static inline double ocean_rand_double(OceanRng *r) { return (double)(ocean_rand_u64(r) >> 11) * 0x1.0p-53; }

static inline float ocean_rand_uniform(OceanRng *r, float lo, float hi) {
    return lo + (hi - lo) * ocean_rand_float(r);
}

/* ------------------------------------------------------------------------------------------------------
 * Episode statistics: sums over finished episodes, one accumulator per handle (never global).
 * Values are in the order of OceanEnvDef.log_names. ocean_log() hands sums + count to Python and clears.
 * ---------------------------------------------------------------------------------------------------- */
typedef struct OceanLog {
    double sums[OCEAN_MAX_LOG];
    double count;
} OceanLog;

/* What the instances of one handle share, owned by the dispatcher and reached through OceanHeader.shared.
 * Kept out of the header so that the header (and so every env's instance, whose size sets how many cache
 * lines a step touches) does not grow for data used only when an episode ends. */
typedef struct OceanShared {
    OceanLog log;     /* finished-episode sums of every instance */
    void *final_obs;  /* final-observation buffer, laid out like obs over all instances; NULL: not kept */
    size_t obs_bytes; /* bytes of one agent's observation */
} OceanShared;

/* ------------------------------------------------------------------------------------------------------
 * OceanHeader: MUST be the first member of every env's instance struct. The dispatcher fills it before
 * init() and keeps the buffer pointers valid for the handle's life. Buffers hold `agents` consecutive agent
 * slots (OceanLayout.agents) for this instance:
 *   obs         agents * obs_size elements of the env's obs dtype (uint8_t or float)
 *   actions     agents * max(1, act_dims) int32, already range-checked by the dispatcher
 *   rewards     agents floats           (zeroed by the dispatcher before every step)
 *   terminals   agents bytes, 0 or 1    (zeroed before every step; numpy bool: only ever write 0 or 1)
 *   truncations agents bytes, 0 or 1    (zeroed before every step; a time limit is a truncation)
 *   masks       agents bytes, 0 or 1    (set to 1 by the dispatcher at reset; env may clear dead slots)
 * shared->final_obs (NULL when the caller keeps no final observations) receives, through
 * ocean_keep_final_obs() only, the observation that ended an agent's episode, before auto-reset overwrites
 * it in obs (see CONTRACT.md). Instance `index` owns its slots `index * agents ...` there.
 * ---------------------------------------------------------------------------------------------------- */
typedef struct OceanHeader {
    OceanRng rng;
    void *obs;
    const int32_t *actions;
    float *rewards;
    uint8_t *terminals;
    uint8_t *truncations;
    uint8_t *masks;
    OceanShared *shared; /* the handle's episode log and final-observation buffer */
    int index; /* instance index within the handle, e.g. for render tie-breaks; not for randomness */
    int agents;
} OceanHeader;

/* Marks an env's episode-end helper (e.g. the one that writes its final observation): rare, so the compiler
 * keeps it out of line and out of the hot step loop's registers and cache lines. */
#if defined(__GNUC__)
#define OCEAN_COLD __attribute__((cold, noinline))
#else
#define OCEAN_COLD
#endif

/* Keep agent a's current observation (the last one of the episode ending in this step) as its final
 * observation. Call it on the episode-end path, after writing that observation and before the reset
 * overwrites it; a no-op when the caller keeps no final observations. */
static inline void ocean_keep_final_obs(OceanHeader *h, int a) {
    const OceanShared *s = h->shared;
    if (s->final_obs) {
        size_t slot = (size_t)h->index * (size_t)h->agents + (size_t)a;
        memcpy((unsigned char *)s->final_obs + slot * s->obs_bytes,
               (const unsigned char *)h->obs + (size_t)a * s->obs_bytes, s->obs_bytes);
    }
}

/* Record one finished episode (values in log_names order, exactly num_log of them). */
static inline void ocean_log_episode(OceanHeader *h, const float *values, int num_log) {
    OceanLog *log = &h->shared->log;
    for (int k = 0; k < num_log && k < OCEAN_MAX_LOG; k++) log->sums[k] += (double)values[k];
    log->count += 1.0;
}

/* ------------------------------------------------------------------------------------------------------
 * Env description.
 * ---------------------------------------------------------------------------------------------------- */
typedef struct OceanParam {
    const char *name;      /* Python kwarg name */
    double default_value;
    double min, max;       /* inclusive; the dispatcher rejects values outside (and NaN) before init */
    int integer;           /* 1: value must be a whole number */
    const char *doc;       /* one line, shown in Python errors and docs */
} OceanParam;

/* Sizes that may depend on the params (called with validated params only). */
typedef struct OceanLayout {
    size_t state_bytes;                 /* bytes of one instance (>= sizeof your struct; may add a tail) */
    int agents;                         /* agent slots per instance (>= 1) */
    int obs_ndim;                       /* 1..3 */
    int obs_shape[OCEAN_MAX_OBS_DIMS];  /* per agent */
    int render_width, render_height;    /* RGB frame size; 0, 0 when render is NULL */
} OceanLayout;

typedef struct OceanEnvDef {
    int abi_version;                    /* OCEAN_ABI_VERSION */
    const char *name;                   /* == file basename == Python c_name */
    int obs_dtype;                      /* OCEAN_OBS_U8 or OCEAN_OBS_F32 */
    double obs_low, obs_high;           /* Box bounds of every observation element */
    int act_dims;                       /* 0: Discrete(act_n[0]); k >= 1: MultiDiscrete(act_n[0..k-1]) */
    int act_n[OCEAN_MAX_ACT_DIMS];      /* number of choices per action dim (>= 1) */
    int num_params;
    const OceanParam *params;
    int num_log;                        /* must include "episode_return" and "episode_length" */
    const char *const *log_names;
    void (*layout)(const double *params, OceanLayout *out);
    /* Read params into the instance (the header is filled, the rest of the state is zeroed). No alloc. */
    void (*init)(void *env, const double *params);
    /* Start a new episode for every agent of the instance and write its observations. */
    void (*reset)(void *env);
    /* Advance one step: read actions, write obs/rewards/terminals/truncations, log finished episodes with
     * ocean_log_episode() and auto-reset them (the obs written is the first one of the next episode). */
    void (*step)(void *env);
    /* Draw the instance into rgb[height][width][3]; may be NULL. */
    void (*render)(const void *env, uint8_t *rgb, int width, int height);
    /* Text picture of the instance, NUL-terminated, at most cap bytes incl. NUL; returns length; may be NULL. */
    int (*render_ansi)(const void *env, char *out, int cap);
} OceanEnvDef;

/* ------------------------------------------------------------------------------------------------------
 * The exported dispatcher API (ocean.c). All calls are safe on bad input: errors come back as codes and a
 * message in err (errlen bytes, NUL-terminated), never as UB. Python reaches these through cffi.
 * ---------------------------------------------------------------------------------------------------- */
typedef struct OceanHandle OceanHandle;

OCEAN_API int ocean_abi_version(void);
OCEAN_API int ocean_env_count(void);
OCEAN_API const OceanEnvDef *ocean_env_at(int i);
OCEAN_API const OceanEnvDef *ocean_env_find(const char *name);
/* 0 on success; -1 with a message when params are invalid (NaN, out of range, not whole). */
OCEAN_API int ocean_check_params(const OceanEnvDef *def, const double *params, int num_params, char *err,
                                 int errlen);
OCEAN_API int ocean_layout(const OceanEnvDef *def, const double *params, int num_params, OceanLayout *out,
                           char *err, int errlen);
/* Create num_envs instances on the given buffers (agents = num_envs * layout.agents slots each).
 * Returns NULL with a message on any invalid argument. The only allocation of the whole lifecycle. */
OCEAN_API OceanHandle *ocean_create(const char *name, const double *params, int num_params, int num_envs,
                                    uint64_t seed, void *obs, int32_t *actions, float *rewards,
                                    uint8_t *terminals, uint8_t *truncations, uint8_t *masks, char *err,
                                    int errlen);
/* Give the instances a final-observation buffer laid out like obs (num_envs * layout.agents slots), or NULL
 * to stop keeping final observations (the default after create). The buffer must outlive its use. */
OCEAN_API void ocean_set_final_obs(OceanHandle *h, void *final_obs);
/* Reset every instance; when reseed != 0, first seed instance i's RNG from (seed, i). */
OCEAN_API void ocean_reset(OceanHandle *h, int reseed, uint64_t seed);
/* Step every instance. Returns 0, or -(k+1) when the k-th int32 of the action buffer is out of range:
 * then nothing was stepped. */
OCEAN_API int64_t ocean_step(OceanHandle *h);
/* Copy the finished-episode sums (num_log values) into out and return the count; clears the sums. */
OCEAN_API double ocean_log(OceanHandle *h, double *out, int cap);
/* Pointer to the live accumulator (Python peeks at count cheaply). */
OCEAN_API const OceanLog *ocean_log_peek(const OceanHandle *h);
/* 0 on success, -1 on bad index / size / no renderer. */
OCEAN_API int ocean_render(const OceanHandle *h, int env_index, uint8_t *rgb, int width, int height);
OCEAN_API int ocean_render_ansi(const OceanHandle *h, int env_index, char *out, int cap);
/* Raw instance state (for tests that set a state explicitly); NULL on bad index. */
OCEAN_API void *ocean_env_state(OceanHandle *h, int env_index);
OCEAN_API void ocean_close(OceanHandle *h);

/* ------------------------------------------------------------------------------------------------------
 * Drawing helpers for render(): clipped, so any coordinates are safe.
 * ---------------------------------------------------------------------------------------------------- */
static inline void ocean_fill_rect(uint8_t *rgb, int width, int height, int x, int y, int w, int h,
                                   uint8_t r, uint8_t g, uint8_t b) {
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > width ? width : x + w, y1 = y + h > height ? height : y + h;
    for (int yy = y0; yy < y1; yy++) {
        uint8_t *p = rgb + ((size_t)yy * (size_t)width + (size_t)x0) * 3;
        for (int xx = x0; xx < x1; xx++, p += 3) {
            p[0] = r;
            p[1] = g;
            p[2] = b;
        }
    }
}

static inline void ocean_fill_circle(uint8_t *rgb, int width, int height, int cx, int cy, int radius,
                                     uint8_t r, uint8_t g, uint8_t b) {
    for (int dy = -radius; dy <= radius; dy++) {
        for (int dx = -radius; dx <= radius; dx++) {
            if (dx * dx + dy * dy <= radius * radius) ocean_fill_rect(rgb, width, height, cx + dx, cy + dy, 1, 1, r, g, b);
        }
    }
}

static inline int ocean_clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
static inline float ocean_clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

#ifdef __cplusplus
}
#endif
#endif /* OCEAN_H */
