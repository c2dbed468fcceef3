# Training: CPNet (stage 1 images, stage 2 video frames) -> SSNet (WARN warm-up unless train.init.warn is given, then
# joint training on 7-frame windows), on the packed train split.
# Outputs: results/<profile>/train/{cpnet,ssnet}/ (weights in the official layout, log.csv, loss.png, tensorboard/).
# Checkpoints live in <out>/<stage>/checkpoints/ (not declared outputs), so a re-run after an interruption resumes
# (--resume continues only when the settings are unchanged; otherwise training starts over).
# GPU rules declare resources gpu=1 (limit with `--resources gpu=N`; on SLURM, map it to your GPU request).


rule train_cpnet:
    input:
        data=f"{DATA}/train.lmdb",
    output:
        weights=f"{RESULTS}/train/cpnet/cpnet.pth",
    params:
        config=SVCNET_CONFIG,
        out=lambda w, output: os.path.dirname(output.weights),
        settings=settings(
            ("train", "init"), ("train", "scribbles"), ("train", "cpnet1"), ("train", "cpnet2"), ("train", "seed"),
            ("train", "amp"), ("train", "device"), ("train", "deterministic"), ("train", "threads"),
            ("train", "cpu_isa"),
        ),
    log:
        f"{LOGS}/train_cpnet.log",
    threads: workflow.cores
    resources:
        gpu=1,
    conda:
        SVCNET_ENV
    shell:
        "svcnet train cpnet --data {input.data} --out {params.out} {params.config} --resume --no-progress "
        "> {log} 2>&1"


rule train_ssnet:
    input:
        data=f"{DATA}/train.lmdb",
        cpnet=rules.train_cpnet.output.weights,
    output:
        ssnet=f"{RESULTS}/train/ssnet/ssnet.pth",
        cpnet=f"{RESULTS}/train/ssnet/cpnet.pth",
        curve=f"{RESULTS}/train/ssnet/loss.png",
    params:
        config=SVCNET_CONFIG,
        out=lambda w, output: os.path.dirname(output.ssnet),
        settings=settings(
            ("train", "init"), ("train", "scribbles"), ("train", "warn"), ("train", "ssnet"), ("train", "seed"),
            ("train", "amp"),
            ("train", "device"), ("train", "deterministic"), ("train", "threads"), ("train", "cpu_isa"),
        ),
    log:
        f"{LOGS}/train_ssnet.log",
    threads: workflow.cores
    resources:
        gpu=1,
    conda:
        SVCNET_ENV
    shell:
        "svcnet train ssnet --data {input.data} --cpnet {input.cpnet} --out {params.out} {params.config} --resume "
        "--no-progress > {log} 2>&1"


# The trained weights inference uses (svcnet colorize --cpnet ... --ssnet ...).
TRAINED_CPNET = rules.train_ssnet.output.cpnet
TRAINED_SSNET = rules.train_ssnet.output.ssnet
TARGETS.append(rules.train_ssnet.output.ssnet)
