/* fuzz_all: runs every env of the dispatch table under AddressSanitizer + UBSan.
 *
 * For each env: random parameters (mostly valid, sometimes out of range / NaN / not whole, which must be
 * rejected), random num_envs, and at least `steps` random agent-steps, with some batches holding one
 * out-of-range action (which must be rejected whole). After every step the outputs are checked (finite,
 * inside the Box bounds, bools 0/1, never terminal and truncated at once). Also exercises reset, log,
 * render and render_ansi, and invalid calls of the API. Exits 1 on any contract violation; the sanitizers
 * abort on any report (-fno-sanitize-recover).
 *
 * Usage: ocean_fuzz [steps_per_env (default 1000000)] [seed (default 1)] [env name (default: all)]
 */
#include <stdio.h>
#include <stdlib.h>

#include "ocean.h"

static int failures = 0;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                  \
            fprintf(stderr, "\n");                         \
            failures++;                                    \
            return -1;                                     \
        }                                                  \
    } while (0)

typedef struct Buffers {
    void *obs;
    void *final_obs;  /* NULL in some rounds: envs must cope with final observations not being kept */
    void *final_seen; /* final_obs as last checked: rows of agents that did not finish must stay as they were */
    int32_t *actions;
    float *rewards;
    uint8_t *terminals, *truncations, *masks;
    size_t agents, obs_per_agent, act_ints, elem;
} Buffers;

static void free_buffers(Buffers *b) {
    free(b->obs);
    free(b->final_obs);
    free(b->final_seen);
    free(b->actions);
    free(b->rewards);
    free(b->terminals);
    free(b->truncations);
    free(b->masks);
}

static int alloc_buffers(Buffers *b, const OceanEnvDef *def, const OceanLayout *lay, int num_envs, int keep_final) {
    memset(b, 0, sizeof *b);
    b->agents = (size_t)num_envs * (size_t)lay->agents;
    b->obs_per_agent = 1;
    for (int d = 0; d < lay->obs_ndim; d++) b->obs_per_agent *= (size_t)lay->obs_shape[d];
    b->act_ints = def->act_dims == 0 ? 1 : (size_t)def->act_dims;
    b->elem = def->obs_dtype == OCEAN_OBS_F32 ? sizeof(float) : 1;
    /* exact sizes, so that ASan catches any write past an instance's slice of the last agent */
    b->obs = malloc(b->agents * b->obs_per_agent * b->elem);
    b->actions = calloc(b->agents * b->act_ints, sizeof(int32_t));
    b->rewards = malloc(b->agents * sizeof(float));
    b->terminals = malloc(b->agents);
    b->truncations = malloc(b->agents);
    b->masks = malloc(b->agents);
    if (!b->obs || !b->actions || !b->rewards || !b->terminals || !b->truncations || !b->masks) {
        free_buffers(b);
        return -1;
    }
    memset(b->obs, 0xAB, b->agents * b->obs_per_agent * b->elem);
    if (keep_final) {
        size_t bytes = b->agents * b->obs_per_agent * b->elem;
        b->final_obs = malloc(bytes);
        b->final_seen = malloc(bytes);
        if (!b->final_obs || !b->final_seen) {
            free_buffers(b);
            return -1;
        }
        memset(b->final_obs, 0xAB, bytes);
        memcpy(b->final_seen, b->final_obs, bytes);
    }
    return 0;
}

/* A random parameter value; *valid tells whether the dispatcher must accept it. */
static double random_param(OceanRng *r, const OceanParam *p, int *valid) {
    uint32_t pick = ocean_rand_below(r, 100);
    double span = p->max - p->min;
    if (pick < 4) {
        *valid = 0;
        return p->min - 1.0 - span * ocean_rand_double(r);
    }
    if (pick < 8) {
        *valid = 0;
        return p->max + 1.0 + span * ocean_rand_double(r);
    }
    if (pick < 9) {
        *valid = 0;
        return NAN;
    }
    if (pick < 10) {
        *valid = 0;
        return ocean_rand_below(r, 2) ? INFINITY : -INFINITY;
    }
    if (pick < 12 && p->integer && span >= 1.0) {
        *valid = 0;
        return p->min + 0.5;
    }
    *valid = 1;
    if (pick < 22) return p->min;
    if (pick < 32) return p->max;
    /* mostly small values: most envs' cost grows with their size parameters */
    double u = ocean_rand_double(r);
    double v = p->min + span * (pick < 80 ? u * u * u * u : u);
    if (p->integer) v = floor(v);
    if (v < p->min) v = p->min;
    if (v > p->max) v = p->max;
    return v;
}

static int check_outputs(const OceanEnvDef *def, const Buffers *b) {
    size_t n = b->agents * b->obs_per_agent;
    for (size_t k = 0; k < n; k++) {
        double v = def->obs_dtype == OCEAN_OBS_F32 ? (double)((const float *)b->obs)[k] : ((const uint8_t *)b->obs)[k];
        CHECK(!isnan(v) && v >= def->obs_low && v <= def->obs_high, "%s: obs[%zu] = %g outside [%g, %g]", def->name,
              k, v, def->obs_low, def->obs_high);
    }
    for (size_t a = 0; a < b->agents; a++) {
        CHECK(isfinite(b->rewards[a]), "%s: reward[%zu] not finite", def->name, a);
        CHECK(b->terminals[a] <= 1 && b->truncations[a] <= 1 && b->masks[a] <= 1, "%s: bool buffer not 0/1 at %zu",
              def->name, a);
        CHECK(!(b->terminals[a] && b->truncations[a]), "%s: agent %zu terminal and truncated", def->name, a);
    }
    return 0;
}

/* Final observations: rows of agents whose episode ended are inside the observation bounds; every other row
 * is exactly as before the step (an env writes them only when an episode ends). */
static int check_final_obs(const OceanEnvDef *def, Buffers *b) {
    if (!b->final_obs) return 0;
    size_t row = b->obs_per_agent * b->elem;
    for (size_t a = 0; a < b->agents; a++) {
        unsigned char *got = (unsigned char *)b->final_obs + a * row, *seen = (unsigned char *)b->final_seen + a * row;
        if (!b->terminals[a] && !b->truncations[a]) {
            CHECK(memcmp(got, seen, row) == 0, "%s: final obs of agent %zu written without an episode end",
                  def->name, a);
            continue;
        }
        for (size_t k = 0; k < b->obs_per_agent; k++) {
            double v = def->obs_dtype == OCEAN_OBS_F32 ? (double)((const float *)(void *)got)[k] : got[k];
            CHECK(!isnan(v) && v >= def->obs_low && v <= def->obs_high,
                  "%s: final obs of agent %zu, element %zu = %g outside [%g, %g]", def->name, a, k, v, def->obs_low,
                  def->obs_high);
        }
        memcpy(seen, got, row);
    }
    return 0;
}

static void random_actions(OceanRng *r, const OceanEnvDef *def, Buffers *b) {
    size_t n = b->agents * b->act_ints;
    for (size_t k = 0; k < n; k++) {
        b->actions[k] = (int32_t)ocean_rand_below(r, (uint32_t)def->act_n[k % b->act_ints]);
    }
}

static int fuzz_round(const OceanEnvDef *def, OceanRng *r, long long *steps_done, long long budget) {
    double params[OCEAN_MAX_PARAMS] = {0};
    int all_valid = 1;
    for (int i = 0; i < def->num_params; i++) {
        int valid = 1;
        params[i] = random_param(r, &def->params[i], &valid);
        all_valid &= valid;
    }
    char err[256];
    OceanLayout lay;
    int rc = ocean_layout(def, params, def->num_params, &lay, err, sizeof err);
    if (!all_valid) {
        CHECK(rc != 0, "%s: invalid params accepted by ocean_layout", def->name);
        /* create must refuse too, before touching the (dummy) buffers */
        uint8_t dummy[64];
        OceanHandle *h = ocean_create(def->name, params, def->num_params, 1, 1, dummy, (int32_t *)(void *)dummy,
                                      (float *)(void *)dummy, dummy, dummy, dummy, err, sizeof err);
        CHECK(h == NULL, "%s: invalid params accepted by ocean_create", def->name);
        return 0;
    }
    CHECK(rc == 0, "%s: valid params rejected: %s", def->name, err);
    int num_envs = 1 + (int)ocean_rand_below(r, 8);
    Buffers b;
    CHECK(alloc_buffers(&b, def, &lay, num_envs, ocean_rand_below(r, 4) != 0) == 0, "%s: out of memory for buffers",
          def->name);
    OceanHandle *h = ocean_create(def->name, params, def->num_params, num_envs, ocean_rand_u64(r), b.obs, b.actions,
                                  b.rewards, b.terminals, b.truncations, b.masks, err, sizeof err);
    if (!h) {
        free_buffers(&b);
        CHECK(0, "%s: ocean_create failed: %s", def->name, err);
    }
    ocean_set_final_obs(h, b.final_obs);
    int result = check_outputs(def, &b);
    size_t frame_bytes = (size_t)lay.render_width * (size_t)lay.render_height * 3;
    uint8_t *frame = frame_bytes ? malloc(frame_bytes) : NULL;
    char text[8192];
    long long calls = 1 + (long long)ocean_rand_below(r, 3000);
    /* many rounds per env, so that many parameter draws are covered even when an instance has many agents */
    long long round_end = *steps_done + (budget / 64 > 1000 ? budget / 64 : 1000);
    for (long long c = 0; c < calls && result == 0 && *steps_done < budget && *steps_done < round_end; c++) {
        random_actions(r, def, &b);
        int inject = ocean_rand_below(r, 100) == 0;
        size_t bad = 0;
        if (inject) {
            bad = ocean_rand_below(r, (uint32_t)(b.agents * b.act_ints));
            int32_t limit = def->act_n[bad % b.act_ints];
            uint32_t kind = ocean_rand_below(r, 3);
            b.actions[bad] = kind == 0 ? -1 : (kind == 1 ? limit : (int32_t)(INT32_MIN + (int32_t)ocean_rand_below(r, 5)));
        }
        int64_t status = ocean_step(h);
        if (inject) {
            if (status != -(int64_t)bad - 1) {
                fprintf(stderr, "FAIL %s: bad action at %zu not reported (status %lld)\n", def->name, bad,
                        (long long)status);
                failures++;
                result = -1;
            }
            continue;
        }
        if (status != 0) {
            fprintf(stderr, "FAIL %s: valid actions rejected (status %lld)\n", def->name, (long long)status);
            failures++;
            result = -1;
            break;
        }
        *steps_done += (long long)b.agents; /* agent-steps: a multi-agent instance does more per call */
        result = check_outputs(def, &b);
        if (result == 0) result = check_final_obs(def, &b);
        if (c % 97 == 0) {
            double sums[OCEAN_MAX_LOG];
            double count = ocean_log(h, sums, OCEAN_MAX_LOG);
            for (int k = 0; k < def->num_log && count > 0; k++) {
                if (!isfinite(sums[k])) {
                    fprintf(stderr, "FAIL %s: log %s not finite\n", def->name, def->log_names[k]);
                    failures++;
                    result = -1;
                }
            }
        }
        if (c % 251 == 0) {
            int index = (int)ocean_rand_below(r, (uint32_t)num_envs);
            if (frame && ocean_render(h, index, frame, lay.render_width, lay.render_height) != 0) {
                fprintf(stderr, "FAIL %s: render failed\n", def->name);
                failures++;
                result = -1;
            }
            if (def->render_ansi) {
                int cap = ocean_rand_below(r, 2) ? (int)sizeof text : 1 + (int)ocean_rand_below(r, 16);
                int n = ocean_render_ansi(h, index, text, cap);
                if (n < 0 || n >= cap || text[n] != '\0') {
                    fprintf(stderr, "FAIL %s: render_ansi returned %d for cap %d\n", def->name, n, cap);
                    failures++;
                    result = -1;
                }
            }
            /* wrong sizes and indices must be refused, not drawn */
            if (frame && (ocean_render(h, num_envs, frame, lay.render_width, lay.render_height) == 0 ||
                          ocean_render(h, 0, frame, lay.render_width + 1, lay.render_height) == 0)) {
                fprintf(stderr, "FAIL %s: render accepted a bad index or size\n", def->name);
                failures++;
                result = -1;
            }
        }
        if (c % 1009 == 1008) ocean_reset(h, (int)ocean_rand_below(r, 2), ocean_rand_u64(r));
    }
    free(frame);
    ocean_close(h);
    free_buffers(&b);
    return result;
}

static int fuzz_api(void) {
    char err[128];
    uint8_t dummy[64];
    float *f = (float *)(void *)dummy;
    int32_t *a = (int32_t *)(void *)dummy;
    CHECK(ocean_env_find("no_such_env") == NULL && ocean_env_find(NULL) == NULL, "find accepts bad names");
    CHECK(ocean_env_at(-1) == NULL && ocean_env_at(ocean_env_count()) == NULL, "env_at accepts bad indices");
    CHECK(ocean_create("no_such_env", NULL, 0, 1, 0, dummy, a, f, dummy, dummy, dummy, err, sizeof err) == NULL,
          "create accepts an unknown env");
    for (int i = 0; i < ocean_env_count(); i++) {
        const OceanEnvDef *def = ocean_env_at(i);
        double params[OCEAN_MAX_PARAMS] = {0};
        for (int k = 0; k < def->num_params; k++) params[k] = def->params[k].default_value;
        CHECK(ocean_check_params(def, params, def->num_params, err, sizeof err) == 0, "%s: defaults invalid: %s",
              def->name, err);
        CHECK(ocean_create(def->name, params, def->num_params + 1, 1, 0, dummy, a, f, dummy, dummy, dummy, err,
                           sizeof err) == NULL,
              "%s: wrong param count accepted", def->name);
        CHECK(ocean_create(def->name, params, def->num_params, 0, 0, dummy, a, f, dummy, dummy, dummy, err,
                           sizeof err) == NULL,
              "%s: num_envs 0 accepted", def->name);
        CHECK(ocean_create(def->name, params, def->num_params, 1, 0, NULL, a, f, dummy, dummy, dummy, err,
                           sizeof err) == NULL,
              "%s: NULL buffer accepted", def->name);
        CHECK(def->num_log <= OCEAN_MAX_LOG && def->num_params <= OCEAN_MAX_PARAMS, "%s: table too big", def->name);
        int has_return = 0, has_length = 0;
        for (int k = 0; k < def->num_log; k++) {
            has_return |= strcmp(def->log_names[k], "episode_return") == 0;
            has_length |= strcmp(def->log_names[k], "episode_length") == 0;
        }
        CHECK(has_return && has_length, "%s: log_names lack episode_return/episode_length", def->name);
    }
    ocean_step(NULL);
    ocean_set_final_obs(NULL, NULL);
    ocean_reset(NULL, 0, 0);
    ocean_close(NULL);
    CHECK(ocean_render(NULL, 0, dummy, 1, 1) != 0 && ocean_render_ansi(NULL, 0, err, 8) != 0, "NULL handle drawn");
    return 0;
}

int main(int argc, char **argv) {
    long long budget = argc > 1 ? atoll(argv[1]) : 1000000LL;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    const char *only = argc > 3 ? argv[3] : NULL;
    fuzz_api();
    int tested = 0;
    for (int i = 0; i < ocean_env_count(); i++) {
        const OceanEnvDef *def = ocean_env_at(i);
        if (only && strcmp(only, def->name) != 0) continue;
        OceanRng r = {seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(i + 1))};
        long long steps = 0, rounds = 0, rejected_failures = failures;
        while (steps < budget && failures == rejected_failures) {
            fuzz_round(def, &r, &steps, budget);
            rounds++;
        }
        printf("%-10s %10lld steps %6lld rounds %s\n", def->name, steps, rounds, failures ? "FAILED" : "ok");
        fflush(stdout);
        tested++;
    }
    if (tested == 0) {
        fprintf(stderr, "no env named %s\n", only ? only : "(any)");
        return 2;
    }
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("all %d env(s) clean\n", tested);
    return 0;
}
