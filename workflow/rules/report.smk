# Tables, plots, side-by-side GIFs and index.html of all evaluated methods: reports/<profile>/.


rule report:
    input:
        evals=lambda wc: [f"{RESULTS}/evaluate/{m}" for m in eval_methods()],
        scribbles=lambda wc: [scribble_dir(c) for c in eval_clips()],
        training=lambda wc: [f for _, f in training_shown()],
        registry=registry_inputs("report"),
    output:
        directory(REPORTS),
    params:
        config=SVCNET_CONFIG,
        evals=lambda wc, input: " ".join(f"--eval {e}" for e in input.evals),
        scribbles=f"{RESULTS}/scribbles/gt",
        training=lambda wc: " ".join(f"--training {d}" for d, _ in training_shown()),
        settings=settings(("report",)),
    log:
        f"{LOGS}/report.log",
    benchmark:
        f"{BENCHMARKS}/report.tsv",
    conda:
        SVCNET_ENV
    shell:
        "svcnet report {params.evals} {params.training} --out {output} --scribbles {params.scribbles} {params.config} "
        "> {log} 2>&1"


TARGETS.append(lambda wc: [REPORTS] if eval_methods() and runnable(["report"]) else [])
