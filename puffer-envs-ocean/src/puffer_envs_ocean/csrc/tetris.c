// tetris: the PufferLib 3.0 ocean game. Pieces are drawn uniformly at random (no bag) into a queue of
// `deck_size` (the current piece and the previews), there are no wall kicks, a piece falls one row every 4
// steps, soft and hard drops pay per row, line clears pay 0.1/0.3/0.5/1.0, and one hold per placed piece.
//
// State is kept compact for speed: the board is one bit mask per row (bit c = column c), and the observation
// is updated incrementally: only the falling piece's old and new cells and six scalars change on most steps;
// the board part is rewritten after a line clear or a new game, the queue part when the queue changes.
#include "ocean.h"

enum {
    TT_PIECES = 7,  // ids, as in the observation: O I S Z T L J
    TT_NO_HOLD = -1,
    TT_FALL_TICKS = 4,  // steps between automatic one-row falls
    TT_MAX_TICKS = 10000,  // the episode ends at the first placement from this step on
    TT_MAX_ROWS = 64,
    TT_MAX_COLS = 32,
    TT_MAX_DECK = 16,
    TT_SCALARS = 6,  // tick, fall tick, row, column, rotation, can hold
    TT_NACTIONS = 7,
    TT_CELL_PX = 8,
    TT_MINI_PX = 5,
};
enum { TA_NOOP = 0, TA_LEFT, TA_RIGHT, TA_ROTATE, TA_SOFT, TA_HARD, TA_HOLD };

// Shapes: [piece][rotation], row r of the piece box is the nibble at bits 4r..4r+3, bit c = column c. Every
// shape touches row 0 and column 0 of its box, so the box size below is also the piece's extent.
static const uint16_t TT_SHAPE[TT_PIECES][4] = {
    {0x0033, 0x0033, 0x0033, 0x0033},  // O
    {0x1111, 0x000F, 0x1111, 0x000F},  // I (vertical first)
    {0x0231, 0x0036, 0x0231, 0x0036},  // S
    {0x0132, 0x0063, 0x0132, 0x0063},  // Z
    {0x0232, 0x0072, 0x0131, 0x0027},  // T
    {0x0311, 0x0017, 0x0223, 0x0074},  // L
    {0x0322, 0x0071, 0x0113, 0x0047},  // J
};
static const uint8_t TT_WIDTH[TT_PIECES][4] = {
    {2, 2, 2, 2}, {1, 4, 1, 4}, {2, 3, 2, 3}, {2, 3, 2, 3}, {2, 3, 2, 3}, {2, 3, 2, 3}, {2, 3, 2, 3},
};
static const uint8_t TT_HEIGHT[TT_PIECES][4] = {
    {2, 2, 2, 2}, {4, 1, 4, 1}, {3, 2, 3, 2}, {3, 2, 3, 2}, {3, 2, 3, 2}, {3, 2, 3, 2}, {3, 2, 3, 2},
};
// Points and rewards for 0..4 lines cleared by one placement.
static const int TT_LINE_SCORE[5] = {0, 100, 300, 500, 1000};
static const float TT_LINE_REWARD[5] = {0.f, 0.1f, 0.3f, 0.5f, 1.0f};
#define TT_SOFT_SCORE 1
#define TT_SOFT_REWARD 0.01f
#define TT_HARD_SCORE 2  // per row fallen
#define TT_HARD_REWARD 0.02f
#define TT_PERF_SCORE 12565.f  // the reference's best score: perf = score / this
static const uint8_t TT_RGB[TT_PIECES][3] = {
    {255, 255, 0}, {0, 255, 255}, {0, 255, 0}, {255, 0, 0}, {128, 0, 128}, {255, 165, 0}, {0, 0, 255},
};

enum { TT_P_COLS = 0, TT_P_ROWS, TT_P_DECK, TT_NUM_PARAMS };
static const OceanParam TT_PARAMS[TT_NUM_PARAMS] = {
    {"n_cols", 10, 4, TT_MAX_COLS, 1, "board width"},
    {"n_rows", 20, 4, TT_MAX_ROWS, 1, "board height"},
    {"deck_size", 3, 1, TT_MAX_DECK, 1, "queue length: the current piece and deck_size - 1 previews"},
};
static const char* const TT_LOG[] = {"episode_return",     "episode_length",     "score",
                                     "perf",               "lines_deleted",      "avg_combo",
                                     "atn_frac_soft_drop", "atn_frac_hard_drop", "atn_frac_rotate"};
#define TT_NUM_LOG 9

typedef struct Tetris {
    OceanHeader h;  // must be first
    int cols, rows, deck_size, obs_size;
    uint32_t full;  // mask of a full row
    int piece, rot, row, col;  // falling piece: id, rotation, top-left of its box
    int tick, tick_fall, can_hold, hold;
    int deck_pos;  // deck[deck_pos] is the falling piece, the previews follow it (mod deck_size)
    int score, lines, clears, n_soft, n_hard, n_rotate;
    float ret;
    int redraw_board, redraw_deck;  // observation parts to rewrite at the end of the step
    uint8_t deck[TT_MAX_DECK];
    uint32_t board[TT_MAX_ROWS];
    uint8_t color[];  // rows * cols: piece id + 1 of each locked block (render only)
} Tetris;

static inline int tt_nibble(int piece, int rot, int r) { return (TT_SHAPE[piece][rot] >> (4 * r)) & 0xF; }

// Does the piece lie inside the board without covering a block?
static int tt_fits(const Tetris* e, int piece, int rot, int row, int col) {
    int w = TT_WIDTH[piece][rot], hgt = TT_HEIGHT[piece][rot];
    if (row < 0 || col < 0 || row + hgt > e->rows || col + w > e->cols) return 0;
    for (int r = 0; r < hgt; r++)
        if (e->board[row + r] & ((uint32_t)tt_nibble(piece, rot, r) << col)) return 0;
    return 1;
}

// The reference's hold test, kept as it plays: it looks at the held piece in the *current* rotation, one
// column right of the current box (a cell past the right edge reads the next row's first columns), although
// the swapped-in piece then appears at the spawn point in rotation 0. Cells past the board count as empty.
static int tt_hold_blocked(const Tetris* e) {
    for (int r = 0; r < 4; r++) {
        int bits = tt_nibble(e->hold, e->rot, r);
        for (int c = 0; c < 4; c++) {
            if (!(bits >> c & 1)) continue;
            int y = e->row + r, x = e->col + 1 + c;
            if (x >= e->cols) x -= e->cols, y++;
            if (y < e->rows && (e->board[y] >> x & 1)) return 1;
        }
    }
    return 0;
}

static void tt_spawn(Tetris* e, int piece) {
    e->piece = piece;
    e->rot = 0;
    e->row = 0;
    e->col = e->cols / 2;
    e->tick_fall = 0;
}

// The falling piece is done: its queue slot gets a fresh random piece (the queue's new last preview) and the
// next piece comes into play.
static void tt_advance(Tetris* e) {
    e->deck[e->deck_pos] = (uint8_t)ocean_rand_below(&e->h.rng, TT_PIECES);
    if (++e->deck_pos == e->deck_size) e->deck_pos = 0;
    tt_spawn(e, e->deck[e->deck_pos]);
    e->redraw_deck = 1;
}

static void tt_new_game(Tetris* e) {
    memset(e->board, 0, (size_t)e->rows * sizeof(e->board[0]));
    memset(e->color, 0, (size_t)e->rows * (size_t)e->cols);
    for (int j = 0; j < e->deck_size; j++) e->deck[j] = (uint8_t)ocean_rand_below(&e->h.rng, TT_PIECES);
    e->deck_pos = 0;
    tt_advance(e);  // as the reference does: the first queued piece is replaced before play starts
    e->hold = TT_NO_HOLD;
    e->can_hold = 1;
    e->tick = 0;
    e->score = e->lines = e->clears = e->n_soft = e->n_hard = e->n_rotate = 0;
    e->ret = 0.f;
    e->redraw_board = e->redraw_deck = 1;
}

// Where the falling piece was drawn in the observation at the start of a step.
typedef struct TtPose {
    int piece, rot, row, col;
} TtPose;

static void tt_obs_cells(const Tetris* e, float* obs, int piece, int rot, int row, int col, int paint);
static void tt_obs_board(const Tetris* e, float* obs);
static void tt_obs_tail(const Tetris* e, float* obs);

static void tt_end_episode(Tetris* e, int terminal, const TtPose* drawn) {
    float t = (float)e->tick;  // >= 1: placements happen in steps
    float values[TT_NUM_LOG] = {
        e->ret,
        t,
        (float)e->score,
        (float)e->score / TT_PERF_SCORE,
        (float)e->lines,
        e->clears > 0 ? (float)e->lines / (float)e->clears : 1.f,
        (float)e->n_soft / t,
        (float)e->n_hard / t,
        (float)e->n_rotate / t,
    };
    ocean_log_episode(&e->h, values, TT_NUM_LOG);
    e->h.terminals[0] = (uint8_t)terminal;
    e->h.truncations[0] = (uint8_t)!terminal;
    // Final observation: the board with the last piece locked (and its lines cleared), no falling piece (the
    // next one did not fit, or the time is up), and the scalars and queue as the episode left them. Updated
    // like a step's (tt_place has shown the locked cells, unless rows were cleared): the piece's cells as
    // drawn at the step's start show the board again. The new game then redraws everything.
    float* obs = e->h.obs;
    if (e->redraw_board) tt_obs_board(e, obs);
    else tt_obs_cells(e, obs, drawn->piece, drawn->rot, drawn->row, drawn->col, 0);
    tt_obs_tail(e, obs);
    ocean_keep_final_obs(&e->h, 0);
    tt_new_game(e);
}

// Lock the falling piece, clear full rows among the ones it covers, then bring in the next piece or end the
// episode. `drawn`: where the observation shows the piece (for the final observation). Returns the line-clear
// reward.
static float tt_place(Tetris* e, const TtPose* drawn) {
    int hgt = TT_HEIGHT[e->piece][e->rot];
    for (int r = 0; r < hgt; r++) {
        int bits = tt_nibble(e->piece, e->rot, r);
        e->board[e->row + r] |= (uint32_t)bits << e->col;
        uint8_t* cell = e->color + (e->row + r) * e->cols + e->col;
        for (int c = 0; c < 4; c++)
            if (bits >> c & 1) cell[c] = (uint8_t)(e->piece + 1);
    }
    // Only rows the piece covers can have become full. Compact them away from the bottom up.
    int n = 0;
    for (int y = e->row + hgt - 1; y >= e->row; y--) {
        if (e->board[y + n] != e->full) continue;
        int top = y + n;  // the full row's index after the n rows below it were removed
        memmove(&e->board[1], &e->board[0], (size_t)top * sizeof(e->board[0]));
        e->board[0] = 0;
        memmove(e->color + e->cols, e->color, (size_t)top * (size_t)e->cols);
        memset(e->color, 0, (size_t)e->cols);
        n++;
    }
    float reward = TT_LINE_REWARD[n];
    e->can_hold = 1;
    if (!n) tt_obs_cells(e, e->h.obs, e->piece, e->rot, e->row, e->col, 0);  // the locked cells now show 1
    if (n) {
        e->clears++;
        e->lines += n;
        e->score += TT_LINE_SCORE[n];
        e->ret += reward;
        e->redraw_board = 1;
    }
    // The game is over when the next piece cannot appear; the time limit is checked at placements only.
    int next = e->deck[e->deck_pos + 1 == e->deck_size ? 0 : e->deck_pos + 1];
    if (!tt_fits(e, next, 0, 0, e->cols / 2)) tt_end_episode(e, 1, drawn);
    else if (e->tick >= TT_MAX_TICKS) tt_end_episode(e, 0, drawn);
    else tt_advance(e);
    return reward;
}

// ---- observation --------------------------------------------------------------------------------------
static void tt_obs_cells(const Tetris* e, float* obs, int piece, int rot, int row, int col, int paint) {
    for (int r = 0; r < TT_HEIGHT[piece][rot]; r++) {
        int bits = tt_nibble(piece, rot, r);
        uint32_t line = e->board[row + r];
        float* o = obs + (row + r) * e->cols + col;
        for (int c = 0; c < 4; c++)
            if (bits >> c & 1) o[c] = paint ? 2.f : (float)(line >> (col + c) & 1);
    }
}

static void tt_obs_board(const Tetris* e, float* obs) {
    for (int y = 0; y < e->rows; y++) {
        uint32_t line = e->board[y];
        float* o = obs + y * e->cols;
        for (int x = 0; x < e->cols; x++) o[x] = (float)(line >> x & 1);
    }
}

// After the board: tick / 10000, fall tick / 4, row / rows, column / cols, rotation (raw 0..3), can hold;
// then one-hot queue entries and the held piece. The reference starts the queue's one-hots at offset 4 of
// this block, not 6, so the current piece's one-hot overwrites rotation (O) or can-hold (I) with 1 and the
// last two elements stay 0; we write the same values.
static void tt_obs_tail(const Tetris* e, float* obs) {
    float* t = obs + e->rows * e->cols;
    t[0] = (float)e->tick / (float)TT_MAX_TICKS;
    t[1] = (float)e->tick_fall / (float)TT_FALL_TICKS;
    t[2] = (float)e->row / (float)e->rows;
    t[3] = (float)e->col / (float)e->cols;
    t[4] = (float)e->rot;
    t[5] = (float)e->can_hold;
    if (e->redraw_deck) {
        float* q = t + 4;
        memset(t + TT_SCALARS, 0, (size_t)(e->obs_size - e->rows * e->cols - TT_SCALARS) * sizeof(float));
        for (int j = 0, p = e->deck_pos; j < e->deck_size; j++, p = p + 1 == e->deck_size ? 0 : p + 1)
            q[j * TT_PIECES + e->deck[p]] = 1.f;
        if (e->hold != TT_NO_HOLD) q[e->deck_size * TT_PIECES + e->hold] = 1.f;
    }
    if (e->piece < 2) t[4 + e->piece] = 1.f;
}

static void tt_obs_full(Tetris* e) {
    float* obs = e->h.obs;
    tt_obs_board(e, obs);
    tt_obs_cells(e, obs, e->piece, e->rot, e->row, e->col, 1);
    e->redraw_deck = 1;
    tt_obs_tail(e, obs);
    e->redraw_board = e->redraw_deck = 0;
}

// ---- env interface ------------------------------------------------------------------------------------
static int tt_obs_size(int rows, int cols, int deck) { return rows * cols + TT_SCALARS + TT_PIECES * (deck + 1); }

static void tt_layout(const double* params, OceanLayout* out) {
    int cols = (int)params[TT_P_COLS], rows = (int)params[TT_P_ROWS], deck = (int)params[TT_P_DECK];
    out->state_bytes = sizeof(Tetris) + (size_t)rows * (size_t)cols;
    out->agents = 1;
    out->obs_ndim = 1;
    out->obs_shape[0] = tt_obs_size(rows, cols, deck);
    out->render_width = cols * TT_CELL_PX + 6 * TT_MINI_PX;
    out->render_height = rows * TT_CELL_PX;
}

static void tt_init(void* env, const double* params) {
    Tetris* e = env;
    e->cols = (int)params[TT_P_COLS];
    e->rows = (int)params[TT_P_ROWS];
    e->deck_size = (int)params[TT_P_DECK];
    e->obs_size = tt_obs_size(e->rows, e->cols, e->deck_size);
    e->full = e->cols == 32 ? 0xFFFFFFFFu : (1u << e->cols) - 1u;
}

static void tt_reset(void* env) {
    Tetris* e = env;
    tt_new_game(e);
    tt_obs_full(e);
}

static void tt_step(void* env) {
    Tetris* e = env;
    const TtPose old = {e->piece, e->rot, e->row, e->col};
    float reward = 0.f;
    e->tick++;
    e->tick_fall++;
    switch (e->h.actions[0]) {  // in [0, 7): checked by the dispatcher
    case TA_LEFT:
        if (tt_fits(e, e->piece, e->rot, e->row, e->col - 1)) e->col--;
        break;
    case TA_RIGHT:
        if (tt_fits(e, e->piece, e->rot, e->row, e->col + 1)) e->col++;
        break;
    case TA_ROTATE:  // no kicks: a blocked rotation does nothing
        e->n_rotate++;
        if (tt_fits(e, e->piece, (e->rot + 1) & 3, e->row, e->col)) e->rot = (e->rot + 1) & 3;
        break;
    case TA_SOFT:  // one row down, or nothing: a soft drop never locks the piece
        e->n_soft++;
        if (tt_fits(e, e->piece, e->rot, e->row + 1, e->col)) {
            e->row++;
            e->score += TT_SOFT_SCORE;
            reward += TT_SOFT_REWARD;
            e->ret += TT_SOFT_REWARD;
        }
        break;
    case TA_HARD:
        e->n_hard++;
        while (tt_fits(e, e->piece, e->rot, e->row + 1, e->col)) {
            e->row++;
            e->score += TT_HARD_SCORE;
            reward += TT_HARD_REWARD;
            e->ret += TT_HARD_REWARD;
        }
        reward += tt_place(e, &old);
        break;
    case TA_HOLD:
        if (!e->can_hold || (e->hold != TT_NO_HOLD && tt_hold_blocked(e))) break;
        if (e->hold == TT_NO_HOLD) {
            e->hold = e->piece;
            tt_advance(e);
        } else {
            int held = e->hold;
            e->hold = e->piece;
            e->deck[e->deck_pos] = (uint8_t)held;
            tt_spawn(e, held);
            e->redraw_deck = 1;
        }
        e->can_hold = 0;
        break;
    default:
        break;
    }
    // Gravity. A piece placed or swapped in this step (or a new game) has restarted the count.
    if (e->tick_fall == TT_FALL_TICKS) {
        e->tick_fall = 0;
        if (tt_fits(e, e->piece, e->rot, e->row + 1, e->col)) e->row++;
        else reward += tt_place(e, &old);
    }
    e->h.rewards[0] = reward;

    float* obs = e->h.obs;
    if (e->redraw_board) tt_obs_board(e, obs);
    else tt_obs_cells(e, obs, old.piece, old.rot, old.row, old.col, 0);  // old cells show the board again
    tt_obs_cells(e, obs, e->piece, e->rot, e->row, e->col, 1);
    tt_obs_tail(e, obs);
    e->redraw_board = e->redraw_deck = 0;
}

// ---- render -------------------------------------------------------------------------------------------
static void tt_draw_mini(uint8_t* rgb, int width, int height, int piece, int x0, int y0) {
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            if (tt_nibble(piece, 0, r) >> c & 1)
                ocean_fill_rect(rgb, width, height, x0 + c * TT_MINI_PX, y0 + r * TT_MINI_PX, TT_MINI_PX - 1,
                                TT_MINI_PX - 1, TT_RGB[piece][0], TT_RGB[piece][1], TT_RGB[piece][2]);
}

// Board with the falling piece; on the right, the held piece (top, under a grey bar) and then the previews.
static void tt_render(const void* env, uint8_t* rgb, int width, int height) {
    const Tetris* e = env;
    ocean_fill_rect(rgb, width, height, 0, 0, width, height, 40, 40, 52);
    for (int y = 0; y < e->rows; y++)
        for (int x = 0; x < e->cols; x++) {
            int id = e->color[y * e->cols + x];
            const uint8_t* c = id ? TT_RGB[id - 1] : (const uint8_t[3]){0, 0, 0};
            ocean_fill_rect(rgb, width, height, x * TT_CELL_PX, y * TT_CELL_PX, TT_CELL_PX - 1, TT_CELL_PX - 1, c[0],
                            c[1], c[2]);
        }
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++)
            if (tt_nibble(e->piece, e->rot, r) >> c & 1)
                ocean_fill_rect(rgb, width, height, (e->col + c) * TT_CELL_PX, (e->row + r) * TT_CELL_PX,
                                TT_CELL_PX - 1, TT_CELL_PX - 1, TT_RGB[e->piece][0], TT_RGB[e->piece][1],
                                TT_RGB[e->piece][2]);
    int x0 = e->cols * TT_CELL_PX + TT_MINI_PX;
    ocean_fill_rect(rgb, width, height, x0, 0, 4 * TT_MINI_PX, 2, 120, 120, 120);
    if (e->hold != TT_NO_HOLD) tt_draw_mini(rgb, width, height, e->hold, x0, 4);
    for (int j = 1, p = e->deck_pos; j < e->deck_size; j++) {
        p = p + 1 == e->deck_size ? 0 : p + 1;
        tt_draw_mini(rgb, width, height, e->deck[p], x0, 4 + j * 5 * TT_MINI_PX);
    }
}

// '#' locked block, '@' falling piece, '.' empty; then a line "next: <ids> hold: <id or ->".
static int tt_render_ansi(const void* env, char* out, int cap) {
    const Tetris* e = env;
    static const char NAMES[TT_PIECES] = {'O', 'I', 'S', 'Z', 'T', 'L', 'J'};
    int k = 0;
#define TT_PUT(ch)                   \
    do {                             \
        if (k < cap - 1) out[k++] = (ch); \
    } while (0)
    for (int y = 0; y < e->rows; y++) {
        for (int x = 0; x < e->cols; x++) {
            int r = y - e->row, c = x - e->col;
            int falling = r >= 0 && r < 4 && c >= 0 && c < 4 && (tt_nibble(e->piece, e->rot, r) >> c & 1);
            TT_PUT(falling ? '@' : (e->board[y] >> x & 1) ? '#' : '.');
        }
        TT_PUT('\n');
    }
    const char* label = "next:";
    for (int i = 0; label[i]; i++) TT_PUT(label[i]);
    for (int j = 1, p = e->deck_pos; j < e->deck_size; j++) {
        p = p + 1 == e->deck_size ? 0 : p + 1;
        TT_PUT(' ');
        TT_PUT(NAMES[e->deck[p]]);
    }
    label = " hold: ";
    for (int i = 0; label[i]; i++) TT_PUT(label[i]);
    TT_PUT(e->hold == TT_NO_HOLD ? '-' : NAMES[e->hold]);
#undef TT_PUT
    if (cap > 0) out[k] = '\0';
    return k;
}

// ---- test hooks (tests reach them through the library's exported symbols); 0, or -1 on bad input ------
// Set board row y (0 = top) from a mask, bit x = column x filled.
OCEAN_API int ocean_tetris_set_row(void* env, int y, uint32_t mask) {
    Tetris* e = env;
    if (y < 0 || y >= e->rows || (mask & ~e->full)) return -1;
    e->board[y] = mask;
    for (int x = 0; x < e->cols; x++) e->color[y * e->cols + x] = (uint8_t)((mask >> x & 1) ? 1 : 0);
    tt_obs_full(e);
    return 0;
}

// Replace the falling piece (id 0..6 = O I S Z T L J, rotation, top-left of its box; it must fit) and, when
// preview >= 0, queue entry `slot` (1 = the next piece) with piece `preview`.
OCEAN_API int ocean_tetris_set_piece(void* env, int piece, int rot, int row, int col, int slot, int preview) {
    Tetris* e = env;
    if (piece < 0 || piece >= TT_PIECES || rot < 0 || rot > 3 || preview >= TT_PIECES ||
        (preview >= 0 && (slot < 1 || slot >= e->deck_size)))
        return -1;
    if (!tt_fits(e, piece, rot, row, col)) return -1;
    e->piece = piece;
    e->deck[e->deck_pos] = (uint8_t)piece;
    e->rot = rot;
    e->row = row;
    e->col = col;
    if (preview >= 0) e->deck[(e->deck_pos + slot) % e->deck_size] = (uint8_t)preview;
    tt_obs_full(e);
    return 0;
}

// Set the step counters (tick in [0, 10^6], fall tick in [0, 3]) and the held piece (-1 = none).
OCEAN_API int ocean_tetris_set_clock(void* env, int tick, int tick_fall, int hold, int can_hold) {
    Tetris* e = env;
    if (tick < 0 || tick > 1000000 || tick_fall < 0 || tick_fall >= TT_FALL_TICKS || hold < -1 ||
        hold >= TT_PIECES || can_hold < 0 || can_hold > 1)
        return -1;
    e->tick = tick;
    e->tick_fall = tick_fall;
    e->hold = hold;
    e->can_hold = can_hold;
    tt_obs_full(e);
    return 0;
}

const OceanEnvDef ocean_env_tetris = {
    .abi_version = OCEAN_ABI_VERSION,
    .name = "tetris",
    .obs_dtype = OCEAN_OBS_F32,
    .obs_low = 0,
    .obs_high = 3,  // rotation is written raw (0..3); everything else is in [0, 2]
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
