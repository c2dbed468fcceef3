# Training: CPNet (stage 1 images, stage 2 video frames) -> SSNet (WARN warm-up unless train.init.warn is given, then
# joint training on 7-frame windows), on the packed train split.
# Outputs: results/<profile>/train/{cpnet,ssnet}/ (weights in the official layout, log.csv, loss.png, tensorboard/).
# Checkpoints live in <out>/<stage>/checkpoints/ (not declared outputs), so a re-run after an interruption resumes
# (--resume continues only when the settings are unchanged; otherwise training starts over).
# train.processes > 1 launches the command with torchrun; the rules request one GPU per process (none when
# train.device is cpu): limit with `--resources gpu=N`; the SLURM profile turns it into a GPU request.


rule train_cpnet:
    input:
        data=f"{DATA}/train.lmdb",
        registry=registry_inputs("train_cpnet"),
    output:
        weights=TRAINED_CPNET2,
    params:
        config=SVCNET_CONFIG,
        launcher=TRAIN_LAUNCHER,
        out=lambda w, output: os.path.dirname(output.weights),
        settings=settings(
            ("train", "init"), ("train", "scribbles"), ("train", "cpnet1"), ("train", "cpnet2"), ("train", "seed"),
            ("train", "amp"), ("train", "device"), ("train", "deterministic"), ("train", "threads"),
            ("train", "cpu_isa"),
        ),
    log:
        f"{LOGS}/train_cpnet.log",
    benchmark:
        f"{BENCHMARKS}/train_cpnet.tsv",
    threads: ALL_CORES
    resources:
        gpu=GPUS["train"],
    conda:
        SVCNET_ENV
    shell:
        "{params.launcher} train cpnet --data {input.data} --out {params.out} {params.config} --resume --no-progress "
        "> {log} 2>&1"


rule train_ssnet:
    input:
        data=f"{DATA}/train.lmdb",
        cpnet=rules.train_cpnet.output.weights,
        registry=registry_inputs("train_ssnet"),
    output:
        ssnet=TRAINED_SSNET,
        cpnet=TRAINED_CPNET,
        curve=TRAINED_SSNET_CURVE,
    params:
        config=SVCNET_CONFIG,
        launcher=TRAIN_LAUNCHER,
        out=lambda w, output: os.path.dirname(output.ssnet),
        settings=settings(
            ("train", "init"), ("train", "scribbles"), ("train", "warn"), ("train", "ssnet"), ("train", "seed"),
            ("train", "amp"),
            ("train", "device"), ("train", "deterministic"), ("train", "threads"), ("train", "cpu_isa"),
        ),
    log:
        f"{LOGS}/train_ssnet.log",
    benchmark:
        f"{BENCHMARKS}/train_ssnet.tsv",
    threads: ALL_CORES
    resources:
        gpu=GPUS["train"],
    conda:
        SVCNET_ENV
    shell:
        "{params.launcher} train ssnet --data {input.data} --cpnet {input.cpnet} --out {params.out} {params.config} --resume "
        "--no-progress > {log} 2>&1"


TARGETS.append(lambda wc: [TRAINED_SSNET] if runnable(TRAIN_STAGES) else [])
