"""``twinbridge validate``: every problem of a plant file in one run, each with its field path,
its line and, for a misspelt name, the name it probably meant.

The schema is checked first (pydantic reports all its errors at once). The bindings are then
resolved against the built plant even when another section -- ``server``, ``demo`` -- has
schema errors, as long as the plant and the bindings themselves parse: an engineer fixing a
file wants the whole list, not one layer per run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from basyx.aas import model
from pydantic import ValidationError

from twinbridge.aas import paths
from twinbridge.aas.errors import TwinError
from twinbridge.aas.twin import Twin
from twinbridge.adapters.binding import BindingError, find_shell, find_submodel, resolve_target
from twinbridge.adapters.config import ElementTarget
from twinbridge.server.config import ConfigError, PlantFile, did_you_mean, line_index, parse_plant_file

# Sections the bindings depend on; the rest (server, demo) cannot change whether a binding resolves.
_BINDING_INPUTS = ("plant", "sources", "bindings", "imports")
_MAX_REPAIRS = 3  # rounds of dropping unknown keys: each round pydantic reports all it finds


def check_plant_file(path: Path) -> tuple[PlantFile | None, list[str]]:
    """(the parsed file if its schema is valid, every problem found)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        return None, [f"cannot read the file: {error.strerror}"]
    problems: list[str] = []
    try:
        plant_file: PlantFile | None = parse_plant_file(text, str(path), base_dir=path.parent)
        checkable = plant_file
    except ConfigError as error:
        plant_file = None
        problems.extend(error.problems)
        checkable = _binding_inputs(text, path)
        if checkable is None and _has_bindings(text):
            problems.append("bindings: not resolved against the plant, whose section has other errors "
                            "(fix those first)")
    if checkable is not None:
        problems.extend(binding_problems(checkable, line_index(text)))
    return plant_file, problems


def _has_bindings(text: str) -> bool:
    data = yaml.safe_load(text)
    return isinstance(data, dict) and bool(data.get("bindings"))


def _binding_inputs(text: str, path: Path) -> PlantFile | None:
    """The file reduced to what bindings depend on, if that part is valid on its own once unknown keys
    (already reported as misspelt) are left out; None when it has errors a binding check cannot skip."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict) or not data.get("bindings"):
        return None
    reduced_data: dict[str, Any] = {key: data[key] for key in _BINDING_INPUTS if key in data}
    for _ in range(_MAX_REPAIRS):
        try:
            reduced = PlantFile.model_validate(reduced_data)
        except ValidationError as error:
            if not all(e["type"] == "extra_forbidden" and _drop(reduced_data, e["loc"]) for e in error.errors()):
                return None
            continue
        reduced.imports = [p if p.is_absolute() else path.parent / p for p in reduced.imports]
        reduced.base_dir = path.parent
        return reduced
    return None


def _drop(data: Any, location: tuple[Any, ...]) -> bool:
    """Delete the key at ``location`` (skipping pydantic's union tags, which are not in the data)."""
    current = data
    for part in location[:-1]:
        in_dict = isinstance(current, dict) and part in current
        if in_dict or (isinstance(current, list) and isinstance(part, int) and part < len(current)):
            current = current[part]
    if isinstance(current, dict) and location and location[-1] in current:
        del current[location[-1]]
        return True
    return False


def binding_problems(plant_file: PlantFile, lines: dict[tuple[Any, ...], int]) -> list[str]:
    """Every binding whose target does not resolve, as "bindings[i].target.<field> (line N): ... did you mean"."""
    from twinbridge.server.content import import_files, load_plant

    twin = Twin()
    try:
        import_files(twin, plant_file.imports, limits=plant_file.server.rest.limits.limits())
        load_plant(twin, plant_file)
    except (TwinError, ValueError, OSError) as error:  # a build error (InvalidInput) names its asset
        return [_build_problem(str(error), plant_file, lines)]
    problems = []
    for index, binding in enumerate(plant_file.southbound.bindings):
        try:
            resolve_target(twin, binding.target, f"bindings[{index}]")
        except BindingError as error:
            field, hint = _locate(twin, binding.target)
            location = ("bindings", index, "target", field)
            line = next((lines[location[:cut]] for cut in range(4, 0, -1) if location[:cut] in lines), None)
            where = f"bindings[{index}].target.{field}" + (f" (line {line})" if line is not None else "")
            message = str(error).removeprefix(f"bindings[{index}]: ")
            problems.append(f"{where}: {message}{hint}")
    if plant_file.analytics is not None:  # analytics names signals of the same built plant
        from twinbridge.server.analytics_service import analytics_problems

        problems.extend(analytics_problems(twin, plant_file.analytics, lines))
    return problems


def _build_problem(message: str, plant_file: PlantFile, lines: dict[tuple[Any, ...], int]) -> str:
    """A plant build error ("DemoPlant/Line1: roll-up ...") at the asset's field path and line."""
    where, separator, rest = message.partition(": ")
    plant = plant_file.plant
    if not separator or plant is None:
        return f"plant: {message}"
    location: tuple[Any, ...] = ("plant", "assets")
    assets = plant.assets
    for depth, name in enumerate(where.split("/")):
        index = next((i for i, asset in enumerate(assets) if asset.id_short == name), None)
        if index is None:
            return f"plant: {message}"
        location = (*location, "children", index) if depth else (*location, index)
        assets = assets[index].children
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location).lstrip(".")
    line = lines.get(location)
    return f"{path}{f' (line {line})' if line is not None else ''}: {rest}"


def _locate(twin: Twin, target: ElementTarget) -> tuple[str, str]:
    """Which target field is wrong, and " (did you mean 'X'?)" when a known name is close."""
    try:
        shell = find_shell(twin, target.shell)
    except BindingError:
        return "shell", did_you_mean(target.shell, [s.id_short for s in twin.shells.values() if s.id_short])
    try:
        submodel = find_submodel(twin, shell, target.submodel)
    except BindingError:
        names = [sm.id_short for ref in shell.submodel
                 if (sm := twin.submodels.get(ref.key[-1].value)) is not None and sm.id_short]
        return "submodel", did_you_mean(target.submodel, names)
    return "path", did_you_mean(target.path, list(_element_paths(submodel)))


def _element_paths(node: model.Referable, prefix: str = "") -> Iterator[str]:
    for position, child in enumerate(paths.children(node)):
        if isinstance(node, model.SubmodelElementList):
            here = f"{prefix}[{position}]"
        else:
            here = f"{prefix}.{child.id_short}" if prefix else str(child.id_short)
        yield here
        yield from _element_paths(child, here)
