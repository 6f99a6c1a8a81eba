// tetris: 10x20 board, the 7 tetrominoes from a seeded 7-bag, rotation with simple wall kicks, line clears,
// hold, gravity; the game ends when a new piece cannot spawn.
//
// The board is one uint32 per row: columns 0..9 are bits 5..14 and every other bit is wall, so a piece row
// (a 4-bit nibble shifted by its box column + 5) collides with a wall exactly like with a block, even for
// the farthest position a kick can try. Four full rows below the board are the floor.
#include "ocean.h"

enum {
    TT_W = 10,
    TT_H = 20,
    TT_FLOOR = 4,
    TT_PIECES = 7,
    TT_NONE = TT_PIECES,  // "no piece" in hold
    TT_SPAWN_X = 3,
    TT_FEATURES = 7 + 4 + 7 + 7 + 1,  // current, rotation, next, hold (one-hot each), can_hold
    TT_OBS = TT_W * TT_H + TT_FEATURES,
    TT_NACTIONS = 7,  // noop, left, right, rotate, soft drop, hard drop, hold
    TT_CELL_PX = 8,
    TT_PANEL_PX = 48,
};
enum { TA_NOOP = 0, TA_LEFT, TA_RIGHT, TA_ROTATE, TA_SOFT, TA_HARD, TA_HOLD };

#define TT_SHIFT 5
static const uint32_t TT_WALLS = ~(0x3FFu << TT_SHIFT);
static const uint32_t TT_FULL = 0xFFFFFFFFu;

// Shapes in a 4x4 box: bit (row * 4 + col). Index [piece][rotation], rotations clockwise. Order I O T S Z J L.
static const uint16_t TT_SHAPES[TT_PIECES][4] = {
    {0x00F0, 0x4444, 0x0F00, 0x2222},  // I
    {0x0066, 0x0066, 0x0066, 0x0066},  // O
    {0x0072, 0x0262, 0x0270, 0x0232},  // T
    {0x0036, 0x0462, 0x0360, 0x0231},  // S
    {0x0063, 0x0264, 0x0630, 0x0132},  // Z
    {0x0071, 0x0226, 0x0470, 0x0322},  // J
    {0x0074, 0x0622, 0x0170, 0x0223},  // L
};
static const uint8_t TT_RGB[TT_PIECES + 1][3] = {
    {0, 220, 220}, {230, 210, 0}, {170, 60, 220}, {40, 200, 40}, {220, 40, 40}, {40, 80, 230}, {240, 140, 0},
    {16, 16, 24},
};
// Kicks tried in order after a blocked rotation: (dx, dy); dy < 0 lifts the piece.
static const int TT_KICKS[][2] = {{-1, 0}, {1, 0}, {-2, 0}, {2, 0}, {0, -1}};
#define TT_NUM_KICKS 5
// Bytes (0 or 1) of the 4 bits of a nibble, in memory order (column x at byte x).
static const uint8_t TT_SPREAD[16][4] = {
    {0, 0, 0, 0}, {1, 0, 0, 0}, {0, 1, 0, 0}, {1, 1, 0, 0}, {0, 0, 1, 0}, {1, 0, 1, 0}, {0, 1, 1, 0}, {1, 1, 1, 0},
    {0, 0, 0, 1}, {1, 0, 0, 1}, {0, 1, 0, 1}, {1, 1, 0, 1}, {0, 0, 1, 1}, {1, 0, 1, 1}, {0, 1, 1, 1}, {1, 1, 1, 1},
};
// Guideline points for 1..4 lines; the reward is points / 100.
static const int TT_LINE_POINTS[5] = {0, 100, 300, 500, 800};

enum { TT_P_GRAVITY = 0, TT_P_MAX_STEPS, TT_NUM_PARAMS };
static const OceanParam TT_PARAMS[TT_NUM_PARAMS] = {
    {"gravity_interval", 2, 1, 1000, 1, "steps between automatic one-row falls of the piece"},
    {"max_steps", 10000, 1, 1000000, 1, "steps before the episode is truncated"},
};
static const char* const TT_LOG[] = {"episode_return", "episode_length", "score", "lines", "pieces", "tetrises"};
#define TT_NUM_LOG 6

typedef struct Tetris {
    OceanHeader h;  // must be first
    int gravity_interval, max_steps;
    uint32_t rows[TT_H + TT_FLOOR];
    uint8_t colors[TT_H][TT_W];  // piece type + 1 of each locked block, for render only
    int piece, rot, px, py;      // falling piece: type, rotation, box column and row
    int next, hold, can_hold;
    uint8_t bag[TT_PIECES];
    int bag_pos;
    int tick, steps, lines, pieces, tetrises, score;
    float episode_return;
} Tetris;

static inline int tt_row_bits(int piece, int rot, int r) { return (TT_SHAPES[piece][rot] >> (4 * r)) & 0xF; }

static int tt_collides(const Tetris* e, int piece, int rot, int px, int py) {
    for (int r = 0; r < 4; r++) {
        int bits = tt_row_bits(piece, rot, r);
        if (!bits) continue;
        int y = py + r;
        if (y < 0 || px + TT_SHIFT < 0) return 1;  // nothing may stick out above the board
        if (e->rows[y] & ((uint32_t)bits << (px + TT_SHIFT))) return 1;
    }
    return 0;
}

static int tt_draw_piece(Tetris* e) {
    if (e->bag_pos >= TT_PIECES) {
        for (int i = 0; i < TT_PIECES; i++) e->bag[i] = (uint8_t)i;
        for (int i = TT_PIECES - 1; i > 0; i--) {  // Fisher-Yates
            int j = (int)ocean_rand_below(&e->h.rng, (uint32_t)(i + 1));
            uint8_t t = e->bag[i];
            e->bag[i] = e->bag[j];
            e->bag[j] = t;
        }
        e->bag_pos = 0;
    }
    return e->bag[e->bag_pos++];
}

// Put `piece` at the spawn position. Returns 0, or 1 when it collides (game over).
static int tt_spawn(Tetris* e, int piece) {
    e->piece = piece;
    e->rot = 0;
    e->px = TT_SPAWN_X;
    e->py = 0;
    e->tick = 0;
    return tt_collides(e, e->piece, e->rot, e->px, e->py);
}

static void tt_new_game(Tetris* e) {
    for (int y = 0; y < TT_H; y++) e->rows[y] = TT_WALLS;
    for (int y = TT_H; y < TT_H + TT_FLOOR; y++) e->rows[y] = TT_FULL;
    memset(e->colors, 0, sizeof(e->colors));
    e->bag_pos = TT_PIECES;
    e->hold = TT_NONE;
    e->can_hold = 1;
    e->steps = e->lines = e->pieces = e->tetrises = e->score = 0;
    e->episode_return = 0.f;
    int first = tt_draw_piece(e);
    e->next = tt_draw_piece(e);
    tt_spawn(e, first);
}

// Lock the falling piece, clear full rows, spawn the next piece. Returns the lines cleared; *over = 1 when
// the next piece cannot spawn.
static int tt_lock(Tetris* e, int* over) {
    for (int r = 0; r < 4; r++) {
        int bits = tt_row_bits(e->piece, e->rot, r);
        if (!bits) continue;
        int y = e->py + r;
        e->rows[y] |= (uint32_t)bits << (e->px + TT_SHIFT);
        for (int c = 0; c < 4; c++)
            if (bits & (1 << c)) e->colors[y][e->px + c] = (uint8_t)(e->piece + 1);
    }
    int cleared = 0;
    for (int y = 0; y < TT_H; y++) {
        if (e->rows[y] != TT_FULL) continue;
        // Drop everything above row y by one; the top row becomes empty.
        memmove(&e->rows[1], &e->rows[0], (size_t)y * sizeof(e->rows[0]));
        memmove(&e->colors[1], &e->colors[0], (size_t)y * sizeof(e->colors[0]));
        e->rows[0] = TT_WALLS;
        memset(e->colors[0], 0, sizeof(e->colors[0]));
        cleared++;
    }
    e->pieces++;
    e->lines += cleared;
    e->tetrises += cleared == 4;
    e->score += TT_LINE_POINTS[cleared];
    e->can_hold = 1;
    int piece = e->next;
    e->next = tt_draw_piece(e);
    *over = tt_spawn(e, piece);
    return cleared;
}

static void tt_write_obs(const Tetris* e, uint8_t* obs) {
    // Four cells at a time: TT_SPREAD[n] holds the bytes 0/1 of nibble n's bits, lowest column first.
    for (int y = 0; y < TT_H; y++) {
        uint32_t row = e->rows[y] >> TT_SHIFT;
        uint8_t* o = obs + y * TT_W;
        memcpy(o, &TT_SPREAD[row & 0xF], 4);
        memcpy(o + 4, &TT_SPREAD[(row >> 4) & 0xF], 4);
        memcpy(o + 8, &TT_SPREAD[(row >> 8) & 0x3], 2);
    }
    for (int r = 0; r < 4; r++) {
        int bits = tt_row_bits(e->piece, e->rot, r);
        for (int c = 0; c < 4; c++)
            if (bits & (1 << c)) obs[(e->py + r) * TT_W + e->px + c] = 2;
    }
    uint8_t* f = obs + TT_W * TT_H;
    memset(f, 0, TT_FEATURES);
    f[e->piece] = 1;
    f[7 + e->rot] = 1;
    f[11 + e->next] = 1;
    if (e->hold != TT_NONE) f[18 + e->hold] = 1;
    f[25] = (uint8_t)e->can_hold;
}

static void tt_layout(const double* params, OceanLayout* out) {
    (void)params;
    out->state_bytes = sizeof(Tetris);
    out->agents = 1;
    out->obs_ndim = 1;
    out->obs_shape[0] = TT_OBS;
    out->render_width = TT_W * TT_CELL_PX + TT_PANEL_PX;
    out->render_height = TT_H * TT_CELL_PX;
}

static void tt_init(void* env, const double* params) {
    Tetris* e = env;
    e->gravity_interval = (int)params[TT_P_GRAVITY];
    e->max_steps = (int)params[TT_P_MAX_STEPS];
}

static void tt_reset(void* env) {
    Tetris* e = env;
    tt_new_game(e);
    tt_write_obs(e, e->h.obs);
}

static void tt_step(void* env) {
    Tetris* e = env;
    int action = e->h.actions[0];  // in [0, 7): checked by the dispatcher
    int over = 0, locked = 0, cleared = 0;
    e->steps++;
    switch (action) {
    case TA_LEFT:
    case TA_RIGHT: {
        int x = e->px + (action == TA_LEFT ? -1 : 1);
        if (!tt_collides(e, e->piece, e->rot, x, e->py)) e->px = x;
        break;
    }
    case TA_ROTATE: {
        int rot = (e->rot + 1) & 3;
        if (!tt_collides(e, e->piece, rot, e->px, e->py)) {
            e->rot = rot;
        } else {
            for (int k = 0; k < TT_NUM_KICKS; k++) {
                int x = e->px + TT_KICKS[k][0], y = e->py + TT_KICKS[k][1];
                if (!tt_collides(e, e->piece, rot, x, y)) {
                    e->rot = rot;
                    e->px = x;
                    e->py = y;
                    break;
                }
            }
        }
        break;
    }
    case TA_SOFT:
        if (!tt_collides(e, e->piece, e->rot, e->px, e->py + 1)) e->py++;
        else { cleared = tt_lock(e, &over); locked = 1; }
        break;
    case TA_HARD:
        while (!tt_collides(e, e->piece, e->rot, e->px, e->py + 1)) e->py++;
        cleared = tt_lock(e, &over);
        locked = 1;
        break;
    case TA_HOLD:
        if (e->can_hold) {
            int held = e->hold;
            e->hold = e->piece;
            if (held == TT_NONE) {
                held = e->next;
                e->next = tt_draw_piece(e);
            }
            over = tt_spawn(e, held);
            e->can_hold = 0;
        }
        break;
    default:
        break;
    }
    if (!locked && !over && ++e->tick >= e->gravity_interval) {
        e->tick = 0;
        if (!tt_collides(e, e->piece, e->rot, e->px, e->py + 1)) e->py++;
        else cleared = tt_lock(e, &over);
    }
    float reward = (float)TT_LINE_POINTS[cleared] / 100.f;
    e->h.rewards[0] = reward;
    e->episode_return += reward;
    if (over || e->steps >= e->max_steps) {
        e->h.terminals[0] = (uint8_t)over;
        e->h.truncations[0] = (uint8_t)!over;
        float values[TT_NUM_LOG] = {e->episode_return, (float)e->steps, (float)e->score, (float)e->lines,
                                    (float)e->pieces, (float)e->tetrises};
        ocean_log_episode(&e->h, values, TT_NUM_LOG);
        tt_new_game(e);
    }
    tt_write_obs(e, e->h.obs);
}

static void tt_draw_mini(uint8_t* rgb, int width, int height, int piece, int x0, int y0) {
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            if (tt_row_bits(piece, 0, r) & (1 << c))
                ocean_fill_rect(rgb, width, height, x0 + c * 6, y0 + r * 6, 5, 5, TT_RGB[piece][0], TT_RGB[piece][1],
                                TT_RGB[piece][2]);
}

static void tt_render(const void* env, uint8_t* rgb, int width, int height) {
    const Tetris* e = env;
    ocean_fill_rect(rgb, width, height, 0, 0, width, height, 40, 40, 52);
    for (int y = 0; y < TT_H; y++)
        for (int x = 0; x < TT_W; x++) {
            const uint8_t* c = TT_RGB[e->colors[y][x] ? e->colors[y][x] - 1 : TT_NONE];
            ocean_fill_rect(rgb, width, height, x * TT_CELL_PX, y * TT_CELL_PX, TT_CELL_PX - 1, TT_CELL_PX - 1, c[0],
                            c[1], c[2]);
        }
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            if (tt_row_bits(e->piece, e->rot, r) & (1 << c))
                ocean_fill_rect(rgb, width, height, (e->px + c) * TT_CELL_PX, (e->py + r) * TT_CELL_PX, TT_CELL_PX - 1,
                                TT_CELL_PX - 1, TT_RGB[e->piece][0], TT_RGB[e->piece][1], TT_RGB[e->piece][2]);
    int panel = TT_W * TT_CELL_PX + 12;
    tt_draw_mini(rgb, width, height, e->next, panel, 8);
    if (e->hold != TT_NONE) tt_draw_mini(rgb, width, height, e->hold, panel, 48);
}

// '#' locked block, '@' falling piece, '.' empty.
static int tt_render_ansi(const void* env, char* out, int cap) {
    const Tetris* e = env;
    int k = 0;
    for (int y = 0; y < TT_H; y++) {
        for (int x = 0; x < TT_W; x++) {
            int r = y - e->py, c = x - e->px;
            int falling = r >= 0 && r < 4 && c >= 0 && c < 4 && (tt_row_bits(e->piece, e->rot, r) & (1 << c));
            char ch = falling ? '@' : ((e->rows[y] >> (x + TT_SHIFT)) & 1) ? '#' : '.';
            if (k < cap - 1) out[k++] = ch;
        }
        if (k < cap - 1) out[k++] = '\n';
    }
    out[k] = '\0';
    return k;
}

// Test hooks (tests reach them through the library's exported symbols); both return 0 or -1 on bad input.
// Set board row y (0 = top) from a 10-bit mask, bit x = column x filled.
OCEAN_API int ocean_tetris_set_row(void* env, int y, int mask) {
    Tetris* e = env;
    if (y < 0 || y >= TT_H || mask < 0 || mask > 0x3FF) return -1;
    e->rows[y] = TT_WALLS | ((uint32_t)mask << TT_SHIFT);
    for (int x = 0; x < TT_W; x++) e->colors[y][x] = (uint8_t)(((mask >> x) & 1) ? 7 : 0);
    tt_write_obs(e, e->h.obs);
    return 0;
}

// Replace the falling piece (type 0..6 in the order I O T S Z J L, rotation 0..3, box position) and the next
// piece (0..6, or -1 to keep it). Fails when the piece would overlap a block or wall.
OCEAN_API int ocean_tetris_set_piece(void* env, int piece, int rot, int px, int py, int next) {
    Tetris* e = env;
    if (piece < 0 || piece >= TT_PIECES || rot < 0 || rot > 3 || px < -3 || px > TT_W - 1 || py < -3 || py > TT_H ||
        next < -1 || next >= TT_PIECES)
        return -1;
    if (tt_collides(e, piece, rot, px, py)) return -1;
    e->piece = piece;
    e->rot = rot;
    e->px = px;
    e->py = py;
    e->tick = 0;
    if (next >= 0) e->next = next;
    tt_write_obs(e, e->h.obs);
    return 0;
}

const OceanEnvDef ocean_env_tetris = {
    .abi_version = OCEAN_ABI_VERSION,
    .name = "tetris",
    .obs_dtype = OCEAN_OBS_U8,
    .obs_low = 0,
    .obs_high = 2,
    .act_dims = 0,
    .act_n = {TT_NACTIONS},
    .num_params = TT_NUM_PARAMS,
    .params = TT_PARAMS,
    .num_log = TT_NUM_LOG,
    .log_names = TT_LOG,
    .layout = tt_layout,
    .init = tt_init,
    .reset = tt_reset,
    .step = tt_step,
    .render = tt_render,
    .render_ansi = tt_render_ansi,
};
