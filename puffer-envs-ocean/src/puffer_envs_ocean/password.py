"""``ocean/password``: see a binary code, wait, then type it back. Needs a recurrent policy."""

from __future__ import annotations

from .env import OceanEnv

__all__ = ["Password", "SPEC"]


class Password(OceanEnv):
    """A memory test: only a policy with memory scores better than chance (``2**-length``).

    Step 0 shows a random ``length``-bit code; ``delay`` blank steps follow; then ``length`` answer steps
    in which action ``Discrete(2)`` types bit ``j``. The episode ends after the last answer with reward 1 if
    every bit was right, else 0 (terminal either way). Observation ``uint8 [length + 3]``: the code
    (1 = bit 0, 2 = bit 1) at step 0 and 0 afterwards, an answer flag, the index of the bit to type, a
    waiting flag.
    Logs ``score`` (1 when right) and ``bits_correct`` (fraction of bits right).
    """

    c_name = "password"


STATE_CDEF = (
    "typedef struct { OceanHeader h; int length, delay; int tick; int correct; uint8_t code[32]; }"
    " PasswordState;"
)

SPEC = {
    "description": "Memory test: remember a binary code over a delay (solvable only with an LSTM)",
    "default_kwargs": {"num_envs": 1024},
    "train_config": {
        "train": {
            "total_timesteps": 20_000_000,
            "learning_rate": 0.003,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "ent_coef": 0.01,
            "horizon": 16,
            "batch_size": 16384,
            "minibatch_size": 4096,
            "update_epochs": 1,
        },
        "vec": {"backend": "serial", "num_env_objects": 1},
        "policy": {"kind": "mlp", "hidden_size": 128, "lstm": True, "lstm_hidden_size": 128},
    },
}
