import copy
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT

from cir import config as cfgmod
from cir.errors import ConfigError


@pytest.fixture(scope="module")
def cfg():
    return cfgmod.load_yaml(ROOT / "config.yaml")


def test_shipped_config_is_valid(cfg):
    cfgmod.validate(cfg)
    assert cfg["preset"] == "demo"
    assert set(cfg["presets"]) >= {"smoke", "demo", "paper"}


def test_paper_preset_holds_dckd_settings(cfg):
    p = cfgmod.preset(cfg, "paper")
    t = p["train"]
    assert p["tasks"][:5] == ["x2", "x3", "x4", "deblur", "derain"]
    assert p["backbones"][:4] == ["swinir", "rcan", "nafnet", "restormer"]
    assert p["data"]["train"] == ["DIV2K_train_HR"]
    assert p["data"]["test"] == ["Set5", "Set14", "BSD100", "Urban100", "Manga109"]
    assert t["lr_patch"] == 48 and t["batch_size"] == 16 and t["augment"] is True
    assert t["student_iterations"] == 250_000
    assert t["optimizer"] == {"name": "adam", "lr": 1e-4, "betas": [0.9, 0.99], "eps": 1e-8, "weight_decay": 0.0}
    assert t["scheduler"] == {"name": "multistep", "milestones": [100_000, 200_000], "gamma": 0.1}


def bad(cfg, path, value):
    out = copy.deepcopy(cfg)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize("path,value,message", [
    (["presets", "demo", "train", "optimizer", "name"], "sgd",
     r"presets\.demo\.train\.optimizer\.name: 'sgd' is not allowed; allowed values: 'adam', 'adamw'"),
    (["presets", "demo", "tasks"], ["x2", "x9"], r"presets\.demo\.tasks\.1: 'x9' does not match"),
    (["presets", "demo", "models", "rcan", "arch"], "rcann",
     r"presets\.demo\.models\.rcan\.arch: 'rcann' is not an architecture; allowed values: criacl, dehazeformer, drcnet, edsr"),
    (["presets", "demo", "backbones"], ["swinir", "carn"],
     r"presets\.demo\.models: no entry for backbone 'carn'"),
    (["presets", "demo", "tasks"], ["x4", "dejpeg"], r"presets\.demo\.tasks\.1: 'dejpeg' does not match"),
    (["presets", "demo", "data", "per_task", "deblur", "train"], ["skimage_train_rain"],
     r"presets\.demo\.data\.per_task\.deblur\.train\.0: 'skimage_train_rain' is not a builtin data set of task "
     r"'deblur'; allowed values: skimage_train_blur, skimage_train_blur_real, skimage_test_blur"),
    (["presets", "paper", "data", "per_task", "derain", "test"], ["GoPro_test"],
     r"presets\.paper\.data\.per_task\.derain\.test\.0: 'GoPro_test' is not a download data set of task 'derain'"),
    (["presets", "demo", "recipes", "deblur/carn"], {"rec_loss": "psnr"},
     r"presets\.demo\.recipes\.deblur/carn: backbone 'carn' is not one of the preset's backbones"),
    (["presets", "demo", "recipes", "nafnet", "rec_loss"], "l2",
     r"presets\.demo\.recipes\.nafnet\.rec_loss: 'l2' is not allowed; allowed values: 'l1', 'psnr'"),
    (["presets", "paper", "recipes", "restormer", "patch_schedule"], [[10, 128, 8]],
     r"presets\.paper\.recipes\.restormer\.patch_schedule: start steps \[10\] must begin at 0"),
    (["presets", "paper", "recipes", "restormer", "scheduler"], {"name": "cosine_restart", "periods": [10]},
     r"presets\.paper\.recipes\.restormer\.scheduler: cosine_restart needs 'periods' and 'eta_mins'"),
    (["presets", "demo", "backbones"], ["swinir_s"], r"presets\.demo\.models: no entry for backbone 'swinir_s'"),
    (["presets", "demo", "train", "lr_patch"], 2, r"presets\.demo\.train\.lr_patch: 2 is less than the minimum of 4"),
    (["presets", "demo", "train", "batchsize"], 4, r"presets\.demo\.train: unknown key\(s\) 'batchsize'; allowed keys:"),
    (["presets", "demo", "data", "test"], ["Set6"], r"presets\.demo\.data\.test\.0: 'Set6' is not a builtin data set of task 'x4'"),
    (["presets", "paper", "data", "test"], ["Set6"], r"presets\.paper\.data\.test\.0: 'Set6' is not a download data set of task 'x2'; allowed values: .*Set5"),
    (["experiments", "logits", "method"], "kd", r"experiments\.logits\.method: 'kd' is not allowed; allowed values: criacl, dckd, dckd_star, drcnet_cr, fakd, logits, mipkd, spn, supervised"),
    (["experiments", "logits", "teachers"], {"teacher": "scratch"},
     r"experiments\.logits\.teachers\.teacher: 'scratch' is not a teacher experiment"),
    (["experiments", "logits", "teacher"], "teacher", r"experiments\.logits: unknown key\(s\) 'teacher'"),
    (["preset"], "big", r"preset: 'big' is not a preset; allowed values: smoke, demo, .*paper"),
    (["experiments", "dckd", "options", "w_dcll"], 0.1,
     r"experiments\.dckd\.options: unknown key\(s\) 'w_dcll'; allowed keys: .*w_dcl"),
    (["experiments", "dckd", "options", "degradation"], "jpeg",
     r"experiments\.dckd\.options\.degradation: 'jpeg' is not allowed; allowed values: 'blur', 'noise'"),
    (["experiments", "dckd", "options", "num_negatives"], 0,
     r"experiments\.dckd\.options\.num_negatives: 0 is less than the minimum of 1"),
    (["experiments", "fakd", "options", "w_fa"], "big", r"experiments\.fakd\.options\.w_fa: 'big' has the wrong type"),
    (["experiments", "logits", "groups"], {"d": {"grad_clip": 1.0}},
     r"experiments\.logits\.groups\.d: method 'logits' has no trainable group 'd'"),
    (["experiments", "scratch", "init"], {"experiment": "nosuch"},
     r"experiments\.scratch\.init\.experiment: 'nosuch' is not an experiment"),
    (["experiments", "scratch", "init"], "official", r"experiments\.scratch\.init: 'official' weights exist for the teacher"),
    (["presets", "demo", "train", "scheduler"], {"name": "multistep", "milestones": [100, 100000], "gamma": 0.5},
     r"presets\.demo\.train\.scheduler\.milestones: 100000 is beyond the iteration count"),
    (["device"], "tpu", r"device: 'tpu' is not allowed; allowed values: 'auto', 'cpu', 'cuda'"),
])
def test_bad_values_name_the_key_and_allowed_values(cfg, path, value, message):
    with pytest.raises(ConfigError, match=message):
        cfgmod.validate(bad(cfg, path, value))


def test_the_old_preset_key_says_what_it_became(cfg):
    old = copy.deepcopy(cfg)
    old["scale"] = old.pop("preset")
    with pytest.raises(ConfigError, match=r"scale: the key that picks the preset is now 'preset' \(e\.g\. --config preset=demo\)"):
        cfgmod.validate(old)


@pytest.mark.slow
def test_snakemake_dry_run_rejects_a_misspelt_method_option(tmp_path):
    """A typo in a method option fails at `snakemake -n`, with its key path, not hours into a run."""
    conf = yaml.safe_load((ROOT / "config.yaml").read_text())
    conf["experiments"]["dckd"]["options"]["w_dlc"] = 0.1
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump(conf))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--configfile", str(tmp_path / "typo.yaml"),
                           "-n", "results/tables/table2.csv"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "experiments.dckd.options: unknown key(s) 'w_dlc'" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_snakemake_stops_before_any_job_on_a_bad_value(tmp_path):
    conf = yaml.safe_load((ROOT / "config.yaml").read_text())
    conf["presets"]["smoke"]["train"]["optimizer"]["name"] = "sgd"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(conf))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--configfile", str(tmp_path / "bad.yaml"),
                           "--config", "preset=smoke", "-n", "results/tables/table2.csv"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "presets.smoke.train.optimizer.name: 'sgd' is not allowed; allowed values: 'adam', 'adamw'" in (
        proc.stdout + proc.stderr)


def job_counts(dry_run_output: str) -> dict[str, int]:
    """``{rule: number of jobs}`` from the "Job stats" table of a Snakemake dry run."""
    counts = {}
    for line in dry_run_output[dry_run_output.index("Job stats:"):].splitlines()[3:]:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


@pytest.mark.slow
def test_paper_dry_run_lists_the_full_dag():
    # the command line of the README
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--config", "preset=paper", "-n",
                           "results/tables/table2.csv"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    counts = job_counts(out)
    assert counts["download_dataset"] == 6          # DIV2K + Set5, Set14, BSD100, Urban100, Manga109 (MCIR Table 1)
    assert counts["download_asset"] == 7            # official SwinIR and RCAN x2/x3/x4 + DCKD's VQGAN
    assert counts["import_teacher"] == 6
    assert counts["prepare_sr"] == 18
    # Scratch, Logits, FAKD, MiPKD, DCKD x 2 backbones x 3 scales, + DCKD* at x4 only
    assert counts["train_student"] == 32
    assert counts["evaluate"] == 38
    assert counts["job_spec"] == 32                # every trained network has a spec (imported teachers: none)
    assert counts["paper_table"] == 1
    assert "gpu=1" in out  # training and evaluation jobs ask for a GPU at paper scale


@pytest.mark.parametrize("target, job, students", [
    ("results/tables/table5.csv", "paper_table", 4),   # Logits, DCR only, DMM only, DCKD
    ("results/tables/table6.csv", "paper_table", 4),   # blur, noise (= DCKD), resize, mix
    ("results/tables/table7.csv", "paper_table", 5),   # DCKD + 2 lambda_dcl + 2 lambda_ce values
    ("results/figures/fig8.png", "sweep_figure", 6),   # N = 1, 3, 5, 7; initial step 500, 2000
])
@pytest.mark.slow
def test_paper_dry_run_of_the_ablations(target, job, students):
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--config", "preset=paper", "-n", target],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    counts = job_counts(out)
    assert counts["train_student"] == students and counts["evaluate"] == students and counts[job] == 1
    assert counts["import_teacher"] == 1 and "data/sr/Set14/x2" in out and "data/sr/Urban100/x2" in out


@pytest.mark.slow
def test_config_overrides_reach_the_jobs():
    """`--config device=cpu` is validated and then used: every training and evaluation command
    carries it (before, the jobs re-read config.yaml and never saw it)."""
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-p", "--forceall", "results/tables/table2.csv",
                           "--config", "preset=smoke", "device=cpu"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cmds = [ln for ln in proc.stdout.splitlines() if "workflow_scripts/train.py" in ln or "workflow_scripts/evaluate.py" in ln]
    assert len(cmds) == 12 and all("--device cpu" in c for c in cmds)
    # the spec jobs read the configuration the workflow validated (the overrides applied), not config.yaml
    specs = [ln for ln in proc.stdout.splitlines() if "workflow_scripts/write_spec.py" in ln]
    assert specs and all("--config .snakemake/cir/config-" in c and "--expect " in c for c in specs)


@pytest.mark.slow
def test_spec_job_refuses_a_configuration_edited_after_the_start(tmp_path):
    """The workflow passes the spec digest it validated; a config.yaml edited since stops the job
    with one line and writes nothing."""
    from cir import spec

    cfg = cfgmod.load_and_validate(ROOT / "config.yaml")
    digest = spec.spec_hash(spec.job_spec(cfg, "smoke", "x2", "rcan", "scratch"))
    conf = yaml.safe_load((ROOT / "config.yaml").read_text())
    conf["presets"]["smoke"]["train"]["student_iterations"] = 9
    edited = tmp_path / "config.yaml"
    edited.write_text(yaml.safe_dump(conf))
    args = ["--preset", "smoke", "--task", "x2", "--backbone", "rcan", "--experiment", "scratch"]
    out = tmp_path / "spec.json"
    proc = subprocess.run([sys.executable, "workflow_scripts/write_spec.py", "--config", str(edited), *args,
                           "--expect", digest, "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "the configuration changed since" in proc.stderr and not out.exists()
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = subprocess.run([sys.executable, "workflow_scripts/write_spec.py", "--config", str(ROOT / "config.yaml"),
                           *args, "--expect", digest, "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert spec.spec_hash(spec.load_spec(out)) == digest


def test_task_conventions_match_the_metric_registry():
    from cir.eval.metrics import CONVENTIONS
    from cir.tasks import CONVENTION_NAMES, parse_task

    assert set(CONVENTION_NAMES) == set(CONVENTIONS)
    assert parse_task("x4").scale == 4 and parse_task("x4").default_convention == "dckd_sr"
    assert parse_task("derain").scale == 1 and parse_task("derain").default_convention == "derain_y"
    with pytest.raises(ConfigError, match="'x1' is not a task"):
        parse_task("x1")
