# Pack the training clips (frames + masks + registered maps such as saliency) into data/<profile>/train.lmdb.


rule pack:
    input:
        clips=f"{DATA}/{{split}}",
        maps=lambda wc: [p for kind, folder in PACK_MAPS.items()
                         for p in PACK_MAP_INPUTS.get(kind, lambda split: [folder(split)])(wc.split)],
    output:
        directory(f"{DATA}/{{split}}.lmdb"),
    params:
        config=SVCNET_CONFIG,
        settings=settings(("pack",)),
        maps=lambda wc: " ".join(f"--map {kind}={folder(wc.split)}" for kind, folder in sorted(PACK_MAPS.items())),
    log:
        f"{LOGS}/pack_{{split}}.log",
    wildcard_constraints:
        split="train|eval",
    conda:
        SVCNET_ENV
    shell:
        "svcnet pack {input.clips} --out {output} {params.config} {params.maps} > {log} 2>&1"


TARGETS.append(f"{DATA}/train.lmdb")
