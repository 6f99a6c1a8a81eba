/* ocean_play: play an exported policy on an ocean env in pure C, no Python, no torch.
 *
 *   ocean_play POLICY.bin [--episodes N] [--seed S] [--deterministic] [--num-envs N] [--max-steps N]
 *                         [--env NAME] [--param KEY=VALUE]... [--frames DIR]
 *
 * `puffer export` compiles this file with the inference library (puffer-kernels' infer.c) and links it
 * against the installed libocean; the env and its parameters default to the ones the policy was trained
 * with (its metadata: env_id, env.KEY). It plays until N episodes have finished, counting exactly the first
 * N the way `puffer eval` does (several copies may finish in one step; the last step's mean stands for the
 * ones taken), and prints the mean of every logged statistic. With --frames DIR it writes instance 0's
 * frames as binary PPM files (DIR/frame_000000.ppm, ...).
 *
 * All buffers are allocated once before the first step; nothing is allocated while playing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infer.h"
#include "ocean.h"

#define ERR_LEN 512
#define MAX_OVERRIDES 32

typedef struct Options {
    const char *policy, *env, *frames;
    long long episodes, max_steps, num_envs;
    unsigned long long seed;
    int deterministic;
    int num_overrides;
    const char *override_key[MAX_OVERRIDES];
    double override_value[MAX_OVERRIDES];
    char override_buf[MAX_OVERRIDES][64];
} Options;

static int usage(const char *why) {
    if (why) fprintf(stderr, "ocean_play: error: %s\n", why);
    fprintf(stderr,
            "usage: ocean_play POLICY.bin [--episodes N (10)] [--seed S (0)] [--deterministic]\n"
            "                  [--num-envs N] [--max-steps N (10000)] [--env NAME] [--param KEY=VALUE]...\n"
            "                  [--frames DIR]\n"
            "The env, its parameters and --num-envs default to those recorded in the policy file.\n");
    return 2;
}

static int parse_ll(const char *flag, const char *text, long long min, long long *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < min) {
        fprintf(stderr, "ocean_play: error: %s needs a whole number >= %lld, got '%s'\n", flag, min, text);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, Options *o) {
    memset(o, 0, sizeof *o);
    o->episodes = 10;
    o->max_steps = 10000;
    o->num_envs = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--deterministic") == 0) {
            o->deterministic = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(NULL);
            exit(0);
        } else if (a[0] == '-' && a[1] == '-') {
            if (next == NULL) {
                fprintf(stderr, "ocean_play: error: %s needs a value\n", a);
                return -1;
            }
            i++;
            if (strcmp(a, "--episodes") == 0) {
                if (parse_ll(a, next, 1, &o->episodes)) return -1;
            } else if (strcmp(a, "--max-steps") == 0) {
                if (parse_ll(a, next, 1, &o->max_steps)) return -1;
            } else if (strcmp(a, "--num-envs") == 0) {
                if (parse_ll(a, next, 1, &o->num_envs)) return -1;
            } else if (strcmp(a, "--seed") == 0) {
                long long s;
                if (parse_ll(a, next, 0, &s)) return -1;
                o->seed = (unsigned long long)s;
            } else if (strcmp(a, "--env") == 0) {
                o->env = next;
            } else if (strcmp(a, "--frames") == 0) {
                o->frames = next;
            } else if (strcmp(a, "--param") == 0) {
                const char *eq = strchr(next, '=');
                size_t klen = eq ? (size_t)(eq - next) : 0;
                char *end = NULL;
                double v = eq ? strtod(eq + 1, &end) : 0.0;
                if (!eq || klen == 0 || klen >= 64 || end == eq + 1 || *end != '\0') {
                    fprintf(stderr, "ocean_play: error: --param needs KEY=NUMBER, got '%s'\n", next);
                    return -1;
                }
                if (o->num_overrides == MAX_OVERRIDES) {
                    fprintf(stderr, "ocean_play: error: at most %d --param\n", MAX_OVERRIDES);
                    return -1;
                }
                memcpy(o->override_buf[o->num_overrides], next, klen);
                o->override_buf[o->num_overrides][klen] = '\0';
                o->override_key[o->num_overrides] = o->override_buf[o->num_overrides];
                o->override_value[o->num_overrides++] = v;
            } else {
                fprintf(stderr, "ocean_play: error: unknown option %s\n", a);
                return -1;
            }
        } else if (o->policy == NULL) {
            o->policy = a;
        } else {
            fprintf(stderr, "ocean_play: error: unexpected argument '%s'\n", a);
            return -1;
        }
    }
    if (o->policy == NULL) {
        fprintf(stderr, "ocean_play: error: no policy file given\n");
        return -1;
    }
    return 0;
}

/* The model's observation and action layout must be the env's. */
static int check_fit(const PinfModel *m, const OceanEnvDef *def, const OceanLayout *lay, char *err, size_t n) {
    int64_t size = 1;
    for (int d = 0; d < lay->obs_ndim; d++) size *= lay->obs_shape[d];
    int dtype = def->obs_dtype == OCEAN_OBS_U8 ? PINF_OBS_U8 : PINF_OBS_F32;
    if (size != m->obs_size || dtype != m->obs_dtype) {
        snprintf(err, n, "the policy reads %lld %s observations, env %s writes %lld %s (other env params?)",
                 (long long)m->obs_size, m->obs_dtype == PINF_OBS_U8 ? "uint8" : "float32", def->name,
                 (long long)size, dtype == PINF_OBS_U8 ? "uint8" : "float32");
        return -1;
    }
    int dims = def->act_dims == 0 ? 1 : def->act_dims;
    int fits = m->act_kind == PINF_ACT_CATEGORICAL && m->act_dims == dims;
    for (int d = 0; fits && d < dims; d++) fits = m->act_n[d] == def->act_n[d] && m->act_start[d] == 0;
    if (!fits) {
        snprintf(err, n, "the policy's actions do not fit env %s (%d categorical dims expected)", def->name, dims);
        return -1;
    }
    return 0;
}

static int write_ppm(const char *dir, long long index, const uint8_t *rgb, int w, int h) {
    char path[4096];
    snprintf(path, sizeof path, "%s/frame_%06lld.ppm", dir, index);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "ocean_play: error: cannot write %s (does the folder exist?)\n", path);
        return -1;
    }
    fprintf(f, "P6\n%d %d\n255\n", w, h);
    size_t bytes = (size_t)w * (size_t)h * 3;
    int ok = fwrite(rgb, 1, bytes, f) == bytes;
    ok = (fclose(f) == 0) && ok;
    if (!ok) fprintf(stderr, "ocean_play: error: writing %s failed\n", path);
    return ok ? 0 : -1;
}

int main(int argc, char **argv) {
    Options o;
    if (parse_args(argc, argv, &o) != 0) return usage(NULL);
    char err[ERR_LEN] = {0};
    /* Every buffer is released at `cleanup`, on success and on error alike. */
    int status = 2;
    OceanHandle *h = NULL;
    void *obs = NULL;
    int32_t *actions = NULL;
    float *rewards = NULL, *state = NULL, *out = NULL, *workspace = NULL;
    uint8_t *terminals = NULL, *truncations = NULL, *masks = NULL, *rgb = NULL;
    PinfModel *model = calloc(1, sizeof *model);
    if (model == NULL || pinf_model_load(model, o.policy, err, sizeof err) != 0) {
        fprintf(stderr, "ocean_play: error: %s\n", model ? err : "out of memory");
        free(model);
        return 2;
    }

    /* The env and its params: command line, else the policy's metadata, else the env's defaults. */
    char env_name[256] = {0}, value[256];
    if (o.env) {
        snprintf(env_name, sizeof env_name, "%s", o.env);
    } else if (pinf_model_meta(model, "env_id", value, sizeof value) == 0) {
        snprintf(env_name, sizeof env_name, "%s", strncmp(value, "ocean/", 6) == 0 ? value + 6 : value);
    } else {
        fprintf(stderr, "ocean_play: error: the policy records no env_id; pass --env NAME\n");
        goto cleanup;
    }
    if (strncmp(env_name, "ocean/", 6) == 0) memmove(env_name, env_name + 6, strlen(env_name + 6) + 1);
    const OceanEnvDef *def = ocean_env_find(env_name);
    if (def == NULL) {
        fprintf(stderr, "ocean_play: error: no ocean env named '%s'; this libocean has:", env_name);
        for (int i = 0; i < ocean_env_count(); i++) fprintf(stderr, " %s", ocean_env_at(i)->name);
        fprintf(stderr, "\n");
        goto cleanup;
    }
    double params[OCEAN_MAX_PARAMS];
    for (int i = 0; i < def->num_params; i++) {
        char key[128];
        params[i] = def->params[i].default_value;
        snprintf(key, sizeof key, "env.%s", def->params[i].name);
        if (pinf_model_meta(model, key, value, sizeof value) == 0) params[i] = strtod(value, NULL);
    }
    for (int k = 0; k < o.num_overrides; k++) {
        int found = 0;
        for (int i = 0; i < def->num_params; i++)
            if (strcmp(def->params[i].name, o.override_key[k]) == 0) {
                params[i] = o.override_value[k];
                found = 1;
            }
        if (!found) {
            fprintf(stderr, "ocean_play: error: env %s has no parameter '%s'; it has:", def->name, o.override_key[k]);
            for (int i = 0; i < def->num_params; i++) fprintf(stderr, " %s", def->params[i].name);
            fprintf(stderr, "\n");
            goto cleanup;
        }
    }
    if (o.num_envs < 0) {
        o.num_envs = 1;
        if (pinf_model_meta(model, "env.num_envs", value, sizeof value) == 0) {
            long long n = strtoll(value, NULL, 10);
            if (n >= 1) o.num_envs = n;
        }
    }
    if (o.num_envs > (1 << 20)) {
        fprintf(stderr, "ocean_play: error: --num-envs %lld is more than %d\n", o.num_envs, 1 << 20);
        goto cleanup;
    }
    OceanLayout lay;
    if (ocean_layout(def, params, def->num_params, &lay, err, sizeof err) != 0) {
        fprintf(stderr, "ocean_play: error: %s\n", err);
        goto cleanup;
    }
    if (check_fit(model, def, &lay, err, sizeof err) != 0) {
        fprintf(stderr, "ocean_play: error: %s\n", err);
        goto cleanup;
    }
    if (o.frames && (lay.render_width <= 0 || lay.render_height <= 0)) {
        fprintf(stderr, "ocean_play: error: env %s does not render; drop --frames\n", def->name);
        goto cleanup;
    }

    /* Every buffer, once. */
    int64_t agents = o.num_envs * lay.agents;
    int act_ints = def->act_dims == 0 ? 1 : def->act_dims;
    size_t obs_elem = def->obs_dtype == OCEAN_OBS_U8 ? 1 : sizeof(float);
    obs = calloc((size_t)(agents * model->obs_size), obs_elem);
    actions = calloc((size_t)(agents * act_ints), sizeof(int32_t));
    rewards = calloc((size_t)agents, sizeof(float));
    terminals = calloc((size_t)agents, 1);
    truncations = calloc((size_t)agents, 1);
    masks = calloc((size_t)agents, 1);
    state = calloc((size_t)(agents * (model->state_size ? model->state_size : 1)), sizeof(float));
    out = calloc((size_t)(agents * model->out_size), sizeof(float));
    int64_t ws_floats = pinf_workspace_floats(model);
    workspace = calloc((size_t)ws_floats, sizeof(float));
    rgb = o.frames ? calloc((size_t)lay.render_width * (size_t)lay.render_height * 3, 1) : NULL;
    if (!obs || !actions || !rewards || !terminals || !truncations || !masks || !state || !out || !workspace ||
        (o.frames && !rgb)) {
        fprintf(stderr, "ocean_play: error: out of memory for %lld agents\n", (long long)agents);
        goto cleanup;
    }
    h = ocean_create(def->name, params, def->num_params, (int)o.num_envs, o.seed, obs, actions,
                                  rewards, terminals, truncations, masks, err, sizeof err);
    if (h == NULL) {
        fprintf(stderr, "ocean_play: error: %s\n", err);
        goto cleanup;
    }
    ocean_reset(h, 1, o.seed);
    PinfRng rng;
    pinf_rng_seed(&rng, o.seed);

    double sums[OCEAN_MAX_LOG], totals[OCEAN_MAX_LOG] = {0};
    long long done = 0, steps = 0, frame = 0;
    status = 0;
    if (o.frames) {
        ocean_render(h, 0, rgb, lay.render_width, lay.render_height);
        if (write_ppm(o.frames, frame++, rgb, lay.render_width, lay.render_height) != 0) status = 2;
    }
    clock_t start = clock();
    while (status == 0 && done < o.episodes && steps < o.max_steps) {
        if (pinf_forward(model, obs, agents, model->state_size ? state : NULL, out, workspace, ws_floats, err,
                         sizeof err) != 0 ||
            pinf_act(model, out, agents, o.deterministic, &rng, actions, err, sizeof err) != 0) {
            fprintf(stderr, "ocean_play: error: %s\n", err);
            status = 1;
            break;
        }
        int64_t bad = ocean_step(h);
        if (bad != 0) {
            fprintf(stderr, "ocean_play: error: action %lld out of range\n", (long long)(-bad - 1));
            status = 1;
            break;
        }
        steps++;
        if (model->state_size) /* a fresh memory for every new episode, as in training */
            for (int64_t a = 0; a < agents; a++)
                if (terminals[a] || truncations[a])
                    memset(state + a * model->state_size, 0, (size_t)model->state_size * sizeof(float));
        double count = ocean_log(h, sums, OCEAN_MAX_LOG);
        if (count > 0) {
            double take = (double)(o.episodes - done) < count ? (double)(o.episodes - done) : count;
            for (int k = 0; k < def->num_log; k++) totals[k] += sums[k] / count * take;
            done += (long long)take;
        }
        if (o.frames) {
            memset(rgb, 0, (size_t)lay.render_width * (size_t)lay.render_height * 3);
            ocean_render(h, 0, rgb, lay.render_width, lay.render_height);
            if (write_ppm(o.frames, frame++, rgb, lay.render_width, lay.render_height) != 0) status = 2;
        }
    }
    double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    if (status == 0) {
        printf("ocean/%s: %lld episode(s) in %lld steps:", def->name, done, steps);
        /* statistics in name order, as `puffer eval` prints them */
        int order[OCEAN_MAX_LOG];
        for (int k = 0; k < def->num_log; k++) order[k] = k;
        for (int i = 1; i < def->num_log; i++)
            for (int j = i; j > 0 && strcmp(def->log_names[order[j]], def->log_names[order[j - 1]]) < 0; j--) {
                int t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        for (int k = 0; done > 0 && k < def->num_log; k++)
            printf("%s %s %.6g", k ? "," : "", def->log_names[order[k]], totals[order[k]] / (double)done);
        if (done == 0) printf(" no episode finished");
        printf("\n");
        if (done < o.episodes) printf("only %lld of %lld episode(s) finished within --max-steps %lld\n", done,
                                      o.episodes, o.max_steps);
        if (o.frames) printf("wrote %lld frames to %s\n", frame, o.frames);
        fprintf(stderr, "%lld agent steps in %.3f s of CPU time (%s, %lld agents)\n", steps * agents, seconds,
                o.deterministic ? "deterministic" : "sampled", (long long)agents);
    }
cleanup:
    if (h) ocean_close(h);
    pinf_model_free(model);
    free(model);
    free(obs);
    free(actions);
    free(rewards);
    free(terminals);
    free(truncations);
    free(masks);
    free(state);
    free(out);
    free(workspace);
    free(rgb);
    return status;
}
