# Colourise every eval clip with every method of evaluate.methods: results/<profile>/infer/<method>/<clip>/ (the
# `svcnet colorize` layout). Baselines: `svcnet baseline` (gray, levin); CPNet / SVCNet: `svcnet colorize` with the
# weights trained by this pipeline (train.smk): cpnet = the stage-2 CPNet, svcnet = SSNet with the CPNet fine-tuned
# jointly with it; working size data.height x data.width, output lightness infer.lightness. PWC-Net flows when
# weights/ has pwcNet-default.pytorch, else OpenCV DIS (recorded per clip).
# dvc.yaml runs the same commands for a whole split at once (`svcnet infer-set`, same output folders).


rule baseline:
    input:
        frames=f"{DATA}/eval",
        scribbles=lambda wc: scribble_dir(wc.clip) if wc.method == "levin" else [],
    output:
        directory(f"{RESULTS}/infer/{{method}}/{{clip}}"),
    params:
        scribbles=lambda wc, input: f"--scribbles {input.scribbles}" if wc.method == "levin" else "",
    log:
        f"{LOGS}/infer_{{method}}_{{clip}}.log",
    wildcard_constraints:
        method="gray|levin",
    conda:
        SVCNET_ENV
    shell:
        "svcnet baseline {input.frames}/{wildcards.clip}/frames --method {wildcards.method} {params.scribbles} "
        "--out {output} --quiet > {log} 2>&1"


rule colorize:
    input:
        frames=f"{DATA}/eval",
        scribbles=lambda wc: scribble_dir(wc.clip),
        weights=lambda wc: list(trained_weights(wc.method).values()),
    output:
        directory(f"{RESULTS}/infer/{{method}}/{{clip}}"),
    params:
        weights=lambda wc: " ".join(f"--{k} {v}" for k, v in trained_weights(wc.method).items()),
        size=f"{CFG['data']['height']}x{CFG['data']['width']}",
        lightness=" ".join(f"--lightness {v}" for v in [CFG.get("infer", {}).get("lightness")] if v),
        device=" ".join(f"--device {v}" for v in [CFG.get("infer", {}).get("device")] if v),
    log:
        f"{LOGS}/infer_{{method}}_{{clip}}.log",
    wildcard_constraints:
        method="cpnet|svcnet",
    resources:
        gpu=GPUS["colorize"],
    conda:
        SVCNET_ENV
    shell:
        "svcnet colorize {input.frames}/{wildcards.clip}/frames --scribbles {input.scribbles} "
        "--method {wildcards.method} {params.weights} --size {params.size} {params.lightness} {params.device} "
        "--out {output} --quiet > {log} 2>&1"
