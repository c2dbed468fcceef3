# svcnet pipeline: data -> saliency -> lmdb -> scribbles -> training -> inference -> metric tables in reports/.
# Every rule runs one `svcnet` command (the same commands as dvc.yaml). Settings: config/config.yaml (schema:
# workflow/schemas/config.schema.yaml); outputs of a profile live under data/<profile>/, results/<profile>/,
# reports/<profile>/, logs under logs/<profile>/.
#   snakemake --cores all                         # the default `demo` profile (embedded DAVIS clips, CPU)
#   snakemake --cores all --config profile=paper  # another profile (other keys: edit config/config.yaml or
#                                                 # pass --configfile my.yaml, merged over it)
#   snakemake --profile workflow/profiles/slurm   # on a SLURM cluster
#   snakemake --cores all --config profile=paper allow_missing=true  # run what can run when inputs are missing
# Adding a stage: a new workflow/rules/<stage>.smk, included below in DAG order, whose rules call `svcnet <cmd>`,
# declare `log:`, and append their final outputs to TARGETS. A rule file uses only common.smk and its own definitions:
# a path that one rule file writes and another reads is named in common.smk.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


# common.smk first checks the command-line overrides and resolves the profile (with svcnet.config, which names the
# offending key); the standard validation then runs on the same schema.
include: "workflow/rules/common.smk"


validate(config, "workflow/schemas/config.schema.yaml", set_default=False)


include: "workflow/rules/prepare.smk"
include: "workflow/rules/saliency.smk"
include: "workflow/rules/pack.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/scribbles.smk"
include: "workflow/rules/infer.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


# Before the first job of a real run (not -n): `svcnet preflight` lists every registry file or configured folder that
# is missing, with how to get it, and stops the run (--config allow_missing=true: runs the stages that can run).
onstart:
    run_preflight()


rule all:
    default_target: True
    input:
        TARGETS,
