# Colourise every eval clip with every method of evaluate.methods: results/<profile>/infer/<method>/<clip>/ (the
# `svcnet colorize` layout). Baselines: `svcnet baseline` (gray, levin); CPNet / SVCNet: `svcnet colorize` with the
# official weights in $SVCNET_WEIGHTS or weights/ (eval_methods() drops them when absent).


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
        weights=lambda wc: [f"{WEIGHTS_DIR}/{f}" for f in COLORIZE_WEIGHTS[wc.method]],
    output:
        directory(f"{RESULTS}/infer/{{method}}/{{clip}}"),
    params:
        weights=WEIGHTS_DIR,
    log:
        f"{LOGS}/infer_{{method}}_{{clip}}.log",
    wildcard_constraints:
        method="cpnet|svcnet",
    conda:
        SVCNET_ENV
    shell:
        "svcnet colorize {input.frames}/{wildcards.clip}/frames --scribbles {input.scribbles} "
        "--method {wildcards.method} --weights {params.weights} --out {output} --quiet > {log} 2>&1"
