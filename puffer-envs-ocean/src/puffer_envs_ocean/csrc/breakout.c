// breakout: paddle, ball and six rows of bricks, Atari-style scoring, frameskip.
//
// Coordinates are in "pixels" of a 160x192 playfield (y grows downwards). Each agent step repeats the
// action for `frameskip` physics frames. The ball (3 px) moves at most 3.5 px per frame, far less than
// the 9 px over which it overlaps a brick row (brick height 6 + ball size 3), so a per-frame overlap
// test cannot tunnel through a brick.
#include "ocean.h"

enum {
    BO_W = 160,
    BO_H = 192,
    BO_ROWS = 6,
    BO_COLS = 16,
    BO_BRICK_W = 10,
    BO_BRICK_H = 6,
    BO_BRICK_TOP = 36,
    BO_BRICK_BOTTOM = BO_BRICK_TOP + BO_ROWS * BO_BRICK_H,
    BO_PADDLE_Y = 180,
    BO_PADDLE_H = 4,
    BO_PADDLE_W = 20,
    BO_PADDLE_SPEED = 4,
    BO_BALL = 3,
    BO_NBRICKS = BO_ROWS * BO_COLS,
    BO_OBS = 6 + BO_NBRICKS,
    BO_NACTIONS = 3,  // noop, left, right
};

static const float BO_ROW_POINTS[BO_ROWS] = {7.f, 7.f, 4.f, 4.f, 1.f, 1.f};
static const uint8_t BO_ROW_RGB[BO_ROWS][3] = {
    {200, 72, 72}, {198, 108, 58}, {180, 122, 48}, {162, 162, 42}, {72, 160, 72}, {66, 72, 200},
};
static const float BO_MAX_SPEED = 3.5f;

typedef struct Breakout {
    OceanHeader h;  // must be first
    // Parameters.
    int frameskip, max_steps, start_lives;
    // Game state.
    float paddle_x, ball_x, ball_y, ball_vx, ball_vy, speed;
    int lives, paddle_hits, bricks_left, steps, reached_top;
    float score, episode_return;
    uint8_t bricks[BO_NBRICKS];  // 1 = standing
} Breakout;

static void bo_set_velocity(Breakout* e, float angle, float dir_y) {
    e->ball_vx = e->speed * sinf(angle);
    e->ball_vy = dir_y * e->speed * cosf(angle);
}

// Serve from below the bricks, towards the paddle, at a random x and angle in [-45, 45] degrees.
static void bo_serve(Breakout* e) {
    e->reached_top = 0;
    e->ball_x = 16.f + ocean_rand_float(&e->h.rng) * (float)(BO_W - 32 - BO_BALL);
    e->ball_y = (float)BO_BRICK_BOTTOM + 24.f;
    e->speed = 2.0f;
    e->paddle_hits = 0;
    bo_set_velocity(e, (ocean_rand_float(&e->h.rng) * 2.f - 1.f) * 0.785398f, 1.f);
}

static void bo_write_obs(const Breakout* e, float* obs) {
    obs[0] = e->paddle_x / (float)(BO_W - BO_PADDLE_W);
    obs[1] = e->ball_x / (float)BO_W;
    obs[2] = e->ball_y / (float)BO_H;
    obs[3] = e->ball_vx / BO_MAX_SPEED;
    obs[4] = e->ball_vy / BO_MAX_SPEED;
    obs[5] = (float)e->lives / (float)e->start_lives;
    for (int i = 0; i < BO_NBRICKS; i++) obs[6 + i] = (float)e->bricks[i];
}

static void bo_new_game(Breakout* e) {
    memset(e->bricks, 1, sizeof(e->bricks));
    e->bricks_left = BO_NBRICKS;
    e->lives = e->start_lives;
    e->paddle_x = (float)(BO_W - BO_PADDLE_W) / 2.f;
    e->steps = 0;
    e->score = 0.f;
    e->episode_return = 0.f;
    bo_serve(e);
}

// One physics frame. Returns the points scored in it; sets *lost when the ball left the bottom.
static float bo_frame(Breakout* e, int action, int* lost) {
    if (action == 1) e->paddle_x -= BO_PADDLE_SPEED;
    else if (action == 2) e->paddle_x += BO_PADDLE_SPEED;
    if (e->paddle_x < 0.f) e->paddle_x = 0.f;
    if (e->paddle_x > (float)(BO_W - BO_PADDLE_W)) e->paddle_x = (float)(BO_W - BO_PADDLE_W);

    float px = e->ball_x, py = e->ball_y;
    float x = px + e->ball_vx, y = py + e->ball_vy;
    // Walls: reflect the position so the ball never sits outside the field.
    if (x < 0.f) { x = -x; e->ball_vx = -e->ball_vx; }
    if (x > (float)(BO_W - BO_BALL)) { x = 2.f * (float)(BO_W - BO_BALL) - x; e->ball_vx = -e->ball_vx; }
    if (y < 0.f) { y = -y; e->ball_vy = -e->ball_vy; }

    // Paddle: only when the ball's bottom edge crosses the paddle's top edge this frame, going down.
    if (e->ball_vy > 0.f && py + BO_BALL <= BO_PADDLE_Y && y + BO_BALL >= BO_PADDLE_Y &&
        x + BO_BALL >= e->paddle_x && x <= e->paddle_x + BO_PADDLE_W) {
        float half = 0.5f * (BO_PADDLE_W + BO_BALL);
        float offset = (x + 0.5f * BO_BALL - (e->paddle_x + 0.5f * BO_PADDLE_W)) / half;
        if (offset < -1.f) offset = -1.f;
        if (offset > 1.f) offset = 1.f;
        e->paddle_hits++;
        if (e->paddle_hits == 4 && e->speed < 2.5f) e->speed = 2.5f;
        if (e->paddle_hits == 12 && e->speed < 3.0f) e->speed = 3.0f;
        bo_set_velocity(e, offset * 1.047198f, -1.f);  // up to 60 degrees off vertical at the edges
        y = (float)(BO_PADDLE_Y - BO_BALL);
    }

    float points = 0.f;
    // Bricks: at most one per frame, like the arcade game.
    if (y < (float)BO_BRICK_BOTTOM && y + BO_BALL > (float)BO_BRICK_TOP) {
        int c0 = (int)(x / BO_BRICK_W), c1 = (int)((x + BO_BALL - 0.001f) / BO_BRICK_W);
        int r0 = (int)((y - BO_BRICK_TOP) / BO_BRICK_H), r1 = (int)((y + BO_BALL - 0.001f - BO_BRICK_TOP) / BO_BRICK_H);
        if (c0 < 0) c0 = 0;
        if (c1 > BO_COLS - 1) c1 = BO_COLS - 1;
        if (r0 < 0) r0 = 0;
        if (r1 > BO_ROWS - 1) r1 = BO_ROWS - 1;
        int hit = -1;
        for (int r = r0; r <= r1 && hit < 0; r++)
            for (int c = c0; c <= c1; c++)
                if (e->bricks[r * BO_COLS + c]) { hit = r * BO_COLS + c; break; }
        if (hit >= 0) {
            int r = hit / BO_COLS, c = hit % BO_COLS;
            e->bricks[hit] = 0;
            e->bricks_left--;
            points = BO_ROW_POINTS[r];
            float bx0 = (float)(c * BO_BRICK_W), bx1 = bx0 + BO_BRICK_W;
            // Came from above/below when the previous position already overlapped the brick's columns.
            if (px + BO_BALL > bx0 && px < bx1) { e->ball_vy = -e->ball_vy; y = py; }
            else { e->ball_vx = -e->ball_vx; x = px; }
            if (r < 2 && !e->reached_top) {
                // Reaching the back rows speeds the ball up, as in the arcade game.
                e->reached_top = 1;
                // Rescale, then clamp away the float rounding of s, so |v| never exceeds the top speed.
                float s = BO_MAX_SPEED / e->speed;
                e->ball_vx = ocean_clampf(e->ball_vx * s, -BO_MAX_SPEED, BO_MAX_SPEED);
                e->ball_vy = ocean_clampf(e->ball_vy * s, -BO_MAX_SPEED, BO_MAX_SPEED);
                e->speed = BO_MAX_SPEED;
            }
        }
    }
    e->ball_x = x;
    e->ball_y = y;
    *lost = y > (float)BO_H;
    return points;
}

enum { BO_P_FRAMESKIP = 0, BO_P_MAX_STEPS, BO_P_LIVES, BO_NUM_PARAMS };

static const OceanParam BO_PARAMS[BO_NUM_PARAMS] = {
    {"frameskip", 4, 1, 16, 1, "physics frames per agent step (the action repeats)"},
    {"max_steps", 27000, 1, 1000000, 1, "agent steps before the episode is truncated"},
    {"lives", 5, 1, 9, 1, "balls the agent may lose before the game ends"},
};

static const char* const BO_LOG[] = {"episode_return", "episode_length", "score", "bricks", "cleared"};
#define BO_NUM_LOG 5

static void bo_layout(const double* params, OceanLayout* out) {
    (void)params;
    out->state_bytes = sizeof(Breakout);
    out->agents = 1;
    out->obs_ndim = 1;
    out->obs_shape[0] = BO_OBS;
    out->render_width = BO_W;
    out->render_height = BO_H;
}

static void bo_init(void* env, const double* params) {
    Breakout* e = env;
    e->frameskip = (int)params[BO_P_FRAMESKIP];
    e->max_steps = (int)params[BO_P_MAX_STEPS];
    e->start_lives = (int)params[BO_P_LIVES];
}

static void bo_reset(void* env) {
    Breakout* e = env;
    bo_new_game(e);
    bo_write_obs(e, e->h.obs);
}

static void bo_step(void* env) {
    Breakout* e = env;
    int action = e->h.actions[0];  // in [0, 3): checked by the dispatcher
    float reward = 0.f;
    int terminal = 0;
    e->steps++;
    for (int f = 0; f < e->frameskip; f++) {
        int lost = 0;
        reward += bo_frame(e, action, &lost);
        if (e->bricks_left == 0) { terminal = 1; break; }
        if (lost) {
            if (--e->lives == 0) { terminal = 1; break; }
            bo_serve(e);
        }
    }
    e->h.rewards[0] = reward;
    e->score += reward;
    e->episode_return += reward;
    if (terminal || e->steps >= e->max_steps) {
        e->h.terminals[0] = (uint8_t)terminal;
        e->h.truncations[0] = (uint8_t)!terminal;
        float values[BO_NUM_LOG] = {e->episode_return, (float)e->steps, e->score,
                                    (float)(BO_NBRICKS - e->bricks_left), (float)(e->bricks_left == 0)};
        ocean_log_episode(&e->h, values, BO_NUM_LOG);
        bo_new_game(e);
    }
    bo_write_obs(e, e->h.obs);
}

static void bo_render(const void* env, uint8_t* rgb, int width, int height) {
    const Breakout* e = env;
    ocean_fill_rect(rgb, width, height, 0, 0, width, height, 16, 16, 24);
    for (int r = 0; r < BO_ROWS; r++)
        for (int c = 0; c < BO_COLS; c++)
            if (e->bricks[r * BO_COLS + c])
                ocean_fill_rect(rgb, width, height, c * BO_BRICK_W, BO_BRICK_TOP + r * BO_BRICK_H, BO_BRICK_W - 1,
                                BO_BRICK_H - 1, BO_ROW_RGB[r][0], BO_ROW_RGB[r][1], BO_ROW_RGB[r][2]);
    for (int l = 0; l < e->lives; l++) ocean_fill_rect(rgb, width, height, 4 + 6 * l, 4, 4, 4, 200, 200, 200);
    ocean_fill_rect(rgb, width, height, (int)e->paddle_x, BO_PADDLE_Y, BO_PADDLE_W, BO_PADDLE_H, 200, 72, 72);
    ocean_fill_rect(rgb, width, height, (int)e->ball_x, (int)e->ball_y, BO_BALL, BO_BALL, 236, 236, 236);
}

// Test hook (tests reach it through the library's exported symbols): place the ball and paddle, stand or
// break bricks. `bricks` holds BO_NBRICKS values (row-major from the top row) or is NULL to keep them.
OCEAN_API void ocean_breakout_set_state(void* env, float paddle_x, float ball_x, float ball_y, float ball_vx,
                                        float ball_vy, const uint8_t* bricks) {
    Breakout* e = env;
    e->paddle_x = ocean_clampf(paddle_x, 0.f, (float)(BO_W - BO_PADDLE_W));
    e->ball_x = ocean_clampf(ball_x, 0.f, (float)(BO_W - BO_BALL));
    e->ball_y = ocean_clampf(ball_y, 0.f, (float)BO_H);
    e->ball_vx = ocean_clampf(ball_vx, -BO_MAX_SPEED, BO_MAX_SPEED);
    e->ball_vy = ocean_clampf(ball_vy, -BO_MAX_SPEED, BO_MAX_SPEED);
    if (bricks) {
        e->bricks_left = 0;
        for (int i = 0; i < BO_NBRICKS; i++) {
            e->bricks[i] = bricks[i] ? 1 : 0;
            e->bricks_left += e->bricks[i];
        }
    }
    bo_write_obs(e, e->h.obs);
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
