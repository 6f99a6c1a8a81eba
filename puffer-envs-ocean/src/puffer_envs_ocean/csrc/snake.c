// snake: many snakes (one agent each) share one big grid with food and corpses (PufferLib 3.0's rules).
//
// The grid is `width x height` cells including a wall border `vision` cells thick, so the view window
// centred on any head never leaves the array. A cell holds one byte, which is also what agents observe:
// 0 empty, 1 food, 2 corpse, 3 wall, 4..7 a snake's colour. Bodies need no per-snake ring buffer: every
// body cell but the head keeps, in the parallel `link` array, the direction towards the next segment
// (towards the head), so the tail can follow the body. An instance is 2 bytes per cell plus 24 per snake.
#include "ocean.h"

enum { SN_EMPTY = 0, SN_FOOD = 1, SN_CORPSE = 2, SN_WALL = 3, SN_COLOR0 = 4, SN_MAX_CODE = 7 };
enum { SN_UP = 0, SN_DOWN = 1, SN_LEFT = 2, SN_RIGHT = 3 };  // d ^ 1 is the opposite of d

typedef struct SnakeAgent {
    int32_t head, tail;  // grid cells
    int32_t len;         // 0: off the grid (no free cell when it had to respawn); it tries again each step
    int32_t steps;       // of the current episode
    float ret;
    uint8_t color;
    uint8_t heading;     // direction of the last move: the neck lies behind it (when len >= 2)
} SnakeAgent;

typedef struct Snake {
    OceanHeader h;  // must be first
    // Parameters.
    int width, height, num_snakes, num_food, vision, max_len, corpses;
    float reward_food, reward_corpse, reward_death;
    // Derived.
    int side, inner_w, inner_h, food_owed;
    int delta[4];
    uint8_t* grid;  // width * height cell codes
    uint8_t* link;  // width * height: direction to the next segment; read for body cells only
    SnakeAgent snakes[];  // num_snakes, then grid, then link (see sn_bytes)
} Snake;

enum {
    SN_P_WIDTH = 0, SN_P_HEIGHT, SN_P_SNAKES, SN_P_FOOD, SN_P_VISION, SN_P_CORPSE, SN_P_REWARD_FOOD,
    SN_P_REWARD_CORPSE, SN_P_REWARD_DEATH, SN_P_MAX_LEN, SN_NUM_PARAMS
};

static const OceanParam SN_PARAMS[SN_NUM_PARAMS] = {
    {"width", 640, 4, 2048, 1, "grid width in cells, wall border included (at least 2*vision+2)"},
    {"height", 360, 4, 2048, 1, "grid height in cells, wall border included (at least 2*vision+2)"},
    {"num_snakes", 256, 1, 4096, 1, "snakes (agents) per grid"},
    {"num_food", 4096, 0, 262144, 1, "food on the grid: each one eaten is replaced at once"},
    {"vision", 5, 1, 15, 1, "view radius (each snake sees (2*vision+1)^2 cells) and wall thickness"},
    {"leave_corpse_on_death", 1, 0, 1, 1, "1: a dead snake leaves a corpse on every other body cell"},
    {"reward_food", 0.1, -100, 100, 0, "reward for eating food"},
    {"reward_corpse", 0.1, -100, 100, 0, "reward for eating a corpse cell"},
    {"reward_death", -1, -100, 100, 0, "reward on the step a snake dies"},
    {"max_snake_length", 1024, 1, 1 << 20, 1, "a snake grows only while shorter than max_snake_length - 1"},
};

static const char* const SN_LOG[] = {"perf", "score", "episode_return", "episode_length"};
#define SN_NUM_LOG 4

// The reference refuses grids too small for the wall border (Python raises); C only clamps, for safety.
static int sn_dim(double given, int vision) {
    int d = (int)given;
    return d < 2 * vision + 2 ? 2 * vision + 2 : d;
}

static size_t sn_bytes(int snakes, int w, int h) {
    return sizeof(Snake) + (size_t)snakes * sizeof(SnakeAgent) + 2 * (size_t)w * (size_t)h;
}

static int sn_cell_px(int w, int h) { return ocean_clampi(1280 / (w > h ? w : h), 1, 16); }

static void sn_layout(const double* params, OceanLayout* out) {
    int v = (int)params[SN_P_VISION];
    int w = sn_dim(params[SN_P_WIDTH], v), h = sn_dim(params[SN_P_HEIGHT], v);
    out->state_bytes = sn_bytes((int)params[SN_P_SNAKES], w, h);
    out->agents = (int)params[SN_P_SNAKES];
    out->obs_ndim = 2;
    out->obs_shape[0] = 2 * v + 1;
    out->obs_shape[1] = 2 * v + 1;
    out->render_width = w * sn_cell_px(w, h);
    out->render_height = h * sn_cell_px(w, h);
}

static void sn_init(void* env, const double* params) {
    Snake* e = env;
    e->vision = (int)params[SN_P_VISION];
    e->width = sn_dim(params[SN_P_WIDTH], e->vision);
    e->height = sn_dim(params[SN_P_HEIGHT], e->vision);
    e->num_snakes = (int)params[SN_P_SNAKES];
    e->num_food = (int)params[SN_P_FOOD];
    e->corpses = (int)params[SN_P_CORPSE];
    e->reward_food = (float)params[SN_P_REWARD_FOOD];
    e->reward_corpse = (float)params[SN_P_REWARD_CORPSE];
    e->reward_death = (float)params[SN_P_REWARD_DEATH];
    e->max_len = (int)params[SN_P_MAX_LEN];
    e->side = 2 * e->vision + 1;
    e->inner_w = e->width - 2 * e->vision;
    e->inner_h = e->height - 2 * e->vision;
    e->delta[SN_UP] = -e->width;
    e->delta[SN_DOWN] = e->width;
    e->delta[SN_LEFT] = -1;
    e->delta[SN_RIGHT] = 1;
    e->grid = (uint8_t*)(e->snakes + e->num_snakes);
    e->link = e->grid + (size_t)e->width * (size_t)e->height;
    // Snake 0 has colour 7, snake i > 0 colour 4 + i % 4 (only four colours: others look alike).
    for (int i = 0; i < e->num_snakes; i++) e->snakes[i].color = (uint8_t)(i == 0 ? SN_MAX_CODE : SN_COLOR0 + i % 4);
}

static inline int sn_free(uint8_t code) { return code == SN_EMPTY || code == SN_CORPSE; }

// A uniformly random empty-or-corpse cell inside the walls, -1 if there is none. Random probes as in the
// reference; if they all miss (a crowded grid) pick uniformly among the free cells by counting them.
static int sn_free_cell(Snake* e) {
    for (int k = 0; k < 64; k++) {
        uint64_t r = ocean_rand_u64(&e->h.rng);  // one draw gives row and column
        int y = (int)(((r >> 32) * (uint64_t)e->inner_h) >> 32);
        int x = (int)(((r & 0xFFFFFFFFu) * (uint64_t)e->inner_w) >> 32);
        int c = (y + e->vision) * e->width + x + e->vision;
        if (sn_free(e->grid[c])) return c;
    }
    int count = 0;
    for (int y = e->vision; y < e->height - e->vision; y++)
        for (int x = e->vision; x < e->width - e->vision; x++) count += sn_free(e->grid[y * e->width + x]);
    if (count == 0) return -1;
    int pick = (int)ocean_rand_below(&e->h.rng, (uint32_t)count);
    for (int y = e->vision; y < e->height - e->vision; y++)
        for (int x = e->vision; x < e->width - e->vision; x++)
            if (sn_free(e->grid[y * e->width + x]) && pick-- == 0) return y * e->width + x;
    return -1;  // unreachable
}

static int sn_add_food(Snake* e) {
    int c = sn_free_cell(e);
    if (c < 0) return 0;
    e->grid[c] = SN_FOOD;
    return 1;
}

// New episode for snake i, length 1 on a random free cell. Returns 0 when the grid has no room.
static int sn_place(Snake* e, int i) {
    SnakeAgent* s = &e->snakes[i];
    s->steps = 0;
    s->ret = 0.f;
    s->len = 0;
    int c = sn_free_cell(e);
    if (c < 0) return 0;
    s->head = s->tail = c;
    s->len = 1;
    e->grid[c] = s->color;
    return 1;
}

// Take snake i off the grid. With corpses on, counting from the tail (0) every odd segment becomes a
// corpse, so the tail is always cleared and the head stays only when the length is even.
static void sn_remove(Snake* e, int i, int corpses) {
    SnakeAgent* s = &e->snakes[i];
    int c = s->tail;
    for (int j = 0; j < s->len; j++) {
        int next = j + 1 < s->len ? c + e->delta[e->link[c]] : c;
        e->grid[c] = (uint8_t)((corpses && (j & 1)) ? SN_CORPSE : SN_EMPTY);
        c = next;
    }
    s->len = 0;
}

static inline void sn_window(uint8_t* restrict dst, const uint8_t* restrict src, size_t stride, int side);

// Final observation of snake i, which is dying: the view around its head (its body still on the grid, the
// cell that killed it next to the head), written into its slot before the body is removed. The slot is
// rewritten with the respawned snake's view at the end of the step. Cold: deaths are rare.
static OCEAN_COLD void sn_keep_final_obs(Snake* e, int i) {
    size_t n = (size_t)e->side * (size_t)e->side;
    const uint8_t* corner = e->grid + (e->snakes[i].head - (e->vision * e->width + e->vision));
    uint8_t* slot = (uint8_t*)e->h.obs + (size_t)i * n;
    if (e->side == 11) sn_window(slot, corner, (size_t)e->width, 11);  // the default: constant-size copies
    else sn_window(slot, corner, (size_t)e->width, e->side);
    ocean_keep_final_obs(&e->h, i);
}

static void sn_die(Snake* e, int i) {
    SnakeAgent* s = &e->snakes[i];
    sn_keep_final_obs(e, i);
    e->h.rewards[i] = e->reward_death;
    e->h.terminals[i] = 1;
    s->ret += e->reward_death;
    float score = (float)s->len;
    float values[SN_NUM_LOG] = {score / (float)s->steps, score, s->ret, (float)s->steps};
    ocean_log_episode(&e->h, values, SN_NUM_LOG);
    sn_remove(e, i, e->corpses);
    e->h.masks[i] = (uint8_t)sn_place(e, i);
}

static inline void sn_window(uint8_t* restrict dst, const uint8_t* restrict src, size_t stride, int side) {
    for (int r = 0; r < side; r++) memcpy(dst + (size_t)r * (size_t)side, src + (size_t)r * stride, (size_t)side);
}

static void sn_write_obs(Snake* e) {
    size_t n = (size_t)e->side * (size_t)e->side;
    size_t stride = (size_t)e->width;
    int back = e->vision * e->width + e->vision;  // head -> top-left corner of its window
    uint8_t* obs = e->h.obs;
    for (int i = 0; i < e->num_snakes; i++, obs += n) {
        const SnakeAgent* s = &e->snakes[i];
        if (s->len == 0) {
            memset(obs, 0, n);
            continue;
        }
        const uint8_t* corner = e->grid + (s->head - back);
        if (e->side == 11) sn_window(obs, corner, stride, 11);  // the default: constant-size copies
        else sn_window(obs, corner, stride, e->side);
    }
}

static void sn_reset(void* env) {
    Snake* e = env;
    int v = e->vision;
    for (int y = 0; y < e->height; y++) {
        uint8_t* row = e->grid + (size_t)y * (size_t)e->width;
        int wall_row = y < v || y >= e->height - v;
        memset(row, wall_row ? SN_WALL : SN_EMPTY, (size_t)e->width);
        if (!wall_row) {
            memset(row, SN_WALL, (size_t)v);
            memset(row + e->width - v, SN_WALL, (size_t)v);
        }
    }
    for (int i = 0; i < e->num_snakes; i++) e->h.masks[i] = (uint8_t)sn_place(e, i);
    e->food_owed = 0;
    for (int k = 0; k < e->num_food; k++) {
        if (!sn_add_food(e)) {  // no room: the rest waits for free cells
            e->food_owed = e->num_food - k;
            break;
        }
    }
    sn_write_obs(e);
}

static void sn_step(void* env) {
    Snake* e = env;
    const int32_t* actions = e->h.actions;
    uint8_t* grid = e->grid;
    // Snakes move one after another, each seeing the grid as the earlier ones left it.
    for (int i = 0; i < e->num_snakes; i++) {
        SnakeAgent* s = &e->snakes[i];
        if (s->len == 0) {  // waited for room: it may come back now but acts from the next step
            e->h.masks[i] = 0;
            sn_place(e, i);
            continue;
        }
        e->h.masks[i] = 1;
        s->steps++;
        int a = actions[i];  // in [0, 4): checked by the dispatcher
        // Moving back into the neck is impossible: the snake goes straight on instead.
        if (s->len > 1 && a == (s->heading ^ 1)) a = s->heading;
        int next = s->head + e->delta[a];
        uint8_t tile = grid[next];
        if (tile >= SN_WALL) {  // walls and every snake cell, own tail included, kill
            sn_die(e, i);
            continue;
        }
        e->link[s->head] = (uint8_t)a;
        s->heading = (uint8_t)a;
        int grow = 0;
        if (tile == SN_FOOD) {
            e->h.rewards[i] = e->reward_food;
            s->ret += e->reward_food;
            // Replaced before this snake moves in, so neither this cell nor the body can receive it.
            if (!sn_add_food(e)) e->food_owed++;
            grow = 1;
        } else if (tile == SN_CORPSE) {
            e->h.rewards[i] = e->reward_corpse;
            s->ret += e->reward_corpse;
            grow = 1;
        }
        if (grow && s->len < e->max_len - 1) {
            s->len++;
        } else {
            int t = s->tail;
            s->tail = t + e->delta[e->link[t]];
            grid[t] = SN_EMPTY;
        }
        grid[next] = s->color;
        s->head = next;
    }
    while (e->food_owed > 0 && sn_add_food(e)) e->food_owed--;
    sn_write_obs(e);
}

static void sn_render(const void* env, uint8_t* rgb, int width, int height) {
    const Snake* e = env;
    static const uint8_t palette[8][3] = {
        {12, 20, 28}, {60, 200, 80}, {150, 110, 60}, {110, 110, 120},
        {230, 70, 70}, {80, 150, 240}, {240, 200, 60}, {240, 240, 240},
    };
    int px = sn_cell_px(e->width, e->height);
    for (int y = 0; y < e->height; y++)
        for (int x = 0; x < e->width; x++) {
            const uint8_t* c = palette[e->grid[(size_t)y * (size_t)e->width + (size_t)x] & 7];
            ocean_fill_rect(rgb, width, height, x * px, y * px, px, px, c[0], c[1], c[2]);
        }
}

// Text picture (truncated at cap): '.' empty, '*' food, '+' corpse, '#' wall, '4'..'7' snake colours.
static int sn_render_ansi(const void* env, char* out, int cap) {
    const Snake* e = env;
    static const char chars[8] = {'.', '*', '+', '#', '4', '5', '6', '7'};
    int k = 0;
    for (int y = 0; y < e->height && k < cap - 1; y++) {
        for (int x = 0; x < e->width && k < cap - 1; x++) out[k++] = chars[e->grid[(size_t)y * (size_t)e->width + (size_t)x] & 7];
        if (k < cap - 1) out[k++] = '\n';
    }
    out[k] = '\0';
    return k;
}

// ---- Test hooks (reached through the library's exported symbols; -1 on bad input) --------------------
// Coordinates are grid cells (x column, y row), the wall border included.

static int sn_inside(const Snake* e, int x, int y) {
    return x >= e->vision && x < e->width - e->vision && y >= e->vision && y < e->height - e->vision;
}

// Put snake i on cells xy (len (x, y) pairs, head first, 4-connected, all distinct), each empty, food,
// corpse or the snake's own. Starts a new episode for it.
OCEAN_API int ocean_snake_set_snake(void* env, int i, const int32_t* xy, int len) {
    Snake* e = env;
    if (i < 0 || i >= e->num_snakes || !xy || len < 1 || len > e->inner_w * e->inner_h) return -1;
    SnakeAgent* s = &e->snakes[i];
    int old_len = s->len;
    sn_remove(e, i, 0);  // its own cells count as free; restored below if the placement is refused
    int ok = 1;
    for (int k = 0; k < len && ok; k++) {
        int x = xy[2 * k], y = xy[2 * k + 1];
        ok = sn_inside(e, x, y) && e->grid[y * e->width + x] < SN_WALL;
        if (ok && k > 0) {
            int dx = x - xy[2 * k - 2], dy = y - xy[2 * k - 1];
            ok = (dx < 0 ? -dx : dx) + (dy < 0 ? -dy : dy) == 1;
        }
        for (int j = 0; j < k && ok; j++) ok = xy[2 * j] != x || xy[2 * j + 1] != y;
    }
    if (!ok) {
        int c = s->tail;
        for (int j = 0; j < old_len; j++) {
            e->grid[c] = s->color;
            if (j + 1 < old_len) c += e->delta[e->link[c]];
        }
        s->len = old_len;
        return -1;
    }
    for (int k = len - 1; k >= 0; k--) {
        int c = xy[2 * k + 1] * e->width + xy[2 * k];
        e->grid[c] = s->color;
        if (k > 0) {
            int step = xy[2 * k - 1] * e->width + xy[2 * k - 2] - c;
            uint8_t d = step == -e->width ? SN_UP : step == e->width ? SN_DOWN : step == -1 ? SN_LEFT : SN_RIGHT;
            e->link[c] = d;
            if (k == 1) s->heading = d;
        }
    }
    s->head = xy[1] * e->width + xy[0];
    s->tail = xy[2 * len - 1] * e->width + xy[2 * len - 2];
    s->len = len;
    s->steps = 0;
    s->ret = 0.f;
    e->h.masks[i] = 1;
    sn_write_obs(e);
    return 0;
}

// Set a cell inside the walls that holds no snake to 0 (empty), 1 (food) or 2 (corpse).
OCEAN_API int ocean_snake_set_cell(void* env, int x, int y, int code) {
    Snake* e = env;
    if (!sn_inside(e, x, y) || code < SN_EMPTY || code > SN_CORPSE) return -1;
    uint8_t* cell = e->grid + y * e->width + x;
    if (*cell >= SN_WALL) return -1;
    *cell = (uint8_t)code;
    sn_write_obs(e);
    return 0;
}

// Take every snake off and empty the inside of the walls (unplaced snakes respawn at their next step).
OCEAN_API void ocean_snake_clear(void* env) {
    Snake* e = env;
    for (int i = 0; i < e->num_snakes; i++) sn_remove(e, i, 0);
    for (int y = e->vision; y < e->height - e->vision; y++)
        memset(e->grid + (size_t)y * (size_t)e->width + (size_t)e->vision, SN_EMPTY, (size_t)e->inner_w);
    e->food_owed = 0;
    sn_write_obs(e);
}

const OceanEnvDef ocean_env_snake = {
    .abi_version = OCEAN_ABI_VERSION,
    .name = "snake",
    .obs_dtype = OCEAN_OBS_U8,
    .obs_low = 0,
    .obs_high = SN_MAX_CODE,
    .act_dims = 0,
    .act_n = {4},
    .num_params = SN_NUM_PARAMS,
    .params = SN_PARAMS,
    .num_log = SN_NUM_LOG,
    .log_names = SN_LOG,
    .layout = sn_layout,
    .init = sn_init,
    .reset = sn_reset,
    .step = sn_step,
    .render = sn_render,
    .render_ansi = sn_render_ansi,
};
