# Materialise the clip sets of the configured profile at the working size: data/<profile>/{train,eval}/.


rule prepare:
    input:
        prepare_inputs,
    output:
        directory(f"{DATA}/{{split}}"),
    params:
        config=SVCNET_CONFIG,
        settings=lambda wc: settings(
            ("data", "height"), ("data", "width"), ("data", "interpolation"), ("data", wc.split)
        ),
    log:
        f"{LOGS}/prepare_{{split}}.log",
    benchmark:
        f"{BENCHMARKS}/prepare/{{split}}.tsv",
    wildcard_constraints:
        split="train|eval",
    conda:
        SVCNET_ENV
    shell:
        "svcnet prepare {params.config} --split {wildcards.split} --out {output} > {log} 2>&1"


TARGETS.append(lambda wc: [f"{DATA}/eval"] if runnable(["prepare@eval"]) else [])
