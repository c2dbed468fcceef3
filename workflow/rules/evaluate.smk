# Score each method's outputs against the eval clips: results/<profile>/evaluate/<method>/ (per_video.csv,
# per_frame.csv, summary.json) and metrics/<profile>_<method>.json (dvc metrics).


rule evaluate:
    input:
        pred=lambda wc: [f"{RESULTS}/infer/{wc.method}/{c}" for c in eval_clips()],
        gt=f"{DATA}/eval",
        registry=registry_inputs("evaluate"),
    output:
        folder=directory(f"{RESULTS}/evaluate/{{method}}"),
        metrics=f"metrics/{PROFILE}_{{method}}.json",
    params:
        config=SVCNET_CONFIG,
        pred=f"{RESULTS}/infer/{{method}}",
        dataset=f"{PROFILE}-eval",
        settings=settings(("evaluate",)),
    log:
        f"{LOGS}/evaluate_{{method}}.log",
    benchmark:
        f"{BENCHMARKS}/evaluate/{{method}}.tsv",
    wildcard_constraints:
        method="|".join(METHOD_STAGES),
    resources:
        gpu=GPUS["evaluate"],
    conda:
        SVCNET_ENV
    shell:
        "svcnet evaluate --pred {params.pred} --gt {input.gt} --out {output.folder} --metrics {output.metrics} "
        "--method {wildcards.method} --dataset {params.dataset} {params.config} --quiet > {log} 2>&1"
