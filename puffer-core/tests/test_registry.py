"""Plugin discovery through entry points, env ids, and making envs by id."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap
import types
from importlib.metadata import EntryPoint

import numpy as np
import pytest

import puffer_core
from puffer_core import DuplicateEnvError, EnvSpec, PufferEnv, UnknownEnvError, hookimpl
from puffer_core.hookspecs import ENTRY_POINT_GROUP
from puffer_core.registry import Registry, validate_id

# -- helpers ---------------------------------------------------------------------------------------------

PLUGIN_HEADER = """
from gymnasium import spaces
import numpy as np
import puffer_core


class Tiny(puffer_core.PufferEnv):
    def __init__(self, buf=None, seed=None, num_agents=1, size=3):
        self.single_observation_space = spaces.Box(0, 1, (size,), np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.num_agents = num_agents
        super().__init__(buf)
        self.seed, self.size = seed, size

    def reset(self, seed=None):
        return self.observations, []
"""


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """Write plugin modules into a fresh folder on sys.path; forget them afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written = []

    def write(module: str, body: str) -> str:
        (tmp_path / f"{module}.py").write_text(PLUGIN_HEADER + textwrap.dedent(body))
        written.append(module)
        return module

    yield write
    for module in written:
        sys.modules.pop(module, None)


@pytest.fixture
def fake_entry_points(monkeypatch):
    """Replace the installed ``puffer.envs`` entry points with the given ``{name: module}``."""

    def install(plugins: dict[str, str]) -> list[int]:
        calls = []
        real = importlib.metadata.entry_points

        def entry_points(**params):
            if params.get("group") != ENTRY_POINT_GROUP:
                return real(**params)
            calls.append(1)
            return [EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in plugins.items()]

        monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
        return calls

    return install


GOOD = """
@puffer_core.hookimpl
def puffer_env_specs():
    return [
        puffer_core.EnvSpec("toy/tiny", creator=Tiny, default_kwargs={"size": 4}, description="tiny"),
        puffer_core.EnvSpec("toy/tiny-wide", creator=Tiny, default_kwargs={"size": 16}),
    ]
"""


# -- discovery ---------------------------------------------------------------------------------------------
def test_importing_puffer_core_scans_and_imports_nothing_heavy():
    code = (
        "import sys, importlib.metadata as m\n"
        "calls = []\n"
        "real = m.entry_points\n"
        "m.entry_points = lambda **kw: calls.append(kw) or real(**kw)\n"
        "import puffer_core, puffer_core.emulation\n"
        "assert calls == [], calls\n"
        "assert 'pettingzoo' not in sys.modules\n"
        "assert not [name for name in sys.modules if name.startswith('puffer_envs')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)



def test_plugins_are_found_through_entry_points(plugin_dir, fake_entry_points):
    calls = fake_entry_points({"toys": plugin_dir("toys_plugin", GOOD)})
    registry = Registry()
    assert calls == []  # nothing is scanned before it is needed
    assert [s.id for s in registry.list_envs()] == ["toy/tiny", "toy/tiny-wide"]
    spec = registry.spec("toy/tiny")
    assert spec.plugin == "toys" and spec.description == "tiny" and spec.default_kwargs == {"size": 4}
    env = registry.make("toy/tiny", seed=5, num_agents=2)
    assert isinstance(env, PufferEnv) and env.seed == 5 and env.num_agents == 2
    assert env.single_observation_space.shape == (4,)  # default kwargs
    assert registry.make("toy/tiny", size=7).single_observation_space.shape == (7,)  # overridden
    assert registry.broken_plugins() == []
    assert len(calls) == 1  # scanned once, then cached
    registry.reload()
    registry.list_envs()
    assert len(calls) == 2


def test_buffers_reach_the_creator(plugin_dir, fake_entry_points):
    fake_entry_points({"toys": plugin_dir("toys_buf_plugin", GOOD)})
    registry = Registry()
    env = registry.make("toy/tiny", num_agents=2)
    buf = puffer_core.Buffers.allocate(env.single_observation_space, env.single_action_space, 2)
    assert registry.make("toy/tiny", buf=buf, num_agents=2).observations is buf.observations


def test_a_plugin_that_fails_to_import_does_not_hide_the_others(plugin_dir, fake_entry_points):
    broken = plugin_dir("broken_import_plugin", "import puffer_no_such_module_xyz\n")
    fake_entry_points({"broken": broken, "toys": plugin_dir("toys_ok_plugin", GOOD)})
    registry = Registry()
    assert [s.id for s in registry.list_envs()] == ["toy/tiny", "toy/tiny-wide"]
    [failure] = registry.broken_plugins()
    assert failure.name == "broken"
    assert "ModuleNotFoundError" in failure.error and "puffer_no_such_module_xyz" in failure.error
    assert "broken_import_plugin.py" in failure.error  # the plugin's own frame is kept
    with pytest.raises(UnknownEnvError, match="1 plugin.*failed to load"):
        registry.spec("toy/missing")


@pytest.mark.parametrize(
    "body, message",
    [
        (
            """
            @puffer_core.hookimpl
            def puffer_env_specs():
                raise RuntimeError("the hook exploded")
            """,
            "the hook exploded",
        ),
        (
            """
            @puffer_core.hookimpl
            def puffer_env_specs():
                return [{"id": "toy/dict"}]
            """,
            "must return EnvSpec objects",
        ),
        (
            """
            @puffer_core.hookimpl
            def puffer_env_specs():
                return [puffer_core.EnvSpec("No Family", creator=Tiny)]
            """,
            "family/name",
        ),
        (
            """
            @puffer_core.hookimpl
            def puffer_env_specs():
                return [puffer_core.EnvSpec("gym/CartPole-v1", creator=Tiny)]
            """,
            "reserved",
        ),
        (
            """
            @puffer_core.hookimpl
            def puffer_env_specs():
                spec = puffer_core.EnvSpec("toy/a", creator=Tiny)
                return [spec, spec]
            """,
            "registered twice",
        ),
        (
            """
            @puffer_core.hookimpl
            def puffer_env_specs():
                return [puffer_core.EnvSpec("toy/a", creator="not callable")]
            """,
            "not callable",
        ),
    ],
    ids=["hook-raises", "not-an-envspec", "bad-id", "gym-family", "twice-in-one-plugin", "bad-creator"],
)
def test_a_plugin_whose_hook_fails_is_reported(plugin_dir, fake_entry_points, body, message, request):
    module = plugin_dir(f"failing_{request.node.callspec.id.replace('-', '_')}", body)
    fake_entry_points({"failing": module, "toys": plugin_dir(f"{module}_good", GOOD)})
    registry = Registry()
    assert [s.id for s in registry.list_envs()] == ["toy/tiny", "toy/tiny-wide"]
    [failure] = registry.broken_plugins()
    assert failure.name == "failing" and message in failure.error


OTHER = """
@puffer_core.hookimpl
def puffer_env_specs():
    return [puffer_core.EnvSpec("toy/tiny", creator=Tiny), puffer_core.EnvSpec("other/ok", creator=Tiny)]
"""


def test_two_plugins_claiming_one_id_make_only_that_id_unusable(plugin_dir, fake_entry_points):
    first, second = plugin_dir("dup_a_plugin", GOOD), plugin_dir("dup_b_plugin", OTHER)
    fake_entry_points({"first": first, "second": second})
    registry = Registry()
    # Everything else still works: the other ids of both plugins are listed and made.
    assert [s.id for s in registry.list_envs()] == ["other/ok", "toy/tiny-wide"]
    registry.make("other/ok").close()
    registry.make("toy/tiny-wide").close()
    for _ in range(2):  # not silently resolved on the next call either
        with pytest.raises(DuplicateEnvError, match=r"'toy/tiny'.*'first', 'second'.*uninstalled"):
            registry.make("toy/tiny")
    [conflict] = registry.broken_plugins()
    assert conflict.name == "first + second" and "'toy/tiny'" in conflict.error


def test_a_plugin_calling_sys_exit_at_import_is_reported(plugin_dir, fake_entry_points):
    exiting = plugin_dir("exiting_plugin", "import sys\nsys.exit('no thanks')\n")
    fake_entry_points({"exiting": exiting, "toys": plugin_dir("exit_good_plugin", GOOD)})
    registry = Registry()
    assert [s.id for s in registry.list_envs()] == ["toy/tiny", "toy/tiny-wide"]
    [failure] = registry.broken_plugins()
    assert failure.name == "exiting" and "no thanks" in failure.error


def test_add_plugin_registers_objects_directly():
    class Plugin:
        @hookimpl
        def puffer_env_specs(self):
            return [EnvSpec("mine/echo", creator=lambda buf=None, seed=None, **kw: ("made", seed, kw))]

    module = types.ModuleType("my_inline_plugin")
    module.puffer_env_specs = hookimpl(lambda: [EnvSpec("mine/other", creator=lambda **kw: kw)])
    registry = Registry(entry_point_group=None)
    registry.add_plugin(Plugin(), name="inline")
    registry.add_plugin(module)
    assert [(s.id, s.plugin) for s in registry.list_envs()] == [
        ("mine/echo", "inline"),
        ("mine/other", "my_inline_plugin"),
    ]
    assert registry.make("mine/echo", seed=3, size=2) == ("made", 3, {"size": 2})
    # the same plugin object added twice claims its ids twice
    registry.add_plugin(module, name="again")
    assert [s.id for s in registry.list_envs()] == ["mine/echo"]
    with pytest.raises(DuplicateEnvError, match="my_inline_plugin.*again"):
        registry.spec("mine/other")


# -- ids ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "env_id",
    ["", "cartpole", "Ocean/breakout", "ocean/", "/breakout", "ocean/a/b", "ocean/bre akout", "gym/a/b/c", 3],
)
def test_invalid_ids_are_refused(env_id):
    with pytest.raises(ValueError, match="family/name"):
        validate_id(env_id)
    with pytest.raises(ValueError, match="family/name"):
        Registry(entry_point_group=None).make(env_id)


@pytest.mark.parametrize(
    "env_id", ["ocean/breakout", "gym/CartPole-v1", "gym/phys2d/CartPole-v1", "a.b/c_d-1"]
)
def test_valid_ids(env_id):
    assert validate_id(env_id) == env_id


def test_unknown_ids_list_the_closest():
    registry = Registry(entry_point_group=None)
    registry.add_plugin(
        types.SimpleNamespace(
            puffer_env_specs=hookimpl(
                lambda: [EnvSpec(f"ocean/{n}", creator=dict) for n in ("breakout", "pong", "snake")]
            )
        ),
        name="ocean",
    )
    with pytest.raises(UnknownEnvError, match="'ocean/breakuot'; did you mean 'ocean/breakout'") as info:
        registry.spec("ocean/breakuot")
    assert isinstance(info.value, KeyError)
    assert "did you mean" not in str(pytest.raises(UnknownEnvError, registry.spec, "zzz/qqqqqqq").value)
    with pytest.raises(UnknownEnvError, match="did you mean 'gym/CartPole-v1'"):
        registry.spec("gym/CartPole-v9")


# -- gymnasium ids -----------------------------------------------------------------------------------------
def test_gym_ids_make_emulated_envs_with_kwargs():
    env = puffer_core.make("gym/CartPole-v1", seed=0, max_episode_steps=5)
    assert env.num_agents == 1 and env.emulated
    env.reset()
    for step in range(5):
        _, _, terminals, truncations, infos = env.step(np.array([step % 2], np.int32))
    # alternating actions keep the pole up for 5 steps: the time limit truncates, it does not terminate
    assert truncations[0] and not terminals[0] and infos[0]["episode_length"] == 5.0
    spec = puffer_core.spec("gym/CartPole-v1")
    assert spec.plugin == "puffer-core"
    assert "gym/CartPole-v1" not in [s.id for s in puffer_core.list_envs()]


def test_gym_creator_is_picklable_for_worker_processes():
    import pickle

    creator = pickle.loads(pickle.dumps(puffer_core.spec("gym/CartPole-v1").creator))
    assert creator(buf=None, seed=0).reset()[0].shape == (1, 4)


# -- the installed third-party example ---------------------------------------------------------------------
def _example_installed() -> bool:
    return any(ep.name == "example" for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


@pytest.mark.skipif(
    not _example_installed(),
    reason="the example plugin is not installed: pip install ./examples/puffer-envs-example "
    "(the nox tests session installs it)",
)
def test_installed_example_plugin_is_discovered():
    registry = Registry()
    spec = registry.spec("example/corridor")
    assert spec.plugin == "example" and spec.train_config is not None
    assert "example/corridor" in [s.id for s in puffer_core.list_envs()]
    assert not [b for b in registry.broken_plugins() if b.name == "example"]
    env = puffer_core.make("example/corridor", seed=0, num_agents=3)
    obs, _ = env.reset()
    assert obs.shape == (3, 1)
    _, rewards, terminals, truncations, _ = env.step(np.ones(3, np.int32))
    assert rewards.shape == (3,) and terminals.dtype == bool and truncations.dtype == bool


# -- plugin mistakes pluggy would skip in silence (its check_pending) ----------------------------------------
MISNAMED = """
@puffer_core.hookimpl
def puffer_env_spec():
    return [puffer_core.EnvSpec("toy/typo", creator=Tiny)]
"""

UNDECORATED = """
def puffer_env_specs():
    return [puffer_core.EnvSpec("toy/bare", creator=Tiny)]
"""


def test_a_misnamed_hook_is_reported_with_the_name_it_should_have(plugin_dir, fake_entry_points):
    fake_entry_points({"typo": plugin_dir("typo_plugin", MISNAMED), "toys": plugin_dir("typo_good", GOOD)})
    registry = Registry()
    assert [s.id for s in registry.list_envs()] == ["toy/tiny", "toy/tiny-wide"]
    [failure] = registry.broken_plugins()
    assert failure.name == "typo"
    assert "'puffer_env_spec' matches no hook spec: did you mean 'puffer_env_specs'?" in failure.error
    with pytest.raises(UnknownEnvError, match="1 plugin"):
        registry.spec("toy/typo")


def test_a_misnamed_hook_beside_a_good_one_is_reported_and_the_good_one_kept(plugin_dir, fake_entry_points):
    both = GOOD + "\n@puffer_core.hookimpl\ndef zzz_unrelated():\n    return []\n"
    fake_entry_points({"both": plugin_dir("both_plugin", both)})
    registry = Registry()
    assert [s.id for s in registry.list_envs()] == ["toy/tiny", "toy/tiny-wide"]
    [failure] = registry.broken_plugins()
    assert failure.name == "both" and "'zzz_unrelated' matches no hook spec: the hooks are" in failure.error


def test_an_undecorated_hook_is_reported(plugin_dir, fake_entry_points):
    fake_entry_points({"bare": plugin_dir("bare_plugin", UNDECORATED)})
    [failure] = Registry().broken_plugins()
    assert failure.name == "bare"
    assert "'puffer_env_specs' is not decorated with @puffer_core.hookimpl" in failure.error


def test_a_plugin_module_without_hooks_is_reported(plugin_dir, fake_entry_points):
    fake_entry_points({"empty": plugin_dir("empty_plugin", "X = 1\n")})
    [failure] = Registry().broken_plugins()
    assert "implements no hook: it defines none of 'puffer_env_specs'" in failure.error


def test_an_optional_hook_without_a_spec_is_not_a_mistake(plugin_dir, fake_entry_points):
    extra = GOOD + "\n@puffer_core.hookimpl(optionalhook=True)\ndef puffer_future_hook():\n    return 1\n"
    fake_entry_points({"future": plugin_dir("future_plugin", extra)})
    registry = Registry()
    assert registry.broken_plugins() == [] and len(registry.list_envs()) == 2
