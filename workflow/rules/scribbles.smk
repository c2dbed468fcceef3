# Evaluation scribbles of the eval clips (official format: <frame>_256p.png, black = none), one job per clip and
# style so they run in parallel: results/<profile>/scribbles/<style>/<clip>/ (+ metadata.json: settings, flow
# backend, points per frame, whether lost points were re-seeded). Style `gt` (ground-truth colours) feeds inference
# and the report (scribble_dir of common.smk); diverse1..4 are the official recolourings.
from pathlib import Path

from svcnet.sources import get_source

_SCRIBBLES = CFG.get("scribbles", {})
# scribbles.styles; `gt` is always made (inference and the report read it).
SCRIBBLE_STYLES = list(dict.fromkeys(["gt", *_SCRIBBLES.get("styles", [])]))
# PWC-Net weights are an input when scribbles.flow is pwcnet, or auto and they are there (so their appearance
# re-runs the jobs).
PWCNET_WEIGHTS = _SCRIBBLES.get("pwcnet_weights") or f"{WEIGHTS_DIR}/{get_source('pwcnet').file}"
PWCNET_INPUT = (
    [PWCNET_WEIGHTS]
    if _SCRIBBLES.get("flow", "dis") == "pwcnet"
    or (_SCRIBBLES.get("flow", "dis") == "auto" and Path(PWCNET_WEIGHTS).is_file())
    else []
)


rule scribbles:
    input:
        clips=f"{DATA}/eval",
        weights=PWCNET_INPUT,
        registry=registry_inputs("scribbles"),
    output:
        directory(f"{RESULTS}/scribbles/{{style}}/{{clip}}"),
    params:
        config=SVCNET_CONFIG,
        out=lambda wc, output: folder_above(output[0], wc.clip, levels=1),
        settings=settings(("scribbles",), ("data", "height"), ("data", "width")),
    log:
        f"{LOGS}/scribbles/{{style}}/{{clip}}.log",
    benchmark:
        f"{BENCHMARKS}/scribbles/{{style}}/{{clip}}.tsv",
    wildcard_constraints:
        style="gt|diverse1|diverse2|diverse3|diverse4",
        clip=CLIP_ID,
    conda:
        SVCNET_ENV
    shell:
        "svcnet scribbles {input.clips} --clip {wildcards.clip} --style {wildcards.style} --out {params.out} "
        "{params.config} > {log} 2>&1"


TARGETS.append(
    lambda wc: [f"{RESULTS}/scribbles/{s}/{c}" for s in SCRIBBLE_STYLES for c in eval_clips()]
    if runnable(["prepare@eval", "scribbles"])
    else []
)
