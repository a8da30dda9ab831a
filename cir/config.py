"""Load config.yaml, validate it against cir/config.schema.yaml, resolve a scale preset.

The Snakefile and every workflow_scripts CLI go through :func:`load_and_validate`, so a
wrong key or value fails before any job starts, with the key path and the allowed values.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from cir.errors import ConfigError

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")
BUILTIN_SETS = ("skimage_train", "skimage_test")


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def _key_path(parts) -> str:
    return ".".join(str(p) for p in parts) or "<top level>"


def _describe(error) -> str:
    """A one-line message for a jsonschema error: key path, bad value, what is allowed."""
    where = _key_path(error.absolute_path)
    validator, expected = error.validator, error.validator_value
    if validator == "enum":
        return f"{where}: {error.instance!r} is not allowed; allowed values: {', '.join(map(repr, expected))}"
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return f"{where}: unknown key(s) {', '.join(map(repr, extra))}; allowed keys: {', '.join(allowed)}"
    if validator == "required":
        return f"{where}: {error.message}"
    if validator == "type":
        return f"{where}: {error.instance!r} has the wrong type; expected {expected}"
    return f"{where}: {error.message}"


def validate_schema(cfg: dict, source: str = "config") -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        lines = "\n  ".join(_describe(e) for e in errors[:10])
        raise ConfigError(f"{source}: invalid configuration:\n  {lines}")


def _check_options(name: str, exp: dict, problems: list[str]) -> None:
    """An experiment's method options against the method's torch-free schema (cir/methods/catalog.py)."""
    import jsonschema

    from cir.methods.catalog import options_schema

    validator = jsonschema.Draft202012Validator(options_schema(exp["method"]))
    for error in sorted(validator.iter_errors(exp["options"]), key=lambda e: list(map(str, e.absolute_path))):
        problems.append(_describe_at(error, ("experiments", name, "options")))


def _describe_at(error, prefix: tuple) -> str:
    """:func:`_describe` of an error found in a sub-document that sits at key path ``prefix``."""
    error.path.extendleft(reversed(prefix))
    return _describe(error)


def _check_semantics(cfg: dict, source: str) -> None:
    from cir.data.registry import DATASETS
    from cir.methods import METHOD_NAMES
    from cir.methods.catalog import groups as method_groups
    from cir.tasks import CONVENTION_NAMES, PREPARED_KINDS, parse_task

    problems: list[str] = []
    exps = cfg["experiments"]
    if cfg["preset"] not in cfg["presets"]:
        problems.append(f"preset: {cfg['preset']!r} is not a preset; allowed values: {', '.join(cfg['presets'])}")
    teachers_ok = [k for k, v in exps.items() if v["role"] == "teacher"]
    for name, exp in exps.items():
        at = f"experiments.{name}"
        if exp["method"] not in METHOD_NAMES:
            problems.append(f"{at}.method: {exp['method']!r} is not allowed; "
                            f"allowed values: {', '.join(sorted(METHOD_NAMES))}")
            continue
        _check_options(name, exp, problems)
        for tname, texp in exp.get("teachers", {}).items():
            if texp not in teachers_ok:
                problems.append(f"{at}.teachers.{tname}: {texp!r} is not a teacher experiment; "
                                f"allowed values: {', '.join(teachers_ok)}")
        init = exp.get("init", "random")
        if init == "official" and exp["role"] != "teacher":
            problems.append(f"{at}.init: 'official' weights exist for the teacher networks only")
        if isinstance(init, dict) and "experiment" in init and init["experiment"] not in exps:
            problems.append(f"{at}.init.experiment: {init['experiment']!r} is not an experiment; "
                            f"allowed values: {', '.join(exps)}")
        if isinstance(init, dict) and init.get("experiment") == name:
            problems.append(f"{at}.init.experiment: an experiment cannot start from itself")
        if "convention" in exp and exp["convention"] not in CONVENTION_NAMES:
            problems.append(f"{at}.convention: {exp['convention']!r} is not allowed; "
                            f"allowed values: {', '.join(CONVENTION_NAMES)}")
        for g in exp.get("groups", {}):
            if g not in method_groups(exp["method"]):
                problems.append(f"{at}.groups.{g}: method {exp['method']!r} has no trainable group {g!r}; "
                                f"its groups: {', '.join(method_groups(exp['method']))}")
    for pname, preset in cfg["presets"].items():
        at = f"presets.{pname}"
        for i, task in enumerate(preset["tasks"]):
            kind = parse_task(task, f"{at}.tasks.{i}").kind
            if kind not in PREPARED_KINDS:
                problems.append(f"{at}.tasks.{i}: {task!r}: the DAG has no data preparation for this task yet; "
                                f"allowed values: an SR factor x2 ... x8")
        for i, exp in enumerate(preset["experiments"]):
            if exp not in exps:
                problems.append(f"{at}.experiments.{i}: {exp!r} is not an experiment; "
                                f"allowed values: {', '.join(exps)}")
            else:
                for texp in exps[exp].get("teachers", {}).values():
                    if texp not in preset["experiments"]:
                        problems.append(f"{at}.experiments: {exp!r} needs teacher experiment {texp!r}, "
                                        f"which is not listed")
        for b in preset["backbones"]:
            if b not in preset["models"]:
                problems.append(f"{at}.models: no entry for backbone {b!r}")
        valid_sets = BUILTIN_SETS if preset["data"]["source"] == "builtin" else tuple(DATASETS)
        for split in ("train", "test"):
            for i, ds in enumerate(preset["data"][split]):
                if ds not in valid_sets:
                    problems.append(f"{at}.data.{split}.{i}: {ds!r} is not a {preset['data']['source']} "
                                    f"data set; allowed values: {', '.join(valid_sets)}")
        t = preset["train"]
        schedulers = [("train.scheduler", t["scheduler"])]
        for name in preset["experiments"]:
            for g, own in exps.get(name, {}).get("groups", {}).items():
                if "scheduler" in own:
                    schedulers.append((f"experiments.{name}.groups.{g}.scheduler", own["scheduler"]))
        shortest = min(t["teacher_iterations"], t["student_iterations"])
        for where, sched in schedulers:
            ms = sched.get("milestones", [])
            if ms != sorted(ms):
                problems.append(f"{at}.{where}.milestones: {ms} must be increasing")
            if ms and ms[-1] > shortest:
                problems.append(f"{at}.{where}.milestones: {ms[-1]} is beyond the iteration count "
                                f"({shortest}, presets.{pname}.train.*_iterations): that decay would never happen")
            if sched["name"] == "multistep" and "gamma" not in sched:
                problems.append(f"{at}.{where}: 'gamma' is required for multistep")
    if problems:
        raise ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(problems))


def validate(cfg: dict, source: str = "config") -> dict:
    """Schema + cross-reference checks; returns ``cfg`` unchanged so calls can chain."""
    if "scale" in cfg and "preset" not in cfg:
        raise ConfigError(f"{source}: invalid configuration:\n  scale: the key that picks the preset is now "
                          f"'preset' (e.g. --config preset={cfg['scale']}); SR factors are tasks (x2, x3, x4)")
    validate_schema(cfg, source)
    _check_semantics(cfg, source)
    return cfg


def load_and_validate(path: str | Path = "config.yaml", overrides: dict | None = None) -> dict:
    cfg = load_yaml(path)
    if overrides:
        cfg = copy.deepcopy(cfg)
        cfg.update(overrides)
    return validate(cfg, str(path))


def preset(cfg: dict, name: str | None = None) -> dict:
    """The settings of preset ``name`` (default: ``cfg['preset']``), with its name added."""
    name = name or cfg["preset"]
    if name not in cfg["presets"]:
        raise ConfigError(f"preset: {name!r} is not a preset; allowed values: {', '.join(cfg['presets'])}")
    out = copy.deepcopy(cfg["presets"][name])
    out["name"] = name
    return out


_REPLICA = re.compile(r"^(?P<base>.+)_seed(?P<seed>[0-9]+)$")


def preset_seeds(preset: dict) -> list[int]:
    """The training seeds a preset runs every student with (default: its one ``train.seed``)."""
    return list(preset.get("seeds") or [preset["train"]["seed"]])


def replica_name(base: str, seed: int, preset: dict) -> str:
    """The experiment name of ``base`` trained with ``seed``: ``base`` itself for the preset's own
    ``train.seed``, else ``{base}_seed{seed}``."""
    return base if int(seed) == int(preset["train"]["seed"]) else f"{base}_seed{int(seed)}"


def experiment(cfg: dict, name: str) -> dict[str, Any]:
    """The experiment ``name``; ``{base}_seed{n}`` is student experiment ``base`` with training
    seed ``n`` (key ``seed`` set), the replicas a preset's ``seeds`` list asks for."""
    if name in cfg["experiments"]:
        return copy.deepcopy(cfg["experiments"][name])
    m = _REPLICA.match(name)
    if m and m["base"] in cfg["experiments"]:
        exp = copy.deepcopy(cfg["experiments"][m["base"]])
        if exp["role"] != "student":
            raise ConfigError(f"experiments: {name!r}: seed replicas are for student experiments; "
                              f"{m['base']!r} is a {exp['role']}")
        exp["seed"] = int(m["seed"])
        exp["replica_of"] = m["base"]
        return exp
    raise ConfigError(f"experiments: {name!r} is not defined; allowed values: {', '.join(cfg['experiments'])} "
                      "(or a student experiment followed by _seed<N>)")


def experiments_with_replicas(cfg: dict, preset: dict) -> dict[str, dict[str, Any]]:
    """Every experiment of ``cfg`` plus the seed replicas of the student experiments for the
    preset's ``seeds`` (e.g. ``logits_seed1``), as the DAG sees them."""
    out = copy.deepcopy(cfg["experiments"])
    for base, exp in cfg["experiments"].items():
        if exp["role"] != "student":
            continue
        for seed in preset_seeds(preset):
            name = replica_name(base, seed, preset)
            if name != base:
                out[name] = experiment(cfg, name)
    return out
