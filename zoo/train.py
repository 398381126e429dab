"""The training loop: recipe -> run folder with metrics, checkpoints and a summary.

Data live on the training device, augmentation runs there, and metrics stay there until a logging interval:
the loop never waits for the GPU inside an interval. The random state of step s is seeded from (seed, s), so a run
resumed from any checkpoint (end of epoch or Ctrl-C) continues exactly as it would have.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from zoo.augment import create_augment
from zoo.backbones.size_check import check_input_sizes
from zoo.checkpoint import copy_checkpoint, keeps_checkpoint, save_checkpoint
from zoo.data import ImageDataset, TrainingData, open_training_data
from zoo.device import pick_device
from zoo.distributed import World, data_parallel, joined, local_batch_size, require_fixed_run_dir
from zoo.errors import ZooError
from zoo.evaluate import OnlineLinearProbe, embed_all, evaluate_knn, pixels
from zoo.evaluate.linear import frozen
from zoo.evaluate.run import Evaluator, as_record, write_results
from zoo.methods import Method, create_method
from zoo.optim import optimizer_from_recipe, warmup_cosine
from zoo.progress import TrainProgress
from zoo.recipes import Recipe, dump_recipe, load_recipe
from zoo.resume import restore, resume_recipe, run_identity
from zoo.run_folder import check_out_dir, lock_on_main, start_run_dir
from zoo.run_record import TrainState, run_results, run_summary
from zoo.speed import CompiledStep, PhaseTimer, StepSpeed, untimed
from zoo.stop import StopRequests, exit_code
from zoo.tensorboard import TensorBoardLogger

_STEP_SEED_STRIDE = 1_000_003  # seeds of different runs' steps do not collide for runs under a million steps


class TrainingInterrupted(Exception):
    """Ctrl-C or SIGTERM: a checkpoint was saved; `zoo train --resume RUN_DIR` continues."""

    def __init__(self, run_dir: Path, signum: int = signal.SIGINT) -> None:
        super().__init__(f"interrupted; checkpoint saved, continue with: zoo train --resume {run_dir}")
        self.run_dir, self.exit_code = run_dir, exit_code(signum)


class TrainingDiverged(ZooError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    main_process: bool = True  # False on the other ranks of a torchrun job


def train(
    recipe: Recipe | str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    resume: str | Path | None = None,
    run_dir: str | Path | None = None,
    stop_after_epoch: int | None = None,
    console: Console | None = None,
) -> RunResult:
    """Pre-train the recipe's method and evaluate it; returns the run folder and its summary.

    `resume` continues the run folder given (its own recipe.toml); `run_dir` trains the recipe into that folder, or
    resumes the run already there (what a restarted torchrun worker needs); `stop_after_epoch` ends this call early,
    leaving a run that `resume` continues (training in chunks). Under torchrun every process calls this; rank 0
    alone writes the folder, holds its lock and shows progress.
    """
    console = console or Console(stderr=True)
    if run_dir is not None and (Path(run_dir) / "checkpoints" / "last.pt").is_file():
        resume = run_dir
    if resume is not None:
        recipe = resume_recipe(Path(resume), tuple(overrides))
    else:
        recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe, overrides)
        require_fixed_run_dir(None if run_dir is None else Path(run_dir))
        check_out_dir(Path(recipe.run.out_dir))
    with joined(pick_device(recipe.run.device)) as world, StopRequests() as stop:
        run = _Run(recipe, console if world.is_main else Console(quiet=True), stop, world=world)
        if resume is not None:
            folder = Path(resume)
            with lock_on_main(folder, world.is_main):
                run.open(folder, resume=True)
                run.fit(stop_after_epoch)
        else:
            folder = world.from_main(
                lambda: start_run_dir(Path(recipe.run.out_dir), recipe.run.name, run_dir, dump_recipe(recipe))
            )
            with lock_on_main(folder, world.is_main):
                try:
                    run.open(folder, resume=False)
                except BaseException:  # stopped or failed before its first checkpoint: the folder holds nothing
                    if world.is_main:
                        shutil.rmtree(folder, ignore_errors=True)
                    raise
                run.fit(stop_after_epoch)
        world.barrier()  # no rank leaves (and lets torchrun end the job) before rank 0 has written everything
    return RunResult(folder, run.summary(), world.is_main)


class _Run:
    """One training run's parts, built from a recipe before any folder is written (so user errors lose nothing)."""

    def __init__(
        self,
        recipe: Recipe,
        console: Console,
        stop: StopRequests,
        *,
        world: World | None = None,
        data: TrainingData | None = None,
    ) -> None:
        self.recipe, self.console, self.stop, self.world = recipe, console, stop, world or World()
        self.device = self.world.device(pick_device(recipe.run.device))
        local_batch_size(recipe.schedule.batch_size, self.world)  # a user error before anything is read
        torch.manual_seed(recipe.run.seed)
        self.data = data or open_training_data(
            recipe.data,
            batch_size=recipe.schedule.batch_size,
            device=self.device,
            seed=recipe.run.seed,
            log=lambda line: console.print(line, highlight=False),
            rank=self.world.rank,
            world=self.world.size,
        )
        self.train_set: ImageDataset = self.data.train_set
        b = recipe.backbone
        self.method: Method = create_method(
            recipe.method.name,
            backbone=b.name,
            image_size=b.image_size,
            small_stem=b.small_stem,
            **recipe.method.hparams,
        ).to(self.device)
        self.speed = StepSpeed.from_recipe(recipe.run, self.device)
        self.method = self.speed.prepare_model(self.method)
        self.compiled = CompiledStep(self.method, self.speed.compile, lambda line: console.print(line, highlight=False))
        sizes = self.method.view_sizes()
        check_input_sizes(self.method.backbone, b.name, sorted(set(sizes)), self.device)
        self.augment = create_augment(
            recipe.augment.preset or self.method.default_augment,
            image_size=b.image_size,
            n_views=self.method.n_views,
            n_local=self.method.n_local_views,
            local_size=sizes[-1] if self.method.n_local_views else None,
            normalize=self.train_set.normalize,
            **recipe.augment.overrides,
        )
        self.loader = self.data.loader
        sync_bn = self.method.sync_bn if recipe.run.sync_bn is None else recipe.run.sync_bn
        self.loss_fn = data_parallel(self.method, self.world, sync_bn=sync_bn)
        self.optimizer = optimizer_from_recipe(recipe.optim, self.method.param_groups)
        self.steps_per_epoch = len(self.loader)
        self.total_steps = recipe.schedule.epochs * self.steps_per_epoch
        warmup = min(round(recipe.schedule.warmup_epochs * self.steps_per_epoch), self.total_steps)
        self.scheduler = warmup_cosine(
            self.optimizer,
            warmup,
            self.total_steps,
            warmup_start_lr=recipe.schedule.warmup_start_lr,
            min_lr=recipe.schedule.min_lr,
        )
        self.probe = self._online_probe()
        self.evaluator = None if self.data.evaluation is None else Evaluator(
            recipe, *self.data.evaluation, self.data.num_classes, self.augment.mean, self.augment.std, console
        )  # fmt: skip
        self.state = TrainState(world_size=self.world.size)
        self.tensorboard = TensorBoardLogger(recipe.run.tensorboard and self.world.is_main)

    # --- run folder ---------------------------------------------------------------------------------------
    def open(self, run_dir: Path, *, resume: bool) -> None:
        self.run_dir = run_dir
        self.checkpoint_path = run_dir / "checkpoints" / "last.pt"
        if resume:
            restore(self)
            self.console.print(
                f"run {run_dir}: resumed at epoch {self.state.epoch}, step {self.state.step}", highlight=False
            )
        else:
            started = time.perf_counter()
            self.state.knn_init = self._knn(self.method)
            self.state.knn_pixels = self._knn(pixels)
            if self.recipe.eval.linear_epochs and self.evaluator is not None:
                self.state.linear_init = as_record(self.evaluator.linear(self.method, " (init)"))
                self.state.linear_pixels = as_record(self.evaluator.linear(pixels, " (pixels)"))
            self.state.wall_s = time.perf_counter() - started
            s = self.state
            knn = self.data.skipped or f"kNN top-1 at initialisation {s.knn_init:.2f}, raw pixels {s.knn_pixels:.2f}"
            self.console.print(f"run {run_dir}: {knn}" + self._linear_floors_text(), highlight=False)
            self._save()  # a stop requested during these evaluations leaves a run that resumes at step 0
        self.console.print(f"training step on {self.device.type}: {self.speed.describe()}", highlight=False)
        self.tensorboard.open(run_dir, dump_recipe(self.recipe), self.state.step)

    def _save(self) -> None:
        if not self.world.is_main:
            return
        save_checkpoint(
            self.checkpoint_path,
            {
                "method": self.method.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "state": vars(self.state),
                "online_probe": self.probe and self.probe.state_dict(),
                "identity": run_identity(self.recipe),
            },
        )

    # --- training -----------------------------------------------------------------------------------------
    def fit(self, stop_after_epoch: int | None) -> None:
        epochs = self.recipe.schedule.epochs
        last = epochs if stop_after_epoch is None else min(epochs, stop_after_epoch)
        try:
            with TrainProgress(self.console, self.total_steps, self.state.step, epochs) as progress:
                while self.state.epoch < last:
                    self._train_epoch(progress)
        finally:
            self.tensorboard.close()
        if self.state.epoch == epochs:
            self._finish()

    def _train_epoch(self, progress: TrainProgress) -> None:
        s, method = self.state, self.method
        sched = self.recipe.schedule
        done_in_epoch = s.step - s.epoch * self.steps_per_epoch
        loss_sum = torch.tensor(s.epoch_loss_sum, device=self.device)
        bad_step = torch.tensor(-1, device=self.device)
        interval_start, interval_steps = time.perf_counter(), 0
        method.train()
        method.epoch_start(s.epoch, self.loader.epoch_batches(s.epoch))
        batches = islice(self.loader.epoch(s.epoch), done_in_epoch, None)
        for images, labels in batches:
            # each rank its own augmentation stream; one process (rank 0 of 1) keeps the one-process seeds
            torch.manual_seed((self.recipe.run.seed * _STEP_SEED_STRIDE + s.step) * self.world.size + self.world.rank)
            loss = self._step(images, labels)
            loss_sum += loss.detach()
            bad_step = torch.where((bad_step < 0) & ~torch.isfinite(loss.detach()), s.step, bad_step)
            s.step += 1
            interval_steps += 1
            method.step_end(s.step / self.total_steps)
            # under torchrun the ranks agree on stopping at logging intervals only, so all stop at the same step
            stop = False
            if s.step % sched.log_every == 0 or (self.stop.requested and not self.world.active):
                seconds = time.perf_counter() - interval_start
                stop, bad = self.world.agree(self.stop.requested, bad_step)  # one host sync per interval
                self._check_finite(bad)
                steps_done = s.step - s.epoch * self.steps_per_epoch
                scalars = {
                    "loss": self.world.mean(loss_sum).item() / steps_done,
                    "lr": self.optimizer.param_groups[0]["lr"],
                    "images_per_s": interval_steps * sched.batch_size / max(seconds, 1e-9),
                }
                progress.update(step=s.step, epoch=s.epoch + 1, **scalars)
                self.tensorboard.interval(s.step, scalars)
                s.epoch_seconds += seconds
                interval_start, interval_steps = time.perf_counter(), 0
            if stop:
                s.epoch_loss_sum = self.world.mean(loss_sum).item()
                self._save()
                self.world.barrier()  # the checkpoint is on disk before any rank exits
                # a rank the signal did not reach stops as SIGTERM'd: the job is being ended
                raise TrainingInterrupted(self.run_dir, self.stop.signum or signal.SIGTERM)
        self._check_finite(self.world.agree(False, bad_step)[1])
        s.epoch_seconds += time.perf_counter() - interval_start
        self._end_epoch(self.world.mean(loss_sum).item(), progress)

    def _step(self, images: torch.Tensor, labels: torch.Tensor, phase: PhaseTimer = untimed) -> torch.Tensor:
        """One training step; `phase` times its parts (`zoo bench`), untimed in training."""
        with phase("augment"):
            views = self.augment(images)
        return self._update(views, labels, phase)

    def _update(self, views: list[torch.Tensor], labels: torch.Tensor, phase: PhaseTimer = untimed) -> torch.Tensor:
        """Forward, loss, backward and optimiser step on augmented views (also fed by `zoo bench`'s DataLoader peer)."""
        views = self.speed.prepare_views(views)
        with phase("forward + loss"), self.speed.autocast():
            loss = self.compiled(lambda: self.loss_fn(views, labels if self.method.requires_labels else None))
        with phase("backward"):
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
        with phase("optimizer"):
            self.optimizer.step()
            self.scheduler.step()
            if self.probe is not None:
                self.probe.step(labels)  # on the features the loss computed, detached
        return loss

    def _check_finite(self, bad: int) -> None:
        if bad >= 0:
            saved = f"epoch {self.state.epoch}" if self.state.epoch else "none yet"
            raise TrainingDiverged(
                f"loss became non-finite at step {bad} (epoch {bad // self.steps_per_epoch + 1}); training stopped, "
                f"last good checkpoint {self.checkpoint_path} ({saved}); try a lower optim.lr"
            )

    def _end_epoch(self, loss_sum: float, progress: TrainProgress) -> None:
        s = self.state
        s.epoch += 1
        seconds = s.epoch_seconds
        record: dict[str, Any] = {
            "epoch": s.epoch,
            "step": s.step,
            "loss": loss_sum / self.steps_per_epoch,
            "lr": self.optimizer.param_groups[0]["lr"],
            "images_per_s": self.steps_per_epoch * self.recipe.schedule.batch_size / max(seconds, 1e-9),
            "seconds": seconds,
        }
        every = self.recipe.eval.knn_every
        if self.data.evaluation and (s.epoch == self.recipe.schedule.epochs or (every and s.epoch % every == 0)):
            started = time.perf_counter()
            record["knn_top1"] = self._knn(self.method)
            if self.probe is not None:
                record["online_linear_top1"] = self._online_top1()
            s.wall_s += time.perf_counter() - started
        s.wall_s += seconds
        s.history.append(record)
        s.epoch_loss_sum, s.epoch_seconds = 0.0, 0.0
        self._save()  # before the metrics line: a failed save never leaves an epoch that resume would log again
        if self.world.is_main:
            with (self.run_dir / "metrics.jsonl").open("a") as f:
                f.write(json.dumps(record) + "\n")
        if self.world.is_main and keeps_checkpoint(self.recipe.run.keep_checkpoints, s.epoch):
            copy_checkpoint(self.checkpoint_path, self.checkpoint_path.with_name(f"epoch-{s.epoch}.pt"))
        progress.epoch_done(record)
        self.tensorboard.epoch(record)

    def _finish(self) -> None:
        """After the last epoch: the offline linear probe (once), then eval.json and summary.json."""
        if self.recipe.eval.linear_epochs and self.evaluator is not None and self.state.linear is None:
            started = time.perf_counter()
            self.state.linear = as_record(self.evaluator.linear(self.method))
            self.state.wall_s += time.perf_counter() - started
            self._save()
            self.console.print(
                f"linear probe top-1 {self.state.linear['top1']:.2f}" + self._linear_floors_text(), highlight=False
            )
        if self.world.is_main:
            write_results(self.run_dir, self._results())
            (self.run_dir / "summary.json").write_text(json.dumps(self.summary(), indent=2) + "\n")

    def _knn(self, model: Any) -> float | None:
        if self.data.evaluation is None:
            return None
        e = self.recipe.eval
        fit, test = self.data.evaluation  # on the device, or on the host when over the memory budget
        return evaluate_knn(
            model,
            lambda x: self.augment.prepare(x.to(self.device, non_blocking=True)),
            fit,
            test,
            num_classes=self.data.num_classes,
            k=e.knn_k,
            t=e.knn_t,
        )

    def _online_probe(self) -> OnlineLinearProbe | None:
        e = self.recipe.eval
        if not e.online_linear or self.data.evaluation is None:
            return None
        return OnlineLinearProbe(
            self.method.backbone, self.method.num_features, self.train_set.num_classes,
            image_size=self.recipe.backbone.image_size, total_steps=self.total_steps, lr=e.online_lr,
            weight_decay=e.online_wd, seed=self.recipe.run.seed, device=self.device,
        )  # fmt: skip

    def _online_top1(self) -> float:
        assert self.probe is not None
        with frozen(self.method):
            images, labels = self.data.evaluation[1]
            features = embed_all(lambda x: self.method(self.augment.prepare(x.to(self.device))), images)
        return self.probe.top1(features, labels.to(self.device))

    def _linear_floors_text(self) -> str:
        s = self.state
        if s.linear_init is None or s.linear_pixels is None:
            return ""
        return f"; linear probe at initialisation {s.linear_init['top1']:.2f}, raw pixels {s.linear_pixels['top1']:.2f}"

    def _results(self) -> dict[str, Any]:
        return run_results(self.recipe, self.state)

    def summary(self) -> dict[str, Any]:
        device = torch.cuda.get_device_name() if self.device.type == "cuda" else "cpu"
        return run_summary(self.recipe, self.state, self.method, device, self.speed.describe())
