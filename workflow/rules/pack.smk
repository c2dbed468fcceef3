# Pack the training clips (frames + masks + the maps of pack_maps in common.smk, e.g. saliency) into
# data/<profile>/train.lmdb.


rule pack:
    input:
        clips=f"{DATA}/{{split}}",
        maps=lambda wc: pack_map_inputs(wc.split),
        registry=registry_inputs("pack"),
    output:
        directory(f"{DATA}/{{split}}.lmdb"),
    params:
        config=SVCNET_CONFIG,
        settings=settings(("pack",)),
        maps=lambda wc: " ".join(f"--map {kind}={folder}" for kind, folder in sorted(pack_maps(wc.split).items())),
    log:
        f"{LOGS}/pack_{{split}}.log",
    benchmark:
        f"{BENCHMARKS}/pack/{{split}}.tsv",
    wildcard_constraints:
        split="train|eval",
    conda:
        SVCNET_ENV
    shell:
        "svcnet pack {input.clips} --out {output} {params.config} {params.maps} > {log} 2>&1"


TARGETS.append(lambda wc: [f"{DATA}/train.lmdb"] if runnable(["prepare@train", "saliency", "pack"]) else [])
