// breakout: the Breakout of PufferLib 3.0's ocean suite (its rules and numbers; our own code).
//
// A 576x330 field (y grows downwards), a wall of 6x18 bricks 50 px below the top, a 62x8 paddle 10 px above
// the bottom and a 32x32 ball. Speeds are kept in px per second of a 60 Hz game; one frame moves the ball by
// speed / 60 px. An agent step repeats its action for `frameskip` frames.
//
// Collisions are swept: in each frame the ball's box travels along its velocity and the first face it
// crosses wins (a brick face towards the ball, a side or back wall, the top of the paddle). Ties in time go
// to the larger overlap, then to the first candidate tried (bricks row by row, side wall, back wall, paddle):
// the reference resolves them that way and the order decides which of two bricks breaks. A ball that hits a
// brick or wall stops at the contact point for the rest of the frame and is mirrored; a ball that hits the
// paddle does not move in that frame and leaves at an angle set by where it landed.
#include "ocean.h"

#define BO_FPS 60.f
#define BO_SPEED_START 256.f       // px/s at every serve
#define BO_SPEED_STEP 64.f         // added every 4th paddle hit of a ball...
#define BO_SPEED_MAX 448.f         // ...up to this, which a brick of the top three rows sets at once
#define BO_PADDLE_SPEED (620.f / BO_FPS)
#define BO_WALL_TOP 50.f           // y of the top row of bricks
#define BO_PADDLE_GAP 10.f         // between the paddle's bottom and the field's bottom
#define BO_SERVE_ANGLE 0.96664716f // pi / 3.25 off vertical, downwards, left or right at random
#define BO_QUARTER_PI 0.78539816f  // the paddle sends the ball off at -45..45 degrees across its width
#define BO_VEL_NORM (1.f / 512.f)  // observation scale of a velocity in px/frame (the reference's)
#define BO_SPARE_BALLS 5           // balls after the first: the game ends when the sixth is lost
// A ball found outside the field (it can slip through a side wall when the paddle sends it back into the
// wall it touches) is pushed back in by 110% of the top speed's step, as the reference does.
#define BO_UNSTICK (BO_SPEED_MAX * 1.1f / BO_FPS)

enum { BO_HEAD = 10, BO_NACTIONS = 3, BO_NONE = -1, BO_SIDE = -2, BO_BACK = -3, BO_PADDLE = -4 };

static const float BO_MOVE[BO_NACTIONS] = {0.f, -BO_PADDLE_SPEED, BO_PADDLE_SPEED};

typedef struct Breakout {
    OceanHeader h;  // must be first
    // Parameters and what follows from them.
    int frameskip, max_steps, rows, cols, nbricks, wall_points, max_score;
    float width, height, paddle_full, paddle_h, ball_w, ball_h, ball_half, brick_w, brick_h, paddle_y;
    float inv_width, inv_height, inv_max_score, wall_bottom;
    float serve_vx, serve_vy;
    // Game state.
    float paddle_x, paddle_w, ball_x, ball_y, vx, vy, speed;
    int served, hits, balls, score, steps;
    uint8_t standing[];  // rows * cols, row-major from the top row; 1 = standing
} Breakout;

// Points of a brick: 7, 7, 4, 4, 1, 1 by row from the top.
static inline int bo_points(int row) { return 7 - 3 * (row >> 1); }

static inline float* bo_brick_obs(const Breakout* e) { return (float*)e->h.obs + BO_HEAD; }

// The earliest contact found so far in this frame.
typedef struct BoHit {
    float t, overlap, x, y;
    int what;  // brick index, or BO_SIDE / BO_BACK / BO_PADDLE / BO_NONE
    int flip;  // 0: mirror vx, 1: mirror vy
} BoHit;

// The ball's leading face on one axis sits at `face` and moves by `v` this frame; it reaches the line `line`
// at t = (line - face) / v. At that time the ball covers [lo + w * t, lo + w * t + size] on the other axis,
// which must overlap the face's extent [s0, s1]. `rest` is the ball's corner on the first axis at contact.
static inline void bo_try(BoHit* best, float line, float face, float v, float lo, float w, float size, float s0,
                          float s1, float rest, int what, int flip) {
    float t = (line - face) / v;
    if (!(t > 0.f && t <= 1.f)) return;
    float at = lo + w * t;
    float overlap = fminf(s1, at + size) - fmaxf(s0, at);
    if (overlap <= 0.f || t > best->t || (t == best->t && overlap <= best->overlap)) return;
    best->t = t;
    best->overlap = overlap;
    best->what = what;
    best->flip = flip;
    best->x = flip ? at : rest;
    best->y = flip ? rest : at;
}

// Standing bricks in the cells the ball's box sweeps this frame.
static void bo_try_bricks(const Breakout* e, BoHit* best) {
    float x = e->ball_x, y = e->ball_y, vx = e->vx, vy = e->vy;
    float top = vy < 0.f ? y + vy : y, bottom = (vy > 0.f ? y + vy : y) + e->ball_h;
    if (bottom < BO_WALL_TOP || top >= e->wall_bottom) return;
    float left = vx < 0.f ? x + vx : x, right = (vx > 0.f ? x + vx : x) + e->ball_w;
    // Divide (not multiply by an inverse): a ball that ends the frame exactly on a brick's face must still
    // find that brick's cell.
    int c0 = (int)floorf(left / e->brick_w), c1 = (int)floorf(right / e->brick_w);
    int r0 = (int)floorf((top - BO_WALL_TOP) / e->brick_h), r1 = (int)floorf((bottom - BO_WALL_TOP) / e->brick_h);
    c0 = c0 < 0 ? 0 : c0;
    r0 = r0 < 0 ? 0 : r0;
    c1 = c1 >= e->cols ? e->cols - 1 : c1;
    r1 = r1 >= e->rows ? e->rows - 1 : r1;
    // Only the faces turned towards the ball can be hit: pick them once for the whole scan.
    float face_x = vx > 0.f ? x + e->ball_w : x, face_y = vy > 0.f ? y + e->ball_h : y;
    float near_x = vx > 0.f ? 0.f : e->brick_w, near_y = vy > 0.f ? 0.f : e->brick_h;
    float rest_x = vx > 0.f ? -e->ball_w : 0.f, rest_y = vy > 0.f ? -e->ball_h : 0.f;
    for (int r = r0; r <= r1; r++) {
        float by = BO_WALL_TOP + (float)r * e->brick_h;
        const uint8_t* row = e->standing + r * e->cols;
        for (int c = c0; c <= c1; c++) {
            if (!row[c]) continue;
            float bx = (float)c * e->brick_w;
            int idx = r * e->cols + c;
            if (vx != 0.f)
                bo_try(best, bx + near_x, face_x, vx, y, vy, e->ball_h, by, by + e->brick_h, bx + near_x + rest_x,
                       idx, 0);
            if (vy != 0.f)
                bo_try(best, by + near_y, face_y, vy, x, vx, e->ball_w, bx, bx + e->brick_w, by + near_y + rest_y,
                       idx, 1);
        }
    }
}

static void bo_write_head(const Breakout* e) {
    float* o = e->h.obs;
    o[0] = e->paddle_x * e->inv_width;
    o[1] = e->paddle_y * e->inv_height;
    // The escaped-ball corner case above can put the ball's left edge a step past the right wall: the
    // observation stays inside its Box.
    o[2] = fminf(e->ball_x * e->inv_width, 1.f);
    o[3] = e->ball_y * e->inv_height;
    o[4] = e->vx * BO_VEL_NORM;
    o[5] = e->vy * BO_VEL_NORM;
    o[6] = (float)e->served * (1.f / BO_SPARE_BALLS);
    o[7] = (float)e->score * e->inv_max_score;
    o[8] = (float)e->balls * (1.f / BO_SPARE_BALLS);
    o[9] = e->paddle_w / e->paddle_full;
}

// Full paddle in the middle, the ball resting above it until the next frame serves it.
static void bo_new_ball(Breakout* e) {
    e->served = 0;
    e->hits = 0;
    e->speed = BO_SPEED_START;
    e->paddle_w = e->paddle_full;
    e->paddle_x = 0.5f * e->width - 0.5f * e->paddle_w;
    e->ball_x = e->paddle_x + (0.5f * e->paddle_w - e->ball_half);
    e->ball_y = (float)((int)e->height / 2 - 30);
    e->vx = 0.f;
    e->vy = 0.f;
}

// A full wall; its observation is "nothing broken".
static void bo_build_wall(Breakout* e) {
    memset(e->standing, 1, (size_t)e->nbricks);
    memset(bo_brick_obs(e), 0, (size_t)e->nbricks * sizeof(float));
}

static void bo_new_game(Breakout* e) {
    e->score = 0;
    e->steps = 0;
    e->balls = BO_SPARE_BALLS;
    bo_build_wall(e);
    bo_new_ball(e);
}

static void bo_paddle_bounce(Breakout* e) {
    float across = (e->ball_x + e->ball_half - e->paddle_x) / e->paddle_w;  // 0 left end, 1 right end
    float angle = BO_QUARTER_PI * (2.f * across - 1.f);
    float v = e->speed * (1.f / BO_FPS);
    e->vx = v * sinf(angle);
    e->vy = -v * cosf(angle);
    if (++e->hits % 4 == 0 && e->speed < BO_SPEED_MAX) e->speed += BO_SPEED_STEP;
    // The second wall appears once the first is cleared, when the ball next meets the paddle.
    if (e->score == e->wall_points) bo_build_wall(e);
}

// One frame. Returns 1 when the game ended in it.
static int bo_frame(Breakout* e, float move) {
    if (!e->served) {
        // The serve frame ignores the action.
        e->served = 1;
        e->vx = (ocean_rand_u64(&e->h.rng) & 1) ? e->serve_vx : -e->serve_vx;
        e->vy = e->serve_vy;
        move = 0.f;
    }
    e->paddle_x = ocean_clampf(e->paddle_x + move, 0.f, e->width - e->paddle_w);

    if (e->ball_x < 0.f) e->ball_x += BO_UNSTICK;
    if (e->ball_x > e->width) e->ball_x -= BO_UNSTICK;
    if (e->ball_y < 0.f) e->ball_y += BO_UNSTICK;

    float x = e->ball_x, y = e->ball_y, vx = e->vx, vy = e->vy;
    BoHit hit = {.t = 2.f, .overlap = -1.f, .what = BO_NONE};
    bo_try_bricks(e, &hit);
    if (vx < 0.f) bo_try(&hit, 0.f, x, vx, y, vy, e->ball_h, 0.f, e->height, 0.f, BO_SIDE, 0);
    if (vx > 0.f) bo_try(&hit, e->width, x + e->ball_w, vx, y, vy, e->ball_h, 0.f, e->height, e->width - e->ball_w,
                         BO_SIDE, 0);
    if (vy < 0.f) bo_try(&hit, 0.f, y, vy, x, vx, e->ball_w, 0.f, e->width, 0.f, BO_BACK, 1);
    // The paddle's top only counts when the ball's bottom gets down to it by the end of the frame.
    if (vy != 0.f && y + e->ball_h + vy >= e->paddle_y)
        bo_try(&hit, e->paddle_y, y + e->ball_h, vy, x, vx, e->ball_w, e->paddle_x, e->paddle_x + e->paddle_w,
               e->paddle_y - e->ball_h, BO_PADDLE, 1);

    if (hit.what == BO_NONE) {
        e->ball_x = x + vx;
        e->ball_y = y + vy;
    } else if (hit.what == BO_PADDLE) {
        bo_paddle_bounce(e);
    } else {
        e->ball_x = hit.x;
        e->ball_y = hit.y;
        if (hit.flip) e->vy = -vy;
        else e->vx = -vx;
        if (hit.what >= 0) {
            int row = hit.what / e->cols;
            e->standing[hit.what] = 0;
            bo_brick_obs(e)[hit.what] = 1.f;
            e->score += bo_points(row);
            if (row < 3) e->speed = BO_SPEED_MAX;
        } else if (hit.what == BO_BACK) {
            e->paddle_w = 0.5f * e->paddle_full;
        }
    }

    if (e->ball_y >= e->paddle_y + e->paddle_h) {
        if (--e->balls < 0) return 1;
        bo_new_ball(e);
    }
    return e->score == e->max_score;
}

enum {
    BO_P_FRAMESKIP = 0,
    BO_P_WIDTH,
    BO_P_HEIGHT,
    BO_P_PADDLE_W,
    BO_P_PADDLE_H,
    BO_P_BALL_W,
    BO_P_BALL_H,
    BO_P_BRICK_W,
    BO_P_BRICK_H,
    BO_P_ROWS,
    BO_P_COLS,
    BO_P_MAX_STEPS,
    BO_NUM_PARAMS
};

// Bounds keep every combination playable: the ball (<= 64 px) and the paddle (<= 128 px) fit the narrowest
// field, and rows stop at 6 because the row points 7 - 3 * (row / 2) turn negative below that.
static const OceanParam BO_PARAMS[BO_NUM_PARAMS] = {
    {"frameskip", 4, 1, 16, 1, "frames per agent step (the action repeats)"},
    {"width", 576, 160, 1024, 1, "field width in px"},
    {"height", 330, 160, 1024, 1, "field height in px"},
    {"paddle_width", 62, 2, 128, 1, "paddle width in px (halved once the ball reaches the back wall)"},
    {"paddle_height", 8, 1, 32, 1, "paddle height in px"},
    {"ball_width", 32, 1, 64, 1, "ball width in px"},
    {"ball_height", 32, 1, 64, 1, "ball height in px"},
    {"brick_width", 32, 1, 128, 1, "brick width in px"},
    {"brick_height", 12, 1, 64, 1, "brick height in px"},
    {"brick_rows", 6, 1, 6, 1, "rows of bricks (points 7, 7, 4, 4, 1, 1 from the top)"},
    {"brick_cols", 18, 1, 64, 1, "columns of bricks"},
    {"max_steps", 27000, 1, 1000000, 1, "agent steps before the episode is truncated (not in the reference)"},
};

static const char* const BO_LOG[] = {"episode_return", "episode_length", "score", "perf"};
#define BO_NUM_LOG 4

static void bo_layout(const double* params, OceanLayout* out) {
    int bricks = (int)params[BO_P_ROWS] * (int)params[BO_P_COLS];
    out->state_bytes = sizeof(Breakout) + (size_t)bricks;
    out->agents = 1;
    out->obs_ndim = 1;
    out->obs_shape[0] = BO_HEAD + bricks;
    out->render_width = (int)params[BO_P_WIDTH];
    out->render_height = (int)params[BO_P_HEIGHT];
}

static void bo_init(void* env, const double* params) {
    Breakout* e = env;
    e->frameskip = (int)params[BO_P_FRAMESKIP];
    e->max_steps = (int)params[BO_P_MAX_STEPS];
    e->width = (float)params[BO_P_WIDTH];
    e->height = (float)params[BO_P_HEIGHT];
    e->paddle_full = (float)params[BO_P_PADDLE_W];
    e->paddle_h = (float)params[BO_P_PADDLE_H];
    e->ball_w = (float)params[BO_P_BALL_W];
    e->ball_h = (float)params[BO_P_BALL_H];
    e->ball_half = (float)((int)params[BO_P_BALL_W] / 2);  // whole pixels, as the reference rounds it
    e->brick_w = (float)params[BO_P_BRICK_W];
    e->brick_h = (float)params[BO_P_BRICK_H];
    e->rows = (int)params[BO_P_ROWS];
    e->cols = (int)params[BO_P_COLS];
    e->nbricks = e->rows * e->cols;
    e->wall_points = 0;
    for (int r = 0; r < e->rows; r++) e->wall_points += e->cols * bo_points(r);
    e->max_score = 2 * e->wall_points;
    e->paddle_y = e->height - e->paddle_h - BO_PADDLE_GAP;
    e->wall_bottom = BO_WALL_TOP + (float)e->rows * e->brick_h;
    e->inv_width = 1.f / e->width;
    e->inv_height = 1.f / e->height;
    e->inv_max_score = 1.f / (float)e->max_score;
    e->serve_vx = BO_SPEED_START / BO_FPS * sinf(BO_SERVE_ANGLE);
    e->serve_vy = BO_SPEED_START / BO_FPS * cosf(BO_SERVE_ANGLE);
}

static void bo_reset(void* env) {
    Breakout* e = env;
    bo_new_game(e);
    bo_write_head(e);
}

static void bo_step(void* env) {
    Breakout* e = env;
    float move = BO_MOVE[e->h.actions[0]];  // in [0, 3): checked by the dispatcher
    int start = e->score, ended = 0;
    for (int f = 0; f < e->frameskip && !ended; f++) ended = bo_frame(e, move);
    float reward = (float)(e->score - start);
    e->h.rewards[0] = reward;
    e->steps++;
    if (ended || e->steps >= e->max_steps) {
        e->h.terminals[0] = (uint8_t)ended;
        e->h.truncations[0] = (uint8_t)!ended;
        float values[BO_NUM_LOG] = {(float)e->score, (float)e->steps, (float)e->score,
                                    (float)e->score * e->inv_max_score};
        ocean_log_episode(&e->h, values, BO_NUM_LOG);
        // Final observation: the game as it ended (the bricks part is current already). A lost game shows
        // its last ball below the paddle and -1/5 spare balls (none left, the last one lost).
        bo_write_head(e);
        ocean_keep_final_obs(&e->h, 0);
        bo_new_game(e);
    }
    bo_write_head(e);
}

static const uint8_t BO_ROW_RGB[6][3] = {
    {230, 41, 55}, {255, 161, 0}, {253, 249, 0}, {0, 228, 48}, {102, 191, 255}, {0, 121, 241},
};

static void bo_render(const void* env, uint8_t* rgb, int width, int height) {
    const Breakout* e = env;
    ocean_fill_rect(rgb, width, height, 0, 0, width, height, 6, 24, 24);
    for (int r = 0; r < e->rows; r++)
        for (int c = 0; c < e->cols; c++)
            if (e->standing[r * e->cols + c])
                ocean_fill_rect(rgb, width, height, (int)((float)c * e->brick_w),
                                (int)(BO_WALL_TOP + (float)r * e->brick_h), (int)e->brick_w, (int)e->brick_h,
                                BO_ROW_RGB[r][0], BO_ROW_RGB[r][1], BO_ROW_RGB[r][2]);
    for (int b = 0; b < e->balls; b++) ocean_fill_rect(rgb, width, height, width - 12 - 10 * b, 8, 6, 6, 200, 200, 200);
    ocean_fill_rect(rgb, width, height, (int)e->paddle_x, (int)e->paddle_y, (int)e->paddle_w, (int)e->paddle_h, 0,
                    255, 255);
    ocean_fill_rect(rgb, width, height, (int)e->ball_x, (int)e->ball_y, (int)e->ball_w, (int)e->ball_h, 240, 240,
                    240);
}

// Test hook (tests reach it through the library's exported symbols). Places paddle and ball (px, px/frame),
// marks the ball as served and optionally sets the rest: NaN / a negative value keeps a field as it is.
// `standing` holds rows * cols values (1 standing, row-major from the top) or is NULL to keep the wall.
OCEAN_API void ocean_breakout_set_state(void* env, float paddle_x, float ball_x, float ball_y, float vx, float vy,
                                        float speed, float paddle_width, int hits, int score, int balls,
                                        const uint8_t* standing) {
    Breakout* e = env;
    if (!isnan(paddle_width)) e->paddle_w = ocean_clampf(paddle_width, 1.f, e->paddle_full);
    if (!isnan(paddle_x)) e->paddle_x = ocean_clampf(paddle_x, 0.f, e->width - e->paddle_w);
    if (!isnan(ball_x)) e->ball_x = ocean_clampf(ball_x, 0.f, e->width - e->ball_w);
    if (!isnan(ball_y)) e->ball_y = ocean_clampf(ball_y, 0.f, e->height);
    if (!isnan(vx)) e->vx = ocean_clampf(vx, -BO_SPEED_MAX / BO_FPS, BO_SPEED_MAX / BO_FPS);
    if (!isnan(vy)) e->vy = ocean_clampf(vy, -BO_SPEED_MAX / BO_FPS, BO_SPEED_MAX / BO_FPS);
    if (!isnan(speed)) e->speed = ocean_clampf(speed, 0.f, BO_SPEED_MAX);
    if (hits >= 0) e->hits = hits;
    if (score >= 0) e->score = score > e->max_score ? e->max_score : score;
    if (balls >= 0) e->balls = balls > BO_SPARE_BALLS ? BO_SPARE_BALLS : balls;
    if (standing)
        for (int i = 0; i < e->nbricks; i++) {
            e->standing[i] = standing[i] ? 1 : 0;
            bo_brick_obs(e)[i] = standing[i] ? 0.f : 1.f;
        }
    e->served = 1;
    bo_write_head(e);
}

const OceanEnvDef ocean_env_breakout = {
    .abi_version = OCEAN_ABI_VERSION,
    .name = "breakout",
    .obs_dtype = OCEAN_OBS_F32,
    .obs_low = -1,
    .obs_high = 1,
    .act_dims = 0,
    .act_n = {BO_NACTIONS},
    .num_params = BO_NUM_PARAMS,
    .params = BO_PARAMS,
    .num_log = BO_NUM_LOG,
    .log_names = BO_LOG,
    .layout = bo_layout,
    .init = bo_init,
    .reset = bo_reset,
    .step = bo_step,
    .render = bo_render,
    .render_ansi = NULL,
};
