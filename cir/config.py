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

from cir.architectures import ARCH_NAMES
from cir.errors import ConfigError

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")
# libyaml's parser where PyYAML has it (the same safe constructors and resolver, about 10x faster:
# the Snakefile, every CLI and the config check read config.yaml)
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
BUILTIN_SETS = ("skimage_train", "skimage_test", "skimage_adapt", "skimage_clear")


def load_schema() -> dict:
    return yaml.load(SCHEMA_PATH.read_text(), Loader=YAML_LOADER)


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror}") from exc
    try:
        data = yaml.load(text, Loader=YAML_LOADER)
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


def _check_options(name: str, exp: dict, problems: list[str], prefix: tuple | None = None) -> None:
    """An experiment's method options against the method's torch-free schema (cir/methods/catalog.py)."""
    import jsonschema

    from cir.methods.catalog import options_schema

    validator = jsonschema.Draft202012Validator(options_schema(exp["method"]))
    for error in sorted(validator.iter_errors(exp["options"]), key=lambda e: list(map(str, e.absolute_path))):
        problems.append(_describe_at(error, prefix or ("experiments", name, "options")))


def _describe_at(error, prefix: tuple) -> str:
    """:func:`_describe` of an error found in a sub-document that sits at key path ``prefix``."""
    error.path.extendleft(reversed(prefix))
    return _describe(error)


def _check_semantics(cfg: dict, source: str) -> None:
    from cir.methods import METHOD_NAMES
    from cir.methods.catalog import groups as method_groups
    from cir.tasks import CONVENTION_NAMES, parse_task

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
        for tname, tref in exp.get("teachers", {}).items():
            # "teacher" is a teacher's network; other frozen networks a method takes (SPN's fixed
            # pretrained negative) may come from any other experiment
            texp, ttask = teacher_ref(tref)
            if ttask is not None:
                try:
                    parse_task(ttask, f"{at}.teachers.{tname}.task")
                except ConfigError as exc:
                    problems.append(str(exc))
            if tname == "teacher" and texp not in teachers_ok:
                problems.append(f"{at}.teachers.{tname}: {texp!r} is not a teacher experiment; "
                                f"allowed values: {', '.join(teachers_ok)}")
            elif texp not in exps or texp == name:
                problems.append(f"{at}.teachers.{tname}: {texp!r} is not another experiment; "
                                f"allowed values: {', '.join(k for k in exps if k != name)}")
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
            parse_task(task, f"{at}.tasks.{i}")
        for i, exp in enumerate(preset["experiments"]):
            if exp not in exps:
                problems.append(f"{at}.experiments.{i}: {exp!r} is not an experiment; "
                                f"allowed values: {', '.join(exps)}")
            else:
                for texp in (teacher_ref(t)[0] for t in exps[exp].get("teachers", {}).values()):
                    if texp not in preset["experiments"]:
                        problems.append(f"{at}.experiments: {exp!r} needs teacher experiment {texp!r}, "
                                        f"which is not listed")
        for b in preset["backbones"]:
            if b not in preset["models"]:
                problems.append(f"{at}.models: no entry for backbone {b!r}")
            elif backbone_arch(preset, b) not in ARCH_NAMES:
                where = f"{at}.models.{b}.arch" if "arch" in preset["models"][b] else f"{at}.backbones"
                problems.append(f"{where}: {backbone_arch(preset, b)!r} is not an architecture; allowed values: "
                                f"{', '.join(ARCH_NAMES)} (a backbone of another name sets models.<name>.arch)")
        _check_data(pname, preset, problems)
        for method, opts in preset.get("method_options", {}).items():
            if method not in METHOD_NAMES:
                problems.append(f"{at}.method_options.{method}: not a method; allowed values: "
                                f"{', '.join(sorted(METHOD_NAMES))}")
            else:
                _check_options(f"{pname}", {"method": method, "options": opts}, problems,
                               prefix=("presets", pname, "method_options", method))
        for key in preset.get("recipes", {}):
            task, _, backbone = key.rpartition("/")
            if key.count("/") == 2:   # task/backbone/experiment: one experiment's recipe
                task, backbone, exp_name = key.split("/")
                if exp_name not in exps:
                    problems.append(f"{at}.recipes.{key}: experiment {exp_name!r} is not defined under experiments")
            if task and task not in preset["tasks"]:
                problems.append(f"{at}.recipes.{key}: task {task!r} is not one of the preset's tasks "
                                f"({', '.join(preset['tasks'])})")
            if backbone not in preset["backbones"]:
                problems.append(f"{at}.recipes.{key}: backbone {backbone!r} is not one of the preset's backbones "
                                f"({', '.join(preset['backbones'])})")
        for key, recipe in preset.get("recipes", {}).items():
            start = recipe.get("init") or {}
            if "experiment" in start and start["experiment"] not in exps:
                problems.append(f"{at}.recipes.{key}.init.experiment: {start['experiment']!r} is not an experiment")
            if "asset" in start:
                from cir.data.registry import ASSETS

                if start["asset"] not in ASSETS:
                    problems.append(f"{at}.recipes.{key}.init.asset: {start['asset']!r} is not a weight file of the "
                                    f"registry (cir/data/registry.py ASSETS)")
            for method, opts in recipe.get("method_options", {}).items():
                if method not in METHOD_NAMES:
                    problems.append(f"{at}.recipes.{key}.method_options.{method}: not a method; allowed values: "
                                    f"{', '.join(sorted(METHOD_NAMES))}")
                else:
                    _check_options(pname, {"method": method, "options": opts}, problems,
                                   prefix=("presets", pname, "recipes", key, "method_options", method))
        _check_table_choices(pname, preset, exps, problems)
        recipe_keys = [None, *preset.get("recipes", {})]
        for rkey in recipe_keys:
            if rkey is None:
                t = preset["train"]
            else:   # what the trainer gets: the recipe layered on those below it (train_settings)
                parts = rkey.split("/")
                task, backbone = ("", parts[0]) if len(parts) == 1 else (parts[0], parts[1])
                t = train_settings(preset, task, backbone, parts[2] if len(parts) == 3 else None)
            where_t = f"{at}.train" if rkey is None else f"{at}.recipes.{rkey}"
            schedulers = [(f"{where_t}.scheduler", t["scheduler"])]
            for name in preset["experiments"]:
                for g, own in exps.get(name, {}).get("groups", {}).items():
                    if "scheduler" in own:
                        schedulers.append((f"experiments.{name}.groups.{g}.scheduler", own["scheduler"]))
            shortest = min(t["teacher_iterations"], t["student_iterations"])
            for where, sched in schedulers:
                _check_scheduler(where, sched, t, shortest, problems)
            _check_patch_schedule(where_t, t, problems)
    if problems:
        raise ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(problems))


def _check_table_choices(pname: str, preset: dict, exps: dict, problems: list[str]) -> None:
    """``presets.<p>.tables``: each id a table or figure (a sweep, a timing table, a curve figure),
    its rows among that entry's experiments, its tasks among the entry's and the preset's."""
    from cir.paper.defs import curve_defs, efficiency_defs, figure_defs, panel_experiments, table_defs

    tables, figures = {**table_defs(), **efficiency_defs()}, figure_defs()
    curves = curve_defs()
    for tid, choice in preset.get("tables", {}).items():
        at = f"presets.{pname}.tables.{tid}"
        if tid not in tables and tid not in figures and tid not in curves:
            problems.append(f"{at}: not a table or figure; allowed values: {', '.join([*tables, *figures, *curves])}")
            continue
        d = tables.get(tid) or figures.get(tid) or curves[tid]
        allowed = (list(d["rows"]) if tid in tables else list(d["runs"]) if tid in curves else
                   list(dict.fromkeys(e for p in d["panels"] for e in panel_experiments(p))))
        for i, row in enumerate(choice.get("rows", [])):
            if row not in allowed:
                problems.append(f"{at}.rows.{i}: {row!r} is not a row of {tid}; allowed values: {', '.join(allowed)}")
        for i, task in enumerate(choice.get("tasks", [])):
            if task not in d["tasks"] or task not in preset["tasks"]:
                problems.append(f"{at}.tasks.{i}: {task!r} is not a task of both {tid} ({', '.join(d['tasks'])}) "
                                f"and the preset ({', '.join(preset['tasks'])})")


def table_runs(preset: dict, tid: str, runs: int) -> int:
    """The training seeds per row of table (or figure) ``tid`` in ``preset``: its ``tables.<tid>.runs``
    where it sets one (a quick look at a sweep with one seed), else the table's ``runs``."""
    return int(preset.get("tables", {}).get(tid, {}).get("runs", runs))


def table_choice(preset: dict, tid: str, rows: list[str], tasks: list[str]) -> tuple[list[str], list[str]]:
    """The rows and tasks of table (or figure) ``tid`` that ``preset`` runs: its ``tables.<tid>``
    choice where it has one, else ``rows`` and ``tasks`` unchanged."""
    choice = preset.get("tables", {}).get(tid, {})
    return ([r for r in rows if r in choice["rows"]] if "rows" in choice else rows,
            [t for t in tasks if t in choice["tasks"]] if "tasks" in choice else tasks)


def _merge(base: dict, over: dict) -> dict:
    """``base`` with the keys of ``over`` replaced (one level: a recipe's optimizer replaces the
    preset's optimizer as a whole, so that no key of another recipe leaks in)."""
    out = copy.deepcopy(base)
    out.update(copy.deepcopy(over))
    return out


def train_settings(preset: dict, task: str, backbone: str, experiment: str | None = None) -> dict:
    """The preset's train settings for one task and backbone: ``train``, then the recipe of the
    backbone (``recipes.<backbone>``), then that of the task and backbone (``recipes.<task>/<backbone>``),
    then one experiment's own (``recipes.<task>/<backbone>/<experiment>``: Cria-CL's public-code
    schedule beside the paper's). A seed replica takes its experiment's recipe."""
    t = copy.deepcopy(preset["train"])
    for key in recipe_keys(preset, task, backbone, experiment):
        t = _merge(t, preset["recipes"][key])
    return t


def recipe_keys(preset: dict, task: str, backbone: str, experiment: str | None = None) -> list[str]:
    """The recipe entries :func:`train_settings` applies for ``task``, ``backbone`` (and ``experiment``)."""
    keys = [backbone, f"{task}/{backbone}"]
    if experiment is not None:
        keys.append(f"{task}/{backbone}/{split_replica(experiment)[0]}")
    return [k for k in keys if k in preset.get("recipes", {})]


def task_data(preset: dict, task: str) -> dict:
    """``{"train": [...], "test": [...]}``: the data sets of ``task`` in ``preset``
    (``data.per_task.<task>``, else the preset's ``data.train``/``data.test``)."""
    d = preset["data"]
    own = d.get("per_task", {}).get(task)
    if own:
        return {"train": list(own["train"]), "test": list(own["test"])}
    return {"train": list(d["train"]), "test": list(d["test"])}


def teacher_ref(value: str | dict) -> tuple[str, str | None]:
    """``(experiment, task)`` of an experiment's teacher entry: a teacher experiment's name (trained at
    the student's task: task None) or ``{experiment, task}`` (trained at another task)."""
    if isinstance(value, dict):
        return value["experiment"], value["task"]
    return value, None


def task_adapt_data(preset: dict, task: str) -> dict | None:
    """``{"degraded": [...], "clear": [...]}``: the unpaired sets of ``task``'s domain adaptation
    (``data.per_task.<task>.adapt``; Uni-Removal), or None."""
    own = preset["data"].get("per_task", {}).get(task, {}).get("adapt")
    return {"degraded": list(own["degraded"]), "clear": list(own["clear"])} if own else None


def task_visual_set(preset: dict, task: str) -> str:
    """The test set the visual comparison of ``task`` shows: ``data.per_task.<task>.visual``, else
    the task's first test set."""
    return preset["data"].get("per_task", {}).get(task, {}).get("visual") or task_data(preset, task)["test"][0]


def task_noise_pool(preset: dict, task: str) -> str | None:
    """The noise pool (``<data>/noise/<name>``) whose patches ``task``'s training adds to its LR patches
    (``data.per_task.<task>.noise_pool``; Impressionism's recipe, Cria-CL), or None."""
    return preset["data"].get("per_task", {}).get(task, {}).get("noise_pool")


def task_convention(preset: dict, task: str) -> str:
    """The metric convention of ``task``'s runs in ``preset``: ``data.per_task.<task>.convention``,
    else the task kind's (:attr:`cir.tasks.Task.default_convention`)."""
    from cir.tasks import parse_task

    own = preset["data"].get("per_task", {}).get(task, {})
    return own.get("convention") or parse_task(task).default_convention


def backbone_arch(preset: dict, backbone: str) -> str:
    """The registry architecture of ``backbone``: ``models.<backbone>.arch``, else its own name."""
    return preset.get("models", {}).get(backbone, {}).get("arch", backbone)


def valid_data_sets(source: str, task: str) -> tuple[str, ...]:
    """The data-set names a preset with data ``source`` may use for ``task``."""
    from cir.data.registry import DATASETS, PAIRED_DATASETS
    from cir.tasks import FAMILY_SUFFIX, RESTORATION_TASKS, parse_task, synthetic_set_name

    t = parse_task(task)
    if t.kind == "sr":
        return BUILTIN_SETS if source == "builtin" else tuple(DATASETS)
    mixes = RESTORATION_TASKS[t.kind].mixes
    if mixes:   # a mixture of tasks (Uni-Removal): the sets of each of them
        return tuple(dict.fromkeys(n for kind in mixes for n in valid_data_sets(source, kind)))
    if source == "builtin":
        return tuple(synthetic_set_name(c, task, f) for c in BUILTIN_SETS for f in FAMILY_SUFFIX)
    from cir.data.registry import IMPRESSIONISM_PAIRS

    made = tuple(IMPRESSIONISM_PAIRS) if t.kind == "realsr" else ()   # built here from downloaded images
    return tuple(n for n, e in PAIRED_DATASETS.items() if e.task == t.kind) + made


def _check_data(pname: str, preset: dict, problems: list[str]) -> None:
    at = f"presets.{pname}.data"
    source = preset["data"]["source"]
    from cir.tasks import CONVENTION_NAMES

    for task, entry in preset["data"].get("per_task", {}).items():
        if task not in preset["tasks"]:
            problems.append(f"{at}.per_task.{task}: {task!r} is not one of the preset's tasks "
                            f"({', '.join(preset['tasks'])})")
        if "noise_pool" in entry:
            base = re.sub(r"-p[0-9]+$", "", str(entry["noise_pool"]))
            known = {*valid_data_sets(source, task), *entry.get("train", [])}
            if source == "download":
                from cir.data.registry import DATASETS

                known |= set(DATASETS)
            if base not in known:
                problems.append(f"{at}.per_task.{task}.noise_pool: {entry['noise_pool']!r} is not <set> or "
                                f"<set>-p<patch> of a data set of this preset (e.g. {task_data(preset, task)['train'][0]}"
                                f"-p32)")
        if "adapt" in entry:
            from cir.data.registry import DATASETS, PAIRED_DATASETS

            degraded_ok = set(valid_data_sets(source, task))
            clear_ok = degraded_ok | set(BUILTIN_SETS) | (set(DATASETS) | set(PAIRED_DATASETS) if source == "download" else set())
            for split, ok in (("degraded", degraded_ok), ("clear", clear_ok)):
                for i, ds in enumerate(entry["adapt"][split]):
                    if ds not in ok:
                        problems.append(f"{at}.per_task.{task}.adapt.{split}.{i}: {ds!r} is not a {source} data set "
                                        f"of task {task!r}; allowed values: {', '.join(sorted(ok))}")
        if "visual" in entry and entry["visual"] not in entry.get("test", []):
            problems.append(f"{at}.per_task.{task}.visual: {entry['visual']!r} is not one of the task's test sets "
                            f"({', '.join(entry.get('test', []))})")
        if "convention" in entry and entry["convention"] not in CONVENTION_NAMES:
            problems.append(f"{at}.per_task.{task}.convention: {entry['convention']!r} is not allowed; "
                            f"allowed values: {', '.join(CONVENTION_NAMES)}")
    seen = set()
    for task in preset["tasks"]:
        sets = task_data(preset, task)
        where = f"{at}.per_task.{task}" if task in preset["data"].get("per_task", {}) else at
        valid = valid_data_sets(source, task)
        for split in ("train", "test"):
            for i, ds in enumerate(sets[split]):
                if ds not in valid and (where, split, i) not in seen:  # data/train serves every SR task: once
                    seen.add((where, split, i))
                    problems.append(f"{where}.{split}.{i}: {ds!r} is not a {source} data set of task {task!r}; "
                                    f"allowed values: {', '.join(valid) or 'none'}")


def _check_scheduler(where: str, sched: dict, t: dict, shortest: int, problems: list[str]) -> None:
    ms = sched.get("milestones", [])
    if ms != sorted(ms):
        problems.append(f"{where}.milestones: {ms} must be increasing")
    if ms and ms[-1] > shortest:
        problems.append(f"{where}.milestones: {ms[-1]} is beyond the iteration count "
                        f"({shortest}, train.*_iterations): that decay would never happen")
    if sched.get("warmup") and sched["name"] != "cosine":
        problems.append(f"{where}.warmup: a linear warm-up is available for the cosine schedule only "
                        f"(name: {sched['name']!r})")
    if sched["name"] == "multistep" and "gamma" not in sched:
        problems.append(f"{where}: 'gamma' is required for multistep")
    if sched["name"] == "cosine_restart":
        periods, floors = sched.get("periods"), sched.get("eta_mins")
        if not periods or not floors or len(periods) != len(floors):
            problems.append(f"{where}: cosine_restart needs 'periods' and 'eta_mins' of the same length")


def _check_patch_schedule(where: str, t: dict, problems: list[str]) -> None:
    rows = t.get("patch_schedule")
    if not rows:
        return
    starts = [r[0] for r in rows]
    if starts[0] != 0 or starts != sorted(set(starts)):
        problems.append(f"{where}.patch_schedule: start steps {starts} must begin at 0 and increase")
    for i, (_, patch, batch) in enumerate(rows):
        if patch < 4 or batch < 1:
            problems.append(f"{where}.patch_schedule.{i}: patch {patch} must be at least 4 and batch {batch} at least 1")


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


def split_replica(name: str) -> tuple[str, int | None]:
    """``(base experiment, seed)`` of a seed replica's name (``dckd_seed1`` -> ``("dckd", 1)``);
    ``(name, None)`` for any other name."""
    m = _REPLICA.match(name)
    return (m["base"], int(m["seed"])) if m else (name, None)


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


def table_seeds(preset: dict, runs: int) -> list[int]:
    """The training seeds of a table that reports the mean of ``runs`` runs per row (DRCNet's
    Table 1: three): the preset's ``train.seed`` and the ``runs - 1`` seeds after it."""
    first = int(preset["train"]["seed"])
    return [first + k for k in range(max(1, int(runs)))]


def experiments_with_replicas(cfg: dict, preset: dict,
                              extra: dict[str, list[int]] | None = None) -> dict[str, dict[str, Any]]:
    """Every experiment of ``cfg`` plus the seed replicas of the student experiments for the
    preset's ``seeds`` (e.g. ``logits_seed1``) and, for the experiments named in ``extra``, for the
    seeds listed there (the runs of a table that reports a mean over seeds), as the DAG sees them."""
    out = copy.deepcopy(cfg["experiments"])
    for base, exp in cfg["experiments"].items():
        if exp["role"] != "student":
            continue
        for seed in dict.fromkeys([*preset_seeds(preset), *(extra or {}).get(base, [])]):
            name = replica_name(base, seed, preset)
            if name != base:
                out[name] = experiment(cfg, name)
    return out
