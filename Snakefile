# cir: data -> teachers -> students -> domain adaptation -> evaluation -> tables.
#   snakemake --cores 4 results/tables/table2.csv                 (demo preset, offline)
#   snakemake -n results/tables/table2.csv --config preset=paper  (paper preset, dry run)
#   snakemake --profile profiles/slurm --workflow-profile none results/tables/table2.csv --config preset=paper

from cir import config as cir_config

configfile: "config.yaml"

# One validation for Snakemake, DVC and the CLIs: JSON schema + cross-references.
cir_config.validate(config, "config.yaml (with --config overrides)")
PRESET = cir_config.preset(config)
P = PRESET["name"]
DATA = config["paths"]["data"]
RUNS = config["paths"]["runs"]
RESULTS = config["paths"]["results"]


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/teachers.smk"
include: "rules/students.smk"
include: "rules/adapt.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"
include: "rules/study.smk"


# Downloads run where the workflow was started (cluster compute nodes often have no internet);
# the table is seconds of work.
localrules:
    download_dataset,
    download_asset,
    job_spec,
    paper_table,
    model_specs_table,
    sweep_figure,
    study_table,
    mcir_all,
    drcnet_all,
    complexity_table,
    criacl_all,
    uniremoval_all,
    val_curves,


rule all:
    input:
        f"{RESULTS}/tables/table2.csv",
