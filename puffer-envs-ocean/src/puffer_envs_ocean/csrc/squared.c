/* squared: move to a target on a grid. The sanity check of the suite and the template for new envs.
 *
 * The agent starts in the centre of a size x size grid; a target sits on a random other cell.
 * Actions: 0 stay, 1 up, 2 down, 3 left, 4 right. Reaching the target: reward +1, terminal.
 * Walking off the grid: reward -1, terminal. After max_steps steps: truncation (reward 0).
 * Observation: the grid as uint8 (0 empty, 1 agent, 2 target).
 */
#include "ocean.h"

enum { SQ_EMPTY = 0, SQ_AGENT = 1, SQ_TARGET = 2 };
enum { SQ_P_SIZE = 0, SQ_P_MAX_STEPS = 1, SQ_NUM_PARAMS };

static const OceanParam SQ_PARAMS[SQ_NUM_PARAMS] = {
    {"size", 11, 3, 63, 1, "side of the square grid (cells)"},
    {"max_steps", 50, 1, 100000, 1, "steps before the episode is truncated"},
};

static const char *const SQ_LOG[] = {"episode_return", "episode_length", "score"};
#define SQ_NUM_LOG 3
#define SQ_CELL_PX 16

typedef struct Squared {
    OceanHeader h; /* must be first */
    int size, max_steps;
    int ax, ay, tx, ty;
    int tick;
    float episode_return;
} Squared;

static void sq_layout(const double *params, OceanLayout *out) {
    int size = (int)params[SQ_P_SIZE];
    out->state_bytes = sizeof(Squared);
    out->agents = 1;
    out->obs_ndim = 2;
    out->obs_shape[0] = size;
    out->obs_shape[1] = size;
    out->render_width = size * SQ_CELL_PX;
    out->render_height = size * SQ_CELL_PX;
}

static void sq_init(void *env, const double *params) {
    Squared *s = env;
    s->size = (int)params[SQ_P_SIZE];
    s->max_steps = (int)params[SQ_P_MAX_STEPS];
}

static void sq_reset(void *env) {
    Squared *s = env;
    uint8_t *obs = s->h.obs;
    int n = s->size;
    memset(obs, SQ_EMPTY, (size_t)n * (size_t)n);
    s->ax = n / 2;
    s->ay = n / 2;
    /* A target on any cell but the agent's: draw among n*n-1 cells and skip the centre. */
    int centre = s->ay * n + s->ax;
    int cell = (int)ocean_rand_below(&s->h.rng, (uint32_t)(n * n - 1));
    if (cell >= centre) cell++;
    s->tx = cell % n;
    s->ty = cell / n;
    obs[centre] = SQ_AGENT;
    obs[cell] = SQ_TARGET;
    s->tick = 0;
    s->episode_return = 0.0f;
}

static void sq_end(Squared *s, float reward, int terminal, float score) {
    s->h.rewards[0] = reward;
    s->h.terminals[0] = (uint8_t)terminal;
    s->h.truncations[0] = (uint8_t)!terminal;
    s->episode_return += reward;
    float values[SQ_NUM_LOG] = {s->episode_return, (float)s->tick, score};
    ocean_log_episode(&s->h, values, SQ_NUM_LOG);
    sq_reset(s);
}

static void sq_step(void *env) {
    static const int DX[5] = {0, 0, 0, -1, 1};
    static const int DY[5] = {0, -1, 1, 0, 0};
    Squared *s = env;
    uint8_t *obs = s->h.obs;
    int n = s->size;
    int a = s->h.actions[0]; /* in [0, 5): checked by the dispatcher */
    s->tick++;
    int x = s->ax + DX[a], y = s->ay + DY[a];
    if (x < 0 || y < 0 || x >= n || y >= n) {
        sq_end(s, -1.0f, 1, 0.0f);
        return;
    }
    obs[s->ay * n + s->ax] = SQ_EMPTY;
    s->ax = x;
    s->ay = y;
    if (x == s->tx && y == s->ty) {
        sq_end(s, 1.0f, 1, 1.0f);
        return;
    }
    obs[y * n + x] = SQ_AGENT;
    if (s->tick >= s->max_steps) sq_end(s, 0.0f, 0, 0.0f);
}

static void sq_render(const void *env, uint8_t *rgb, int width, int height) {
    const Squared *s = env;
    ocean_fill_rect(rgb, width, height, 0, 0, width, height, 24, 24, 32);
    for (int i = 0; i <= s->size; i++) {
        ocean_fill_rect(rgb, width, height, i * SQ_CELL_PX, 0, 1, height, 60, 60, 72);
        ocean_fill_rect(rgb, width, height, 0, i * SQ_CELL_PX, width, 1, 60, 60, 72);
    }
    ocean_fill_rect(rgb, width, height, s->tx * SQ_CELL_PX + 2, s->ty * SQ_CELL_PX + 2, SQ_CELL_PX - 3,
                    SQ_CELL_PX - 3, 230, 60, 60);
    ocean_fill_rect(rgb, width, height, s->ax * SQ_CELL_PX + 3, s->ay * SQ_CELL_PX + 3, SQ_CELL_PX - 5,
                    SQ_CELL_PX - 5, 80, 200, 255);
}

static int sq_render_ansi(const void *env, char *out, int cap) {
    const Squared *s = env;
    int k = 0;
    for (int y = 0; y < s->size; y++) {
        for (int x = 0; x < s->size; x++) {
            char c = (x == s->ax && y == s->ay) ? 'A' : (x == s->tx && y == s->ty) ? 'T' : '.';
            if (k < cap - 1) out[k++] = c;
        }
        if (k < cap - 1) out[k++] = '\n';
    }
    out[k] = '\0';
    return k;
}

const OceanEnvDef ocean_env_squared = {
    .abi_version = OCEAN_ABI_VERSION,
    .name = "squared",
    .obs_dtype = OCEAN_OBS_U8,
    .obs_low = 0,
    .obs_high = 2,
    .act_dims = 0,
    .act_n = {5},
    .num_params = SQ_NUM_PARAMS,
    .params = SQ_PARAMS,
    .num_log = SQ_NUM_LOG,
    .log_names = SQ_LOG,
    .layout = sq_layout,
    .init = sq_init,
    .reset = sq_reset,
    .step = sq_step,
    .render = sq_render,
    .render_ansi = sq_render_ansi,
};
