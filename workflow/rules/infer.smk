# Colourise every eval clip with every method of evaluate.methods: results/<profile>/infer/<method>/<clip id>/ (the
# `svcnet colorize` layout; a clip id <tag>/<video> nests). Baselines: `svcnet baseline` (gray, levin); CPNet /
# SVCNet: `svcnet colorize` with the weights trained by this pipeline (train.smk): cpnet = the stage-2 CPNet, svcnet =
# SSNet with the CPNet fine-tuned jointly with it; official_cpnet / official_svcnet: the same networks with the
# released weights (network_weights of common.smk). Working size data.height x data.width, output lightness
# infer.lightness, edge frames infer.edge; PWC-Net flows when weights/ has pwcNet-default.pytorch, else OpenCV DIS
# (recorded per clip).
# dvc.yaml runs the same commands for a whole split at once (`svcnet infer-set`, same output folders).


rule baseline:
    input:
        frames=f"{DATA}/eval",
        scribbles=lambda wc: scribble_dir(wc.clip) if wc.method == "levin" else [],
    output:
        directory(f"{RESULTS}/infer/{{method}}/{{clip}}"),
    params:
        scribbles=lambda wc, input: f"--scribbles {input.scribbles}" if wc.method == "levin" else "",
        size=f"{CFG['data']['height']}x{CFG['data']['width']}",
    log:
        f"{LOGS}/infer/{{method}}/{{clip}}.log",
    benchmark:
        f"{BENCHMARKS}/infer/{{method}}/{{clip}}.tsv",
    wildcard_constraints:
        method="gray|levin",
        clip=CLIP_ID,
    conda:
        SVCNET_ENV
    shell:
        "svcnet baseline {input.frames}/{wildcards.clip}/frames --method {wildcards.method} {params.scribbles} "
        "--size {params.size} --out {output} --quiet > {log} 2>&1"


rule colorize:
    input:
        frames=f"{DATA}/eval",
        scribbles=lambda wc: scribble_dir(wc.clip),
        weights=lambda wc: network_weight_inputs(wc.method),
    output:
        directory(f"{RESULTS}/infer/{{method}}/{{clip}}"),
    params:
        network=lambda wc: wc.method.removeprefix("official_"),
        weights=lambda wc: " ".join(f"--{k} {v}" for k, v in network_weights(wc.method).items()),
        size=f"{CFG['data']['height']}x{CFG['data']['width']}",
        lightness=" ".join(f"--lightness {v}" for v in [CFG.get("infer", {}).get("lightness")] if v),
        edge=CFG.get("infer", {}).get("edge", "mirror"),
        device=CFG.get("infer", {}).get("device", "auto"),
    log:
        f"{LOGS}/infer/{{method}}/{{clip}}.log",
    benchmark:
        f"{BENCHMARKS}/infer/{{method}}/{{clip}}.tsv",
    wildcard_constraints:
        method="|".join(NETWORK_METHODS),
        clip=CLIP_ID,
    resources:
        gpu=GPUS["colorize"],
    conda:
        SVCNET_ENV
    shell:
        "svcnet colorize {input.frames}/{wildcards.clip}/frames --scribbles {input.scribbles} "
        "--method {params.network} {params.weights} --size {params.size} {params.lightness} "
        "--edge {params.edge} --device {params.device} --out {output} --quiet > {log} 2>&1"
