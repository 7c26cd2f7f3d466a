"""The Fabric git-format twin of an .ipynb: rendered, parsed back, stable across regenerations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fmd_runtime.errors import ConfigError
from fmd_runtime.fabric import (
    fabric_notebook_source,
    parse_fabric_notebook_source,
    write_fabric_notebook,
)

NB = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {},
    "cells": [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": ["# Rollback\n", "\n", "Run it from the pipeline."],
        },
        {
            "cell_type": "code",
            "metadata": {"tags": ["parameters"]},
            "source": "dry_run = True\nreason = ''",
            "outputs": [],
        },
        {
            "cell_type": "code",
            "metadata": {},
            "source": ["import fmd_runtime as fmd\n", "print('ok')"],
            "outputs": [],
        },
    ],
}


def test_round_trip_keeps_cells_order_and_parameters_cell() -> None:
    cells = parse_fabric_notebook_source(fabric_notebook_source(NB))
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "code"]
    assert [c["parameters"] for c in cells] == [False, True, False]
    assert cells[0]["source"] == "# Rollback\n\nRun it from the pipeline."
    assert cells[1]["source"] == "dry_run = True\nreason = ''"
    assert cells[2]["source"] == "import fmd_runtime as fmd\nprint('ok')"


def test_written_folder_has_content_and_stable_platform(tmp_path: Path) -> None:
    src = tmp_path / "fmd_demo.ipynb"
    src.write_text(json.dumps(NB))
    folder = write_fabric_notebook(src, description="demo")
    assert folder.name == "fmd_demo.Notebook"
    content = (folder / "notebook-content.py").read_text()
    assert content.splitlines()[0] == "# Fabric notebook source" and "# PARAMETERS CELL" in content
    platform = json.loads((folder / ".platform").read_text())
    assert platform["metadata"] == {
        "type": "Notebook",
        "displayName": "fmd_demo",
        "description": "demo",
    }
    first = platform["config"]["logicalId"]
    write_fabric_notebook(src, description="demo")
    assert json.loads((folder / ".platform").read_text())["config"]["logicalId"] == first


def test_rejects_other_files() -> None:
    with pytest.raises(ConfigError):
        parse_fabric_notebook_source("print(1)\n")
