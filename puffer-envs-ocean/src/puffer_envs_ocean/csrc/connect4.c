// connect4: the agent (moving first) drops discs into a 6x7 board against a scripted opponent that answers in
// the same step. Rules are PufferLib 3.0's connect4 (see connect4.py for the full description):
//   * four in a row (vertical, horizontal, either diagonal) ends the game: +1 for the agent's four, -1 for the
//     opponent's;
//   * a move into a full column is illegal and loses (-1). There is no draw: when the opponent fills the
//     board the agent's next move has no legal column, so it loses the same way;
//   * the default opponent (opponent=0): two book replies to the agent's first disc, else the leftmost column
//     that wins at once, else a 3-ply lookahead score (below) minimised, ties broken uniformly at random.
//     opponent=1 is the simpler win, else block, else random opponent.
//
// Lookahead score of an opponent move m (exactly the reference's numbers): it is not a minimax value but a
// sum over every continuation of the agent's reply r, the opponent's answer a and the agent's next move q:
//     score(m) = sum_r [ 100 if r wins, else sum_a ( -10 if a wins, else #{q that win} ) ]
// and the opponent plays the m of smallest score. (The reference also scores the two-disc position
// {bottom of column 5, bottom of column 6} as if the game were over, i.e. 0: every two-disc position scores
// 0 anyway, as nobody can complete four in the three plies that follow, so nothing special is needed.)
// Rather than walking the ~2800 nodes the reference visits, we sum the innermost two plies in closed form
// from threat bitboards (cells that would complete a four): about 20 threat computations per move.
//
// Bitboards: bit (col * 7 + row), row 0 at the bottom; the 7th bit of each column stays empty so that
// shifted patterns never wrap from one column into the next.
#include "ocean.h"

enum { C4_ROWS = 6, C4_COLS = 7, C4_CELLS = 42, C4_H = 7 };
enum { C4_P_OPPONENT = 0, C4_P_NOISE, C4_NUM_PARAMS };
enum { C4_OPP_LOOKAHEAD = 0, C4_OPP_GREEDY = 1 };

static const OceanParam C4_PARAMS[C4_NUM_PARAMS] = {
    {"opponent", 0, 0, 1, 1,
     "0: the reference's opponent (opening book, 3-ply lookahead); 1: win, else block, else random"},
    {"opponent_noise", 0, 0, 1, 0, "probability that the opponent plays a uniformly random legal column instead"},
};

static const char* const C4_LOG[] = {"episode_return", "episode_length", "score", "perf", "illegal"};
#define C4_NUM_LOG 5
#define C4_CELL_PX 24

#define C4_BOTTOM 0x0040810204081ull         // row 0 of every column
#define C4_BOARD (C4_BOTTOM * 0x3Full)       // the 42 playable cells
#define C4_COL(c) (0x3Full << ((c) * C4_H))  // the 6 cells of column c

typedef struct Connect4 {
    OceanHeader h;  // must be first
    int opponent;
    float noise;
    uint64_t mine, theirs;  // bitboards of the agent's and the opponent's discs
    int steps;              // agent moves this game
} Connect4;

static inline int c4_popcount(uint64_t x) {
    // SWAR: the wheel is built without -mpopcnt, and the builtin would become a library call.
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (int)((x * 0x0101010101010101ull) >> 56);
}

// The lowest empty cell of every column that is not full.
static inline uint64_t c4_playable(uint64_t mask) { return (mask + C4_BOTTOM) & C4_BOARD; }

static inline int c4_wins(uint64_t b) {
    static const int SHIFTS[4] = {1, C4_H, C4_H - 1, C4_H + 1};  // vertical, horizontal, both diagonals
    for (int k = 0; k < 4; k++) {
        int s = SHIFTS[k];
        uint64_t m = b & (b >> s);
        if (m & (m >> (2 * s))) return 1;
    }
    return 0;
}

// Cells (occupied or not) that would complete a four together with three discs of b.
static inline uint64_t c4_threats(uint64_t b) {
    uint64_t r = (b << 1) & (b << 2) & (b << 3);  // vertical: only three below
    static const int SHIFTS[3] = {C4_H, C4_H - 1, C4_H + 1};
    for (int k = 0; k < 3; k++) {
        int s = SHIFTS[k];
        uint64_t lo = (b << s) & (b << (2 * s));  // two discs on the lower side
        r |= lo & ((b << (3 * s)) | (b >> s));
        uint64_t hi = (b >> s) & (b >> (2 * s));  // two discs on the upper side
        r |= hi & ((b << s) | (b >> (3 * s)));
    }
    return r & C4_BOARD;
}

static inline int c4_lowest_col(uint64_t cells) {
    for (int c = 0; c < C4_COLS; c++)
        if (cells & C4_COL(c)) return c;
    return -1;
}

// The agent's possible replies: in each column, the cell playable now (level 0) or, in the column of the
// opponent's move m, the cell above it (level 1), with the agent's threats after that reply. Computed once per
// opponent turn rather than once per (m, reply) pair: 14 threat computations instead of 49.
typedef struct C4Replies {
    uint64_t cell[2][C4_COLS];     // 0 when there is no such cell (full column)
    uint64_t threats[2][C4_COLS];  // the agent's threats after a disc on cell[level][col]
    uint64_t now;                  // the agent's threats before its reply: a reply there wins
} C4Replies;

// The score of the opponent's move in column mcol (agent to move, nobody has four; mask holds the move).
// Closed form of the last two plies: after the agent's reply r and an opponent answer x that does not win,
// the agent's winning moves are its threats among the cells playable after x: the cells playable before x,
// minus x, plus the cell above x. Summed over the quiet answers x (q) with playable cells p and threats t:
//     |q| * |t & p| - |q & t| + |(q << 1) & t|.
static int c4_score(const C4Replies* rep, uint64_t opp, uint64_t mask, int mcol) {
    uint64_t opp_threats = c4_threats(opp);
    int score = 0;
    for (int c = 0; c < C4_COLS; c++) {
        int level = c == mcol;
        uint64_t r = rep->cell[level][c];
        if (!r) continue;
        if (r & rep->now) {
            score += 100;
            continue;
        }
        uint64_t p = c4_playable(mask | r), t = rep->threats[level][c];
        uint64_t opp_wins = opp_threats & p, quiet = p & ~opp_wins;
        if (opp_wins) score -= 10 * c4_popcount(opp_wins);
        if (t & (p | (p << 1)))  // threats are rare: skip the counting when none can be reached
            score += c4_popcount(quiet) * c4_popcount(t & p) - c4_popcount(quiet & t) +
                     c4_popcount((quiet << 1) & t);
    }
    return score;
}

// The columns the reference's opponent may play now (a bit per column; a uniform pick among them is its
// move). scores[c] gets the lookahead score of column c when the search decides, else 0; INT32_MAX marks a
// full column.
static unsigned c4_lookahead_choices(const Connect4* e, int scores[C4_COLS]) {
    uint64_t mask = e->mine | e->theirs, playable = c4_playable(mask);
    for (int c = 0; c < C4_COLS; c++) scores[c] = (playable & C4_COL(c)) ? 0 : INT32_MAX;
    // Opening book: the reference answers an agent's first disc in column 3 with column 2, and in column 4
    // with column 3.
    if (e->theirs == 0 && e->mine == 1ull << (3 * C4_H)) return 1u << 2;
    if (e->theirs == 0 && e->mine == 1ull << (4 * C4_H)) return 1u << 3;
    uint64_t wins = c4_threats(e->theirs) & playable;
    if (wins) return 1u << c4_lowest_col(wins);
    C4Replies rep;
    rep.now = c4_threats(e->mine);
    for (int c = 0; c < C4_COLS; c++) {
        uint64_t low = playable & C4_COL(c), high = (low << 1) & C4_BOARD;
        rep.cell[0][c] = low;
        rep.cell[1][c] = high;
        rep.threats[0][c] = low ? c4_threats(e->mine | low) : 0;
        rep.threats[1][c] = high ? c4_threats(e->mine | high) : 0;
    }
    int best = INT32_MAX;
    unsigned choices = 0;
    for (int c = 0; c < C4_COLS; c++) {
        uint64_t m = rep.cell[0][c];
        if (!m) continue;
        int s = c4_score(&rep, e->theirs | m, mask | m, c);
        scores[c] = s;
        if (s < best) {
            best = s;
            choices = 0;
        }
        if (s == best) choices |= 1u << c;
    }
    return choices;
}

// The old greedy opponent: win, else block the agent's immediate win, else any legal column.
static unsigned c4_greedy_choices(const Connect4* e) {
    uint64_t playable = c4_playable(e->mine | e->theirs);
    uint64_t wins = c4_threats(e->theirs) & playable;
    if (wins) return 1u << c4_lowest_col(wins);
    uint64_t blocks = c4_threats(e->mine) & playable;
    if (blocks) return 1u << c4_lowest_col(blocks);
    unsigned choices = 0;
    for (int c = 0; c < C4_COLS; c++)
        if (playable & C4_COL(c)) choices |= 1u << c;
    return choices;
}

static unsigned c4_legal_columns(const Connect4* e) {
    uint64_t playable = c4_playable(e->mine | e->theirs);
    unsigned cols = 0;
    for (int c = 0; c < C4_COLS; c++)
        if (playable & C4_COL(c)) cols |= 1u << c;
    return cols;
}

// The opponent's column (the board is never full when it moves: the agent moves on even disc counts).
static int c4_opponent_col(Connect4* e) {
    unsigned choices;
    int scores[C4_COLS];
    if (e->noise > 0.f && ocean_rand_float(&e->h.rng) < e->noise) choices = c4_legal_columns(e);
    else if (e->opponent == C4_OPP_LOOKAHEAD) choices = c4_lookahead_choices(e, scores);
    else choices = c4_greedy_choices(e);
    int n = c4_popcount(choices);
    int pick = n > 1 ? (int)ocean_rand_below(&e->h.rng, (uint32_t)n) : 0;
    for (int c = 0; c < C4_COLS; c++) {
        if (!(choices & (1u << c))) continue;
        if (pick-- == 0) return c;
    }
    return 0;  // unreachable: choices is never empty
}

// Observation: 42 floats, column-major from column 0, bottom row first (index col * 6 + row);
// +1 the agent's disc, -1 the opponent's, 0 empty. Written one disc at a time during a game.
static void c4_write_obs(const Connect4* e) {
    float* obs = e->h.obs;
    for (int c = 0; c < C4_COLS; c++) {
        for (int r = 0; r < C4_ROWS; r++) {
            uint64_t bit = 1ull << (c * C4_H + r);
            obs[c * C4_ROWS + r] = (e->mine & bit) ? 1.f : ((e->theirs & bit) ? -1.f : 0.f);
        }
    }
}

// Drops a disc into a column known to be legal; returns the new bitboard of that player.
static inline uint64_t c4_drop(Connect4* e, uint64_t discs, int col, float value) {
    uint64_t mask = e->mine | e->theirs;
    int row = c4_popcount(mask & C4_COL(col));
    ((float*)e->h.obs)[col * C4_ROWS + row] = value;
    return discs | (1ull << (col * C4_H + row));
}

static void c4_new_game(Connect4* e) {
    e->mine = e->theirs = 0;
    e->steps = 0;
    memset(e->h.obs, 0, C4_CELLS * sizeof(float));
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
    e->opponent = (int)params[C4_P_OPPONENT];
    e->noise = (float)params[C4_P_NOISE];
}

static void c4_reset(void* env) { c4_new_game(env); }

static void c4_end(Connect4* e, float reward, int illegal) {
    e->h.rewards[0] = reward;
    e->h.terminals[0] = 1;
    float values[C4_NUM_LOG] = {reward, (float)e->steps, reward, reward > 0.f ? 1.f : 0.f, (float)illegal};
    ocean_log_episode(&e->h, values, C4_NUM_LOG);
    ocean_keep_final_obs(&e->h, 0);  // obs is kept current disc by disc: it shows the final board already
    c4_new_game(e);  // auto-reset: the observation is the next game's empty board
}

static void c4_step(void* env) {
    Connect4* e = env;
    int col = e->h.actions[0];  // in [0, 7): checked by the dispatcher
    e->steps++;
    if (!(c4_playable(e->mine | e->theirs) & C4_COL(col))) {
        c4_end(e, -1.f, 1);
        return;
    }
    e->mine = c4_drop(e, e->mine, col, 1.f);
    if (c4_wins(e->mine)) {
        c4_end(e, 1.f, 0);
        return;
    }
    // The agent moves on even disc counts, so the opponent always has a legal column here.
    e->theirs = c4_drop(e, e->theirs, c4_opponent_col(e), -1.f);
    if (c4_wins(e->theirs)) c4_end(e, -1.f, 0);
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
    for (int c = 0; c < C4_COLS; c++) {
        int height = 0;
        for (int row = 0; row < C4_ROWS; row++) {
            int v = cells[(C4_ROWS - 1 - row) * C4_COLS + c];
            if (v < 0 || v > 2) return -1;
            if (v == 0) continue;
            if (height != row) return -1;  // floating disc
            uint64_t bit = 1ull << (c * C4_H + row);
            if (v == 1) mine |= bit;
            else theirs |= bit;
            height++;
        }
    }
    e->mine = mine;
    e->theirs = theirs;
    c4_write_obs(e);
    return 0;
}

// Test hook: the opponent's candidate columns in the current position (as if it were its turn), a bit per
// column, from the opponent the instance was made with (noise ignored); scores as c4_lookahead_choices.
OCEAN_API unsigned ocean_connect4_choices(void* env, int* scores) {
    Connect4* e = env;
    int local[C4_COLS];
    if (!scores) scores = local;
    if (c4_legal_columns(e) == 0) return 0;
    if (e->opponent == C4_OPP_LOOKAHEAD) return c4_lookahead_choices(e, scores);
    for (int c = 0; c < C4_COLS; c++) scores[c] = 0;
    return c4_greedy_choices(e);
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
