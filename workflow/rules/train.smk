from vvcjnd.model.costs import training_runtime_minutes

TRAIN = f"{RESULTS}/train"
TRAIN_PATCHES = {
    f"{split}_{kind}": str(patch_array(f"{RESULTS}/patches", split, kind))
    for split in ["train", "val"]
    for kind in ["pristine", "jnd"]
}
# train.checkpoint: a given network (ours, or the authors' .pth) replaces training
GIVEN_CHECKPOINT = config["train"]["checkpoint"]
# the network that inference and evaluation use
MODEL_CHECKPOINT = (
    f"{RESULTS}/model/checkpoint.pt"
    if GIVEN_CHECKPOINT
    else f"{TRAIN}/checkpoint_best.pt"
)


rule train:
    """Fit the structural-visibility U-Net on the train split, validating every epoch."""
    input:
        **TRAIN_PATCHES,
    output:
        last=f"{TRAIN}/checkpoint_last.pt",
        best=f"{TRAIN}/checkpoint_best.pt",
        log=f"{TRAIN}/log.csv",
        figure=report(
            f"{TRAIN}/loss.png",
            caption="../report/train_loss.rst",
            category="4. Training",
        ),
    log:
        f"{RESULTS}/logs/train/train.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/train.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["train"]["threads"]
    resources:
        # activations of about 2 MB per patch and base channel at batch size, plus the arrays
        mem_mb=2000 + 2 * config["train"]["batch_size"] * config["train"]["width"],
        runtime=lambda wildcards, input, threads: training_runtime_minutes(
            config["train"], [input.train_pristine, input.val_pristine], threads
        ),
        # operational settings travel as resources: they never rerun the training
        eval_batch_size=config["train"]["eval_batch_size"],
        num_workers=config["train"]["num_workers"],
        progress=int(config["train"]["progress"]),
        resume=int(config["train"]["resume"]),
    params:
        train=settings("train"),
        seed=config["seed"],
        format=FORMAT["model"],
        # per-epoch checkpoints live outside the outputs so that a killed job resumes
        state_dir=f"{TRAIN}/state",
    script:
        "../scripts/train_model.py"


if GIVEN_CHECKPOINT:

    rule use_checkpoint:
        """train.checkpoint instead of training: ours checked, the authors' .pth imported."""
        input:
            checkpoint=GIVEN_CHECKPOINT,
        output:
            checkpoint=MODEL_CHECKPOINT,
        log:
            f"{RESULTS}/logs/train/use_checkpoint.log",
        conda:
            "../../envs/torch.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=5,
        params:
            format=FORMAT["model"],
        script:
            "../scripts/use_checkpoint.py"


rule model:
    """Target: the trained network, its training log and loss curve (or the given network)."""
    input:
        MODEL_CHECKPOINT if GIVEN_CHECKPOINT else rules.train.output,
    localrule: True
