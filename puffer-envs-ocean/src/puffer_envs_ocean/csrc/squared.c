/* squared: walk to a target on a grid (PufferLib 3.0's Squared rules). The suite's sanity check and the
 * template for new envs.
 *
 * A size x size grid; the agent starts on the centre cell (row size/2, column size/2), the target on a cell
 * drawn uniformly among all the others. Actions: 0 stay, 1 down (row + 1), 2 up (row - 1), 3 left, 4 right.
 * Walking off the grid ends the episode (the move is not blocked): reward -1, terminal. Reaching the target:
 * +1, terminal. The episode has 3 * size free steps; step 3 * size + 1 ends it with -1 and a terminal (a
 * failed episode by the reference's rules, not a truncation), even if that step lands on the target.
 * Observation: the grid, row-major, flat uint8 [size * size] (0 empty, 1 agent, 2 target).
 * Logs: perf (1 on success), score (the final reward, +1 or -1), episode_return, episode_length (steps).
 */
#include "ocean.h"

enum { SQ_EMPTY = 0, SQ_AGENT = 1, SQ_TARGET = 2 };
enum { SQ_P_SIZE = 0, SQ_NUM_PARAMS };

static const OceanParam SQ_PARAMS[SQ_NUM_PARAMS] = {
    {"size", 11, 3, 63, 1, "side of the square grid (cells); the episode fails after 3 * size steps"},
};

static const char *const SQ_LOG[] = {"perf", "score", "episode_return", "episode_length"};
#define SQ_NUM_LOG 4
#define SQ_CELL_PX 16

typedef struct Squared {
    OceanHeader h; /* must be first */
    int size, tiles; /* tiles = size * size */
    int limit;       /* 3 * size: the last step that may still succeed */
    int pos;         /* the agent's cell, row * size + col */
    int tick;        /* (between pos and col: adjacent, gcc packs them into a slower SIMD pair) */
    int col;         /* the agent's column */
    int target;      /* the target's cell */
    int move[5];     /* cell offset of each action */
} Squared;

static void sq_layout(const double *params, OceanLayout *out) {
    int size = (int)params[SQ_P_SIZE];
    out->state_bytes = sizeof(Squared);
    out->agents = 1;
    out->obs_ndim = 1;
    out->obs_shape[0] = size * size;
    out->render_width = size * SQ_CELL_PX;
    out->render_height = size * SQ_CELL_PX;
}

static void sq_init(void *env, const double *params) {
    Squared *s = env;
    int n = (int)params[SQ_P_SIZE];
    s->size = n;
    s->tiles = n * n;
    s->limit = 3 * n;
    s->move[0] = 0;
    s->move[1] = n;
    s->move[2] = -n;
    s->move[3] = -1;
    s->move[4] = 1;
}

/* Place agent and target on a grid whose cells are all empty. */
static void sq_place(Squared *s) {
    uint8_t *obs = s->h.obs;
    int n = s->size;
    int centre = (n / 2) * n + n / 2;
    s->pos = centre;
    s->col = n / 2;
    /* Uniform among the n*n - 1 other cells: draw an index below n*n - 1 and step over the agent's cell. */
    int cell = (int)ocean_rand_below(&s->h.rng, (uint32_t)(s->tiles - 1));
    cell += cell >= centre;
    s->target = cell;
    obs[centre] = SQ_AGENT;
    obs[cell] = SQ_TARGET;
    s->tick = 0;
}

static void sq_reset(void *env) {
    Squared *s = env;
    memset(s->h.obs, SQ_EMPTY, (size_t)s->tiles);
    sq_place(s);
}

/* Log the finished episode, keep its final observation and start the next one. `pos` is where the agent
 * ended: off the grid (the final grid shows only the target) or on a cell (shown as the agent, also when it
 * is the target's cell, which the time limit can end on). The step has already cleared the agent's old
 * cell, so at most these two marks are left: clearing them is cheaper than wiping the grid. */
static void sq_end(Squared *s, float reward, int pos, int col) {
    uint8_t *obs = s->h.obs;
    s->h.rewards[0] = reward;
    s->h.terminals[0] = 1;
    /* The only non-zero reward of an episode is its last one, so return = score. */
    float values[SQ_NUM_LOG] = {reward > 0.0f ? 1.0f : 0.0f, reward, reward, (float)s->tick};
    ocean_log_episode(&s->h, values, SQ_NUM_LOG);
    int on_grid = (unsigned)pos < (unsigned)s->tiles && (unsigned)col < (unsigned)s->size;
    if (on_grid) obs[pos] = SQ_AGENT;
    ocean_keep_final_obs(&s->h, 0);
    if (on_grid) obs[pos] = SQ_EMPTY;
    obs[s->target] = SQ_EMPTY;
    sq_place(s);
}

static void sq_step(void *env) {
    static const int DCOL[5] = {0, 0, 0, -1, 1};
    Squared *s = env;
    uint8_t *obs = s->h.obs;
    int a = s->h.actions[0]; /* in [0, 5): checked by the dispatcher */
    int pos = s->pos + s->move[a], col = s->col + DCOL[a];
    obs[s->pos] = SQ_EMPTY;
    s->tick++;
    /* Off the top or bottom leaves [0, tiles); off a side leaves [0, size) in the column (unsigned compares
     * catch negatives). One branch for the three failures: they are rare and all end the same way. */
    if (((unsigned)pos >= (unsigned)s->tiles) | ((unsigned)col >= (unsigned)s->size) | (s->tick > s->limit)) {
        sq_end(s, -1.0f, pos, col);
        return;
    }
    if (pos == s->target) {
        sq_end(s, 1.0f, pos, col);
        return;
    }
    s->pos = pos;
    s->col = col;
    obs[pos] = SQ_AGENT;
}

static void sq_render(const void *env, uint8_t *rgb, int width, int height) {
    const Squared *s = env;
    ocean_fill_rect(rgb, width, height, 0, 0, width, height, 24, 24, 32);
    for (int i = 0; i <= s->size; i++) {
        ocean_fill_rect(rgb, width, height, i * SQ_CELL_PX, 0, 1, height, 60, 60, 72);
        ocean_fill_rect(rgb, width, height, 0, i * SQ_CELL_PX, width, 1, 60, 60, 72);
    }
    int tx = s->target % s->size, ty = s->target / s->size;
    ocean_fill_rect(rgb, width, height, tx * SQ_CELL_PX + 2, ty * SQ_CELL_PX + 2, SQ_CELL_PX - 3,
                    SQ_CELL_PX - 3, 230, 60, 60);
    int row = s->pos / s->size;
    ocean_fill_rect(rgb, width, height, s->col * SQ_CELL_PX + 3, row * SQ_CELL_PX + 3, SQ_CELL_PX - 5,
                    SQ_CELL_PX - 5, 80, 200, 255);
}

static int sq_render_ansi(const void *env, char *out, int cap) {
    const Squared *s = env;
    int k = 0;
    for (int r = 0; r < s->size; r++) {
        for (int c = 0; c < s->size; c++) {
            int cell = r * s->size + c;
            char ch = cell == s->pos ? 'A' : cell == s->target ? 'T' : '.';
            if (k < cap - 1) out[k++] = ch;
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
