"""The live terminal dashboard (rich): progress, SPS, time split, episode statistics, losses, learning rate.

It redraws only when the run logs (no background refresh thread), so it costs nothing between log points.
"""

from __future__ import annotations

from typing import IO

from . import Snapshot
from .plain import human, ordered_losses, ordered_split

__all__ = ["Dashboard", "render"]


def render(snapshot: Snapshot):  # -> rich renderable
    """Build the dashboard for one snapshot (a rich ``Group``)."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    remaining = (snapshot.total_timesteps - snapshot.global_step) / snapshot.sps if snapshot.sps > 0 else 0.0
    header = Table.grid(expand=True, padding=(0, 2))
    for _ in range(5):
        header.add_column()
    header.add_row(
        Text(snapshot.env_id, style="bold cyan"),
        Text(f"{human(snapshot.sps)} SPS", style="bold green"),
        Text(f"step {human(snapshot.global_step)} / {human(snapshot.total_timesteps)}"),
        Text(f"epoch {snapshot.epoch}"),
        Text(f"{_duration(snapshot.elapsed_s)} elapsed, ~{_duration(max(0.0, remaining))} left"),
    )
    bar = ProgressBar(total=1.0, completed=snapshot.progress)

    split = Table(expand=True, box=None, header_style="bold")
    split.add_column("time split")
    split.add_column("share", justify="right")
    split.add_column("seconds", justify="right")
    for name, share in ordered_split(snapshot):
        seconds = snapshot.timings.get(name, max(0.0, share * snapshot.elapsed_s))
        split.add_row(name, f"{share:.0%}", f"{seconds:.1f}s")

    episodes = Table(expand=True, box=None, header_style="bold")
    episodes.add_column("episodes")
    episodes.add_column("mean", justify="right")
    for name, value in sorted(snapshot.episode.items()):
        episodes.add_row(name, human(value))
    if not snapshot.episode:
        episodes.add_row(Text("no finished episode yet", style="dim"), "")

    losses = Table(expand=True, box=None, header_style="bold")
    losses.add_column("losses")
    losses.add_column("value", justify="right")
    if snapshot.learning_rate is not None:
        losses.add_row("learning_rate", human(snapshot.learning_rate))
    for name, value in ordered_losses(snapshot.losses):
        losses.add_row(name, human(value))

    body = Table.grid(expand=True, padding=(0, 3))
    for _ in range(3):
        body.add_column(ratio=1)
    body.add_row(split, episodes, losses)
    return Panel(
        Group(header, bar, Text(""), body),  # Text("") ends the bar's line
        title=f"puffer · {snapshot.run_name}",
        title_align="left",
        border_style="blue",
    )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class Dashboard:
    """A rich ``Live`` display updated on each :meth:`log`; messages print above it."""

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(file=stream)
        self.live = Live(console=self.console, auto_refresh=False, transient=False, redirect_stdout=False)
        self._started = False

    def log(self, snapshot: Snapshot) -> None:
        if not self._started:
            self.live.start()
            self._started = True
        self.live.update(render(snapshot), refresh=True)

    def message(self, text: str) -> None:
        """Print ``text``: above the live frame while it is drawn, below the last one after :meth:`end`."""
        self.console.print(f"[bold blue]puffer[/] {text}", highlight=False)

    def end(self) -> None:
        """Stop redrawing: the last frame stays on screen and later messages (the run's summary) print
        below it, instead of above a frame that would still move."""
        if self._started:
            self.live.stop()
            self._started = False

    def close(self) -> None:
        self.end()
