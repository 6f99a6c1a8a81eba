// connect4: the agent drops discs into a 6x7 board against a scripted opponent.
//
// Rules as documented in connect4.py: four in a row (horizontal, vertical or either diagonal) wins;
// a full board is a draw; dropping into a full column is an illegal move and loses the game at once
// (reward -1, terminal, logged as `illegal`). The opponent wins when it can, else blocks the agent's
// immediate win, else plays a random legal column (its randomness comes from the instance's RNG).
//
// Bitboards: bit (col * 7 + row) is set for a disc, row 0 at the bottom; the 7th bit of each column stays
// empty so that shifted patterns never wrap from one column into the next.
#include "ocean.h"

enum { C4_ROWS = 6, C4_COLS = 7, C4_CELLS = 42, C4_H = 7 };
enum { C4_P_FIRST = 0, C4_P_NOISE, C4_NUM_PARAMS };

static const OceanParam C4_PARAMS[C4_NUM_PARAMS] = {
    {"first_player", 2, 0, 2, 1, "who opens each game: 0 the agent, 1 the opponent, 2 a coin flip"},
    {"opponent_noise", 0, 0, 1, 0, "probability that the opponent plays a random legal column instead"},
};

static const char* const C4_LOG[] = {"episode_return", "episode_length", "score", "wins", "losses", "draws",
                                     "illegal"};
#define C4_NUM_LOG 7
#define C4_CELL_PX 24

typedef struct Connect4 {
    OceanHeader h;  // must be first
    int first_player;
    float noise;
    uint64_t mine, theirs;       // bitboards of the agent's and the opponent's discs
    int heights[C4_COLS];        // discs in each column
    int moves;                   // discs on the board
    int steps;                   // agent moves this game
} Connect4;

static inline int c4_wins(uint64_t b) {
    static const int SHIFTS[4] = {1, C4_H, C4_H - 1, C4_H + 1};  // vertical, horizontal, both diagonals
    for (int k = 0; k < 4; k++) {
        int s = SHIFTS[k];
        uint64_t m = b & (b >> s);
        if (m & (m >> (2 * s))) return 1;
    }
    return 0;
}

static inline uint64_t c4_move_bit(const Connect4* e, int col) {
    return 1ull << (col * C4_H + e->heights[col]);
}

static void c4_write_obs(const Connect4* e, float* obs) {
    // Row-major from the top row, as the board is drawn: +1 the agent's disc, -1 the opponent's, 0 empty.
    for (int r = 0; r < C4_ROWS; r++) {
        int row = C4_ROWS - 1 - r;
        for (int c = 0; c < C4_COLS; c++) {
            uint64_t bit = 1ull << (c * C4_H + row);
            obs[r * C4_COLS + c] = (e->mine & bit) ? 1.f : ((e->theirs & bit) ? -1.f : 0.f);
        }
    }
}

// The opponent's column: win, else block, else random (always legal; the board is not full).
static int c4_opponent_col(Connect4* e) {
    int legal[C4_COLS], n = 0;
    for (int c = 0; c < C4_COLS; c++)
        if (e->heights[c] < C4_ROWS) legal[n++] = c;
    if (e->noise <= 0.f || ocean_rand_float(&e->h.rng) >= e->noise) {
        for (int k = 0; k < n; k++)
            if (c4_wins(e->theirs | c4_move_bit(e, legal[k]))) return legal[k];
        for (int k = 0; k < n; k++)
            if (c4_wins(e->mine | c4_move_bit(e, legal[k]))) return legal[k];
    }
    return legal[ocean_rand_below(&e->h.rng, (uint32_t)n)];
}

static void c4_new_game(Connect4* e) {
    e->mine = e->theirs = 0;
    memset(e->heights, 0, sizeof(e->heights));
    e->moves = 0;
    e->steps = 0;
    int opponent_first = e->first_player == 1 || (e->first_player == 2 && (ocean_rand_u64(&e->h.rng) & 1));
    if (opponent_first) {
        int c = c4_opponent_col(e);
        e->theirs |= c4_move_bit(e, c);
        e->heights[c]++;
        e->moves++;
    }
}

static void c4_layout(const double* params, OceanLayout* out) {
    (void)params;
    out->state_bytes = sizeof(Connect4);
    out->agents = 1;
    out->obs_ndim = 1;
    out->obs_shape[0] = C4_CELLS;
    out->render_width = C4_COLS * C4_CELL_PX;
    out->render_height = C4_ROWS * C4_CELL_PX;
}

static void c4_init(void* env, const double* params) {
    Connect4* e = env;
    e->first_player = (int)params[C4_P_FIRST];
    e->noise = (float)params[C4_P_NOISE];
}

static void c4_reset(void* env) {
    Connect4* e = env;
    c4_new_game(e);
    c4_write_obs(e, e->h.obs);
}

// outcome: 1 win, -1 loss, 0 draw, 2 illegal (a loss).
static void c4_end(Connect4* e, int outcome) {
    float reward = outcome == 1 ? 1.f : (outcome == 0 ? 0.f : -1.f);
    e->h.rewards[0] = reward;
    e->h.terminals[0] = 1;
    float values[C4_NUM_LOG] = {reward, (float)e->steps, outcome == 1 ? 1.f : 0.f, outcome == 1 ? 1.f : 0.f,
                                outcome == -1 || outcome == 2 ? 1.f : 0.f, outcome == 0 ? 1.f : 0.f,
                                outcome == 2 ? 1.f : 0.f};
    ocean_log_episode(&e->h, values, C4_NUM_LOG);
    c4_new_game(e);
}

static int c4_play(Connect4* e, int col) {
    e->steps++;
    if (e->heights[col] >= C4_ROWS) return 2;
    e->mine |= c4_move_bit(e, col);
    e->heights[col]++;
    e->moves++;
    if (c4_wins(e->mine)) return 1;
    if (e->moves == C4_CELLS) return 0;
    int c = c4_opponent_col(e);
    e->theirs |= c4_move_bit(e, c);
    e->heights[c]++;
    e->moves++;
    if (c4_wins(e->theirs)) return -1;
    if (e->moves == C4_CELLS) return 0;
    return 3;  // game goes on
}

static void c4_step(void* env) {
    Connect4* e = env;
    int outcome = c4_play(e, e->h.actions[0]);  // column in [0, 7): checked by the dispatcher
    if (outcome != 3) c4_end(e, outcome);
    c4_write_obs(e, e->h.obs);
}

static void c4_render(const void* env, uint8_t* rgb, int width, int height) {
    const Connect4* e = env;
    ocean_fill_rect(rgb, width, height, 0, 0, width, height, 30, 60, 170);
    for (int r = 0; r < C4_ROWS; r++) {
        for (int c = 0; c < C4_COLS; c++) {
            uint64_t bit = 1ull << (c * C4_H + (C4_ROWS - 1 - r));
            uint8_t cr = 16, cg = 16, cb = 24;
            if (e->mine & bit) { cr = 220; cg = 50; cb = 50; }
            else if (e->theirs & bit) { cr = 235; cg = 205; cb = 40; }
            ocean_fill_circle(rgb, width, height, c * C4_CELL_PX + C4_CELL_PX / 2, r * C4_CELL_PX + C4_CELL_PX / 2,
                              C4_CELL_PX / 2 - 3, cr, cg, cb);
        }
    }
}

// 'X' the agent, 'O' the opponent, '.' empty; top row first, then the column numbers.
static int c4_render_ansi(const void* env, char* out, int cap) {
    const Connect4* e = env;
    int k = 0;
    for (int r = 0; r < C4_ROWS; r++) {
        for (int c = 0; c < C4_COLS; c++) {
            uint64_t bit = 1ull << (c * C4_H + (C4_ROWS - 1 - r));
            if (k < cap - 1) out[k++] = (e->mine & bit) ? 'X' : ((e->theirs & bit) ? 'O' : '.');
        }
        if (k < cap - 1) out[k++] = '\n';
    }
    for (int c = 0; c < C4_COLS; c++)
        if (k < cap - 1) out[k++] = (char)('0' + c);
    if (k < cap - 1) out[k++] = '\n';
    out[k] = '\0';
    return k;
}

// Test hook (tests reach it through the library's exported symbols): set the board from 42 cells, row-major
// from the top row, 0 empty, 1 the agent's disc, 2 the opponent's. Returns -1 (board unchanged) when a value
// is out of range or a disc floats above an empty cell.
OCEAN_API int ocean_connect4_set_board(void* env, const int8_t* cells) {
    Connect4* e = env;
    if (!cells) return -1;
    uint64_t mine = 0, theirs = 0;
    int heights[C4_COLS] = {0}, moves = 0;
    for (int c = 0; c < C4_COLS; c++) {
        for (int row = 0; row < C4_ROWS; row++) {
            int v = cells[(C4_ROWS - 1 - row) * C4_COLS + c];
            if (v < 0 || v > 2) return -1;
            if (v == 0) continue;
            if (heights[c] != row) return -1;  // floating disc
            uint64_t bit = 1ull << (c * C4_H + row);
            if (v == 1) mine |= bit;
            else theirs |= bit;
            heights[c]++;
            moves++;
        }
    }
    e->mine = mine;
    e->theirs = theirs;
    memcpy(e->heights, heights, sizeof(heights));
    e->moves = moves;
    c4_write_obs(e, e->h.obs);
    return 0;
}

const OceanEnvDef ocean_env_connect4 = {
    .abi_version = OCEAN_ABI_VERSION,
    .name = "connect4",
    .obs_dtype = OCEAN_OBS_F32,
    .obs_low = -1,
    .obs_high = 1,
    .act_dims = 0,
    .act_n = {C4_COLS},
    .num_params = C4_NUM_PARAMS,
    .params = C4_PARAMS,
    .num_log = C4_NUM_LOG,
    .log_names = C4_LOG,
    .layout = c4_layout,
    .init = c4_init,
    .reset = c4_reset,
    .step = c4_step,
    .render = c4_render,
    .render_ansi = c4_render_ansi,
};
