"""Sphinx directives that render reference pages from the code itself, so they cannot go stale.

They emit reStructuredText: in a MyST page, use them inside an ``{eval-rst}`` block.

* ``puffer-config``: one table per config section (``train``, ``vec``, ``policy``, ``run``) with every key,
  its type, its trainer default and its description, read from the ``#:`` comment above the field in
  ``puffer_trainer/config.py``. A field without such a comment is a build warning (an error under ``-W``).
* ``puffer-cli``: the ``--help`` text of ``puffer`` and of each subcommand, from the real argparse parser.
* ``puffer-envs``: the env ids registered by the installed packages, with their descriptions.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


def _type_name(annotation: Any) -> str:
    """``int``, ``str | None``: the annotation as a reader writes it."""
    if isinstance(annotation, type):
        return annotation.__name__
    args = typing.get_args(annotation)
    if args:
        return " | ".join("None" if a is type(None) else _type_name(a) for a in args)
    return str(annotation)


def _default_text(value: Any) -> str:
    """The default as it is written in a TOML file or on the command line."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:_}"  # TOML and Python both read 10_000_000
    return repr(value)


def _table(header: list[str], rows: list[list[str]], widths: list[int]) -> list[str]:
    """reST ``list-table`` lines; cells are inline reST."""
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {' '.join(map(str, widths))}", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return lines


def _field_doc(text: str) -> str:
    return " ".join(text.split())


class ConfigDirective(SphinxDirective):
    """Every key of every section of the trainer's config, as tables."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from puffer_trainer import config as config_module

        analyzer = ModuleAnalyzer.for_module(config_module.__name__)
        attr_docs = analyzer.find_attr_docs()
        lines: list[str] = []
        for section, cls in config_module.SECTIONS.items():
            hints = typing.get_type_hints(cls)
            rows = []
            for f in dataclasses.fields(cls):
                doc = attr_docs.get((cls.__name__, f.name))
                if not doc:
                    logger.warning(
                        "config field %s.%s has no '#:' description in %s",
                        section,
                        f.name,
                        config_module.__file__,
                        location=self.get_location(),
                    )
                default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
                rows.append(
                    [
                        f"``{section}.{f.name}``",
                        f"``{_type_name(hints[f.name])}``",
                        f"``{_default_text(default)}``",
                        _field_doc("\n".join(doc or [])),
                    ]
                )
            lines += [
                f".. rubric:: [{section}]",
                "",
                *_table(["key", "type", "default", "meaning"], rows, [22, 12, 10, 56]),
                "",
            ]
        return self._parse(lines)

    def _parse(self, lines: list[str]) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="puffer-config"), self.content_offset, container)
        return container.children


def _help_block(text: str) -> nodes.literal_block:
    block = nodes.literal_block(text=text)
    block["language"] = "text"  # help text, not code: no syntax highlighting
    return block


class CliDirective(SphinxDirective):
    """``puffer --help`` and ``puffer COMMAND --help`` as literal blocks, one section per command."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        import argparse

        from puffer_trainer.cli import build_parser

        parser = build_parser()
        out: list[nodes.Node] = [_help_block(parser.format_help())]
        for action in parser._actions:  # argparse has no public way to list subparsers
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    section = nodes.section(ids=[f"puffer-{name}"], names=[f"puffer {name}"])
                    section += nodes.title(text=f"puffer {name}")
                    section += _help_block(sub.format_help())
                    out.append(section)
        return out


class EnvsDirective(SphinxDirective):
    """The env ids of the installed packages (through the registry), with their descriptions."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        import puffer_core

        rows = []
        for spec in puffer_core.list_envs():  # gym/<id> ids are not listed: the page says so in prose
            rows.append([f"``{spec.id}``", spec.description or "", f"``{spec.plugin}``"])
        broken = puffer_core.broken_plugins()
        if broken:
            logger.warning("plugins failed to load while building the docs: %s", broken)
        lines = _table(["id", "description", "plugin"], rows, [22, 60, 18])
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="puffer-envs"), self.content_offset, container)
        return container.children


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("puffer-config", ConfigDirective)
    app.add_directive("puffer-cli", CliDirective)
    app.add_directive("puffer-envs", EnvsDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
