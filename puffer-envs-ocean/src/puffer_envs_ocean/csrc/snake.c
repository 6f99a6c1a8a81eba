// snake: many snakes share one grid (one agent per snake), with food and deadly collisions.
//
// The grid is stored with a wall margin `vision` cells thick on every side, so an egocentric view
// centred on any playable cell never reads outside the array. Each cell holds a one-byte code (0 empty,
// 1 food, 2 wall, 3 body, 4 head) and, for snake cells only, the snake's index in a parallel `owner`
// array, which is read only for snake cells. One byte per cell keeps the hot part of an instance small.
#include "ocean.h"

enum { SN_EMPTY = 0, SN_FOOD = 1, SN_WALL = 2, SN_BODY = 3, SN_HEAD = 4 };
// Observation codes (uint8): what a snake sees in its window. Own cells keep the grid code; another
// snake's cells read 2 higher.
enum { SO_EMPTY = 0, SO_FOOD = 1, SO_WALL = 2, SO_OWN_BODY = 3, SO_OWN_HEAD = 4, SO_BODY = 5, SO_HEAD = 6 };
enum { SO_OTHER = SO_BODY - SO_OWN_BODY };

typedef struct SnakeAgent {
    int head;      // index into the ring buffer of body cells
    int len;
    int dir;       // 0 up, 1 down, 2 left, 3 right
    int steps;
    int food;
    float ret;
} SnakeAgent;

typedef struct Snake {
    OceanHeader h;  // must be first
    // Parameters.
    int width, height, num_snakes, num_food, vision, max_length, max_steps;
    float food_reward, death_reward;
    // Derived.
    int gw, gh, food_count;
    int delta[4];
    uint8_t* grid;      // gw * gh cell codes
    uint16_t* owner;    // gw * gh: the snake on a body/head cell (stale elsewhere)
    int32_t* body;      // num_snakes * max_length grid indices, a ring per snake
    SnakeAgent* snakes;
    // The four arrays above live in this instance's tail (see sn_tail), not on the heap.
} Snake;

static inline int sn_tail_slot(const Snake* e, const SnakeAgent* s) {
    int t = s->head - s->len + 1;
    return t < 0 ? t + e->max_length : t;
}

// A random empty playable cell: random probes first, then a scan from a random start, so a cell is
// always found when one exists. Returns -1 when the grid is full.
static int sn_empty_cell(Snake* e, int probes) {
    for (int k = 0; k < probes; k++) {
        int x = (int)ocean_rand_below(&e->h.rng, (uint32_t)e->width) + e->vision;
        int y = (int)ocean_rand_below(&e->h.rng, (uint32_t)e->height) + e->vision;
        int c = y * e->gw + x;
        if (e->grid[c] == SN_EMPTY) return c;
    }
    if (probes < 8) return -1;
    int n = e->width * e->height;
    int start = (int)ocean_rand_below(&e->h.rng, (uint32_t)n);
    for (int k = 0; k < n; k++) {
        int p = (start + k) % n;
        int c = (p / e->width + e->vision) * e->gw + p % e->width + e->vision;
        if (e->grid[c] == SN_EMPTY) return c;
    }
    return -1;
}

static void sn_spawn_food(Snake* e) {
    int c = sn_empty_cell(e, 4);
    if (c >= 0) { e->grid[c] = SN_FOOD; e->food_count++; }
}

// Place snake i (length 1) on a random empty cell. Returns 0, or -1 when the grid has no room: the snake
// then waits (len 0, mask 0) and tries again next step.
static int sn_spawn_snake(Snake* e, int i) {
    SnakeAgent* s = &e->snakes[i];
    s->head = 0;
    s->len = 0;
    s->dir = (int)ocean_rand_below(&e->h.rng, 4);
    s->steps = 0;
    s->food = 0;
    s->ret = 0.f;
    int c = sn_empty_cell(e, 64);
    if (c < 0) return -1;
    s->len = 1;
    e->body[(size_t)i * e->max_length] = c;
    e->grid[c] = SN_HEAD;
    e->owner[c] = (uint16_t)i;
    return 0;
}

static void sn_remove_snake(Snake* e, int i) {
    SnakeAgent* s = &e->snakes[i];
    const int32_t* ring = e->body + (size_t)i * e->max_length;
    int slot = sn_tail_slot(e, s);
    for (int k = 0; k < s->len; k++) {
        e->grid[ring[slot]] = SN_EMPTY;
        if (++slot == e->max_length) slot = 0;
    }
    s->len = 0;
}

static void sn_write_obs(const Snake* e, int i, uint8_t* obs) {
    const SnakeAgent* s = &e->snakes[i];
    int side = 2 * e->vision + 1;
    if (s->len == 0) {  // waiting for room to respawn: sees nothing
        memset(obs, 0, (size_t)side * (size_t)side);
        return;
    }
    int head = e->body[(size_t)i * e->max_length + s->head];
    size_t corner = (size_t)(head - e->vision * e->gw - e->vision);
    const uint8_t* row = e->grid + corner;
    const uint16_t* owner = e->owner + corner;
    for (int r = 0; r < side; r++, row += e->gw, owner += e->gw, obs += side) {
        for (int c = 0; c < side; c++) {
            uint8_t v = row[c];
            if (v >= SN_BODY && owner[c] != i) v += SO_OTHER;  // the owner array is read for snake cells only
            obs[c] = v;
        }
    }
}

// Moves snake i one cell. Returns 1 when it died, 0 otherwise; *reward gets the step's reward.
static int sn_move(Snake* e, int i, int action, float* reward) {
    SnakeAgent* s = &e->snakes[i];
    int32_t* ring = e->body + (size_t)i * e->max_length;
    // Turning straight back into the neck is ignored (the snake keeps going), as in the arcade game.
    if (action >= 0 && action < 4 && !(s->len > 1 && (action ^ 1) == s->dir)) s->dir = action;
    int head = ring[s->head];
    int next = head + e->delta[s->dir];
    *reward = 0.f;
    if (e->grid[next] == SN_FOOD) {
        e->food_count--;
        s->food++;
        *reward = e->food_reward;
        if (s->len == e->max_length) {
            // Full length: eating scores but the snake does not grow, so the tail still moves.
            int tail = sn_tail_slot(e, s);
            e->grid[ring[tail]] = SN_EMPTY;
            s->len--;
        }
    } else {
        // The tail moves out first, so a snake may follow its own tail.
        int tail = sn_tail_slot(e, s);
        e->grid[ring[tail]] = SN_EMPTY;
        s->len--;
        if (e->grid[next] != SN_EMPTY) {
            // Restore the tail and die: walls, own body and other snakes are all deadly.
            s->len++;
            e->grid[ring[tail]] = (s->len == 1) ? SN_HEAD : SN_BODY;
            *reward = e->death_reward;
            return 1;
        }
    }
    if (s->len > 0) e->grid[head] = SN_BODY;
    if (++s->head == e->max_length) s->head = 0;
    ring[s->head] = next;
    s->len++;
    e->grid[next] = SN_HEAD;
    e->owner[next] = (uint16_t)i;
    return 0;
}

// Grid setup shared by reset: walls in the margin, nothing inside.
static void sn_clear_grid(Snake* e) {
    for (int y = 0; y < e->gh; y++)
        for (int x = 0; x < e->gw; x++) {
            int inside = x >= e->vision && x < e->vision + e->width && y >= e->vision && y < e->vision + e->height;
            e->grid[y * e->gw + x] = inside ? SN_EMPTY : SN_WALL;
        }
    e->food_count = 0;
}

enum {
    SN_P_WIDTH = 0, SN_P_HEIGHT, SN_P_SNAKES, SN_P_FOOD, SN_P_VISION, SN_P_MAX_LENGTH, SN_P_MAX_STEPS,
    SN_P_FOOD_REWARD, SN_P_DEATH_REWARD, SN_NUM_PARAMS
};

static const OceanParam SN_PARAMS[SN_NUM_PARAMS] = {
    {"width", 32, 4, 512, 1, "playable grid width (cells)"},
    {"height", 32, 4, 512, 1, "playable grid height (cells)"},
    {"num_snakes", 8, 1, 1024, 1, "snakes (agents) per grid"},
    {"num_food", 16, 0, 65536, 1, "food items kept on the grid (fewer when it is full)"},
    {"vision", 5, 1, 15, 1, "view radius: each snake sees a (2*vision+1)^2 window around its head"},
    {"max_length", 128, 1, 1024, 1, "longest body; a snake this long still scores on food but stops growing"},
    {"max_steps", 2000, 1, 1000000, 1, "steps of one snake's life before it is truncated (and respawned)"},
    {"food_reward", 1, -100, 100, 0, "reward for eating one food"},
    {"death_reward", -1, -100, 100, 0, "reward on the step a snake dies"},
};

static const char* const SN_LOG[] = {"episode_return", "episode_length", "score", "length", "died"};
#define SN_NUM_LOG 5
#define SN_CELL_PX 4

static inline int sn_abs(int v) { return v < 0 ? -v : v; }

static size_t sn_align(size_t n) { return (n + 15u) & ~(size_t)15u; }

// Tail layout after the struct: SnakeAgent[num_snakes], uint8 grid, int32 body[num_snakes * max_length],
// uint16 owner. The hot arrays (agents, grid) come first.
typedef struct SnakeTail {
    size_t grid, body, owner, total;
} SnakeTail;

static SnakeTail sn_tail(int snakes, int max_length, int gw, int gh) {
    SnakeTail t;
    size_t off = sn_align(sizeof(Snake));
    off += sn_align((size_t)snakes * sizeof(SnakeAgent));
    t.grid = off;
    off += sn_align((size_t)gw * (size_t)gh);
    t.body = off;
    off += sn_align((size_t)snakes * (size_t)max_length * sizeof(int32_t));
    t.owner = off;
    off += sn_align((size_t)gw * (size_t)gh * sizeof(uint16_t));
    t.total = off;
    return t;
}

static void sn_layout(const double* params, OceanLayout* out) {
    int w = (int)params[SN_P_WIDTH], hh = (int)params[SN_P_HEIGHT], v = (int)params[SN_P_VISION];
    out->state_bytes = sn_tail((int)params[SN_P_SNAKES], (int)params[SN_P_MAX_LENGTH], w + 2 * v, hh + 2 * v).total;
    out->agents = (int)params[SN_P_SNAKES];
    out->obs_ndim = 2;
    out->obs_shape[0] = 2 * v + 1;
    out->obs_shape[1] = 2 * v + 1;
    out->render_width = (w + 2) * SN_CELL_PX;
    out->render_height = (hh + 2) * SN_CELL_PX;
}

static void sn_init(void* env, const double* params) {
    Snake* e = env;
    e->width = (int)params[SN_P_WIDTH];
    e->height = (int)params[SN_P_HEIGHT];
    e->num_snakes = (int)params[SN_P_SNAKES];
    e->num_food = (int)params[SN_P_FOOD];
    e->vision = (int)params[SN_P_VISION];
    e->max_length = (int)params[SN_P_MAX_LENGTH];
    e->max_steps = (int)params[SN_P_MAX_STEPS];
    e->food_reward = (float)params[SN_P_FOOD_REWARD];
    e->death_reward = (float)params[SN_P_DEATH_REWARD];
    e->gw = e->width + 2 * e->vision;
    e->gh = e->height + 2 * e->vision;
    e->delta[0] = -e->gw;
    e->delta[1] = e->gw;
    e->delta[2] = -1;
    e->delta[3] = 1;
    SnakeTail t = sn_tail(e->num_snakes, e->max_length, e->gw, e->gh);
    unsigned char* base = (unsigned char*)env;
    e->snakes = (SnakeAgent*)(base + sn_align(sizeof(Snake)));
    e->grid = base + t.grid;
    e->body = (int32_t*)(base + t.body);
    e->owner = (uint16_t*)(base + t.owner);
}

static void sn_top_up_food(Snake* e) {
    for (int k = e->food_count; k < e->num_food; k++) {
        int before = e->food_count;
        sn_spawn_food(e);
        if (e->food_count == before) break;  // crowded: try again next step
    }
}

static void sn_write_all_obs(Snake* e) {
    int side = 2 * e->vision + 1;
    uint8_t* obs = e->h.obs;
    for (int i = 0; i < e->num_snakes; i++) sn_write_obs(e, i, obs + (size_t)i * (size_t)side * (size_t)side);
}

static void sn_reset(void* env) {
    Snake* e = env;
    sn_clear_grid(e);
    for (int i = 0; i < e->num_snakes; i++) e->h.masks[i] = (uint8_t)(sn_spawn_snake(e, i) == 0);
    sn_top_up_food(e);
    sn_write_all_obs(e);
}

static void sn_step(void* env) {
    Snake* e = env;
    for (int i = 0; i < e->num_snakes; i++) {
        SnakeAgent* s = &e->snakes[i];
        // masks[i] says whether snake i acted in this step (so its reward counts): a snake that had no room
        // to respawn sits this step out, even if it finds room now (its first move is the next step).
        if (s->len == 0) {
            e->h.masks[i] = 0;
            sn_spawn_snake(e, i);
            continue;
        }
        e->h.masks[i] = 1;
        float reward;
        int died = sn_move(e, i, e->h.actions[i], &reward);  // action in [0, 4): checked by the dispatcher
        s->steps++;
        s->ret += reward;
        e->h.rewards[i] = reward;
        if (died || s->steps >= e->max_steps) {
            e->h.terminals[i] = (uint8_t)died;
            e->h.truncations[i] = (uint8_t)!died;
            float values[SN_NUM_LOG] = {s->ret, (float)s->steps, (float)s->food, (float)s->len, (float)died};
            ocean_log_episode(&e->h, values, SN_NUM_LOG);
            sn_remove_snake(e, i);
            sn_spawn_snake(e, i);
        }
    }
    sn_top_up_food(e);
    sn_write_all_obs(e);
}

static void sn_snake_rgb(int i, uint8_t* rgb) {
    uint64_t s = (uint64_t)i * 0x9E3779B97F4A7C15ull + 1;
    uint64_t z = ocean_splitmix64(&s);
    rgb[0] = (uint8_t)(80 + (z & 0x7F));
    rgb[1] = (uint8_t)(80 + ((z >> 8) & 0x7F));
    rgb[2] = (uint8_t)(80 + ((z >> 16) & 0x7F));
}

static void sn_render(const void* env, uint8_t* rgb, int width, int height) {
    const Snake* e = env;
    ocean_fill_rect(rgb, width, height, 0, 0, width, height, 90, 90, 100);  // the wall border
    for (int y = 0; y < e->height; y++) {
        size_t first = (size_t)(y + e->vision) * e->gw + e->vision;
        for (int x = 0; x < e->width; x++) {
            uint8_t v = e->grid[first + x];
            uint8_t c[3] = {16, 16, 24};
            if (v == SN_FOOD) { c[0] = 230; c[1] = 60; c[2] = 60; }
            else if (v == SN_WALL) { c[0] = 90; c[1] = 90; c[2] = 100; }
            else if (v == SN_BODY) sn_snake_rgb(e->owner[first + x], c);
            else if (v == SN_HEAD) { c[0] = 255; c[1] = 255; c[2] = 255; }
            ocean_fill_rect(rgb, width, height, (x + 1) * SN_CELL_PX, (y + 1) * SN_CELL_PX, SN_CELL_PX, SN_CELL_PX,
                            c[0], c[1], c[2]);
        }
    }
}

// Text picture: '#' wall, '*' food, '.' empty, snake i's head as 'A'+i%26 and its body as 'a'+i%26.
static int sn_render_ansi(const void* env, char* out, int cap) {
    const Snake* e = env;
    int k = 0;
    for (int y = -1; y <= e->height; y++) {
        for (int x = -1; x <= e->width; x++) {
            size_t cell = (size_t)(y + e->vision) * e->gw + x + e->vision;
            uint8_t v = e->grid[cell];
            char ch = v == SN_EMPTY ? '.' : v == SN_FOOD ? '*' : v == SN_WALL ? '#'
                    : (char)((v == SN_HEAD ? 'A' : 'a') + e->owner[cell] % 26);
            if (k < cap - 1) out[k++] = ch;
        }
        if (k < cap - 1) out[k++] = '\n';
    }
    out[k] = '\0';
    return k;
}

// Test hooks (tests reach them through the library's exported symbols); all return 0 or -1 on bad input.
// Put snake i on the given playable cells, head first: xy holds len (x, y) pairs of 4-connected cells, which
// must be free (or the snake's own). dir is its heading (0 up, 1 down, 2 left, 3 right).
OCEAN_API int ocean_snake_set_snake(void* env, int i, const int32_t* xy, int len, int dir) {
    Snake* e = env;
    if (i < 0 || i >= e->num_snakes || !xy || len < 1 || len > e->max_length || dir < 0 || dir > 3) return -1;
    for (int k = 0; k < len; k++) {
        int x = xy[2 * k], y = xy[2 * k + 1];
        if (x < 0 || y < 0 || x >= e->width || y >= e->height) return -1;
        size_t cell = (size_t)(y + e->vision) * e->gw + x + e->vision;
        if (e->grid[cell] != SN_EMPTY && !(e->grid[cell] >= SN_BODY && e->owner[cell] == i)) return -1;
        if (k > 0 && sn_abs(x - xy[2 * k - 2]) + sn_abs(y - xy[2 * k - 1]) != 1) return -1;
    }
    sn_remove_snake(e, i);
    SnakeAgent* s = &e->snakes[i];
    int32_t* ring = e->body + (size_t)i * e->max_length;
    // The ring runs tail -> head, so slot len-1 is the head.
    for (int k = 0; k < len; k++) {
        int c = (xy[2 * k + 1] + e->vision) * e->gw + xy[2 * k] + e->vision;
        ring[len - 1 - k] = c;
        e->grid[c] = k == 0 ? SN_HEAD : SN_BODY;
        e->owner[c] = (uint16_t)i;
    }
    s->head = len - 1;
    s->len = len;
    s->dir = dir;
    e->h.masks[i] = 1;
    sn_write_all_obs(e);
    return 0;
}

// Set a free or food cell to 0 (empty) or 1 (food).
OCEAN_API int ocean_snake_set_cell(void* env, int x, int y, int code) {
    Snake* e = env;
    if (x < 0 || y < 0 || x >= e->width || y >= e->height || (code != SN_EMPTY && code != SN_FOOD)) return -1;
    uint8_t* cell = e->grid + (size_t)(y + e->vision) * e->gw + x + e->vision;
    if (*cell != SN_EMPTY && *cell != SN_FOOD) return -1;
    e->food_count += (code == SN_FOOD) - (*cell == SN_FOOD);
    *cell = (uint8_t)code;
    sn_write_all_obs(e);
    return 0;
}

// Remove every snake and all food, leaving an empty grid (snakes respawn on the next step unless placed).
OCEAN_API void ocean_snake_clear(void* env) {
    Snake* e = env;
    sn_clear_grid(e);
    for (int i = 0; i < e->num_snakes; i++) e->snakes[i].len = 0;
    sn_write_all_obs(e);
}

const OceanEnvDef ocean_env_snake = {
    .abi_version = OCEAN_ABI_VERSION,
    .name = "snake",
    .obs_dtype = OCEAN_OBS_U8,
    .obs_low = 0,
    .obs_high = SO_HEAD,
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
