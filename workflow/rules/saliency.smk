# Saliency maps of the training clips (CPNet's seg-head target), one job per clip so they run in parallel:
# data/<profile>/saliency/train/<clip>/<frame>.png + metadata.json (which method made the maps, and why).
# saliency.method `auto`: the clip's prepared release seg/saliency maps (data.train.seg; the paper profile), else PFAN
# when its weights are in weights/ (svcnet fetch pfan), else the clip's dataset masks (DAVIS), else OpenCV spectral
# residual; the default demo run has no PFAN weights and uses the masks or the fallback.
# The maps are packed into the lmdb with the frames (pack_maps / pack_map_inputs of common.smk).
from pathlib import Path

from svcnet.sources import get_source

_SALIENCY = CFG.get("saliency", {})
PFAN_WEIGHTS = _SALIENCY.get("weights") or f"{WEIGHTS_DIR}/{get_source('pfan').file}"
# The PFAN checkpoint is an input when the stage uses it (so its appearance re-runs `auto` jobs).
PFAN_INPUT = (
    [PFAN_WEIGHTS]
    if _SALIENCY.get("method", "auto") == "pfan"
    or (_SALIENCY.get("method", "auto") == "auto" and Path(PFAN_WEIGHTS).is_file())
    else []
)


rule saliency:
    input:
        clips=f"{DATA}/{{split}}",
        weights=PFAN_INPUT,
        registry=registry_inputs("saliency"),
    output:
        directory(os.path.join(saliency_dir("{split}"), "{clip}")),
    params:
        config=SVCNET_CONFIG,
        out=lambda wc, output: folder_above(output[0], wc.clip),
        settings=settings(("saliency",)),
    log:
        f"{LOGS}/saliency/{{split}}/{{clip}}.log",
    benchmark:
        f"{BENCHMARKS}/saliency/{{split}}/{{clip}}.tsv",
    wildcard_constraints:
        split="train|eval",
        clip=CLIP_ID,
    resources:
        gpu=GPUS["saliency"],
    conda:
        SVCNET_ENV
    shell:
        "svcnet saliency {input.clips} --clip {wildcards.clip} --out {params.out} {params.config} > {log} 2>&1"

