# svcnet pipeline: data -> saliency -> lmdb -> scribbles -> training -> inference -> metric tables in reports/.
# Every rule runs one `svcnet` command (the same commands as dvc.yaml). Settings: config/config.yaml (schema:
# workflow/schemas/config.schema.yaml); outputs of a profile live under data/<profile>/, results/<profile>/,
# reports/<profile>/, logs under logs/<profile>/.
#   snakemake --cores all                         # the default `demo` profile (embedded DAVIS clips, CPU)
#   snakemake --cores all --config profile=paper  # another profile (other keys: edit config/config.yaml or
#                                                 # pass --configfile my.yaml, merged over it)
#   snakemake --profile workflow/profiles/slurm   # on a SLURM cluster
# Adding a stage: a new workflow/rules/<stage>.smk (included automatically, in name order, after common.smk) whose
# rules call `svcnet <cmd>`, declare `log:`, and append their final outputs to TARGETS.
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


# common.smk first checks the command-line overrides and resolves the profile (with svcnet.config, which names the
# offending key); the standard validation then runs on the same schema.
include: "workflow/rules/common.smk"


validate(config, "workflow/schemas/config.schema.yaml", set_default=False)


for _rules in sorted(Path(workflow.basedir, "workflow", "rules").glob("*.smk")):
    if _rules.name != "common.smk":

        include: _rules


rule all:
    default_target: True
    input:
        TARGETS,
